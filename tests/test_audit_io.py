"""Reading images for an audit: inside --root, once, regular files only, within a budget.

Every test here failed (or hung) on the code before audit/_io.py: a path swapped for a
symbolic link after the root check was read, the HTML report re-opened the files, a
FIFO blocked forever, a link loop and a dead worker were tracebacks, and a small
PNG declaring 13000 x 13000 pixels was decoded in full.
"""

from __future__ import annotations

import base64
import io
import os
import re
import struct
import tracemalloc
import zlib

import joblib
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from scipy.ndimage import gaussian_filter

import pitfalls.audit._audit as audit_module
import pitfalls.audit._hashing as hashing
from pitfalls._manifest import ManifestError
from pitfalls.audit import (
    audit,
    hash_images,
    load_image,
    perceptual_hash,
    pixel_hash,
    resolve_image_paths,
    thumbnail_png,
)
from pitfalls.audit._io import DEFAULT_MAX_PIXELS, ImageReadError, open_image_file, read_image
from pitfalls.cli import main


def texture(seed, size=96):
    rng = np.random.default_rng(seed)
    field = gaussian_filter(rng.normal(size=(size, size)), sigma=size / 16)
    return (30 + 190 * (field - field.min()) / np.ptp(field)).astype(np.uint8)


@pytest.fixture
def images(tmp_path):
    """root/ with 6 images of 6 patients (3 train, 3 test) and outside/secret.png."""
    root = tmp_path / "root"
    root.mkdir()
    rows = []
    for i in range(6):
        Image.fromarray(texture(i)).save(root / f"p{i}.png")
        rows.append(
            {"patient": f"p{i}", "split": "train" if i < 3 else "test", "path": f"p{i}.png"}
        )
    outside = tmp_path / "outside"
    outside.mkdir()
    Image.fromarray(texture(99)).save(outside / "secret.png")
    return root, outside / "secret.png", pd.DataFrame(rows)


def one_line_exit_2(capsys, argv):
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# --- nothing read outside root --------------------------------------------------------


def test_file_swapped_for_a_link_after_the_check_is_refused(images):
    root, secret, _ = images
    resolved = resolve_image_paths(["p0.png"], root=root, column="path", rows=[0])
    (root / "p0.png").unlink()
    (root / "p0.png").symlink_to(secret)  # swapped between the check and the open
    with pytest.raises(ManifestError, match=r"row 0: cannot read image .*p0.png' \(is a symbolic"):
        hash_images(resolved, column="path", root=root)
    with pytest.raises(ImageReadError, match="symbolic link"):
        open_image_file(resolved[0], root=root)


def test_directory_swapped_for_a_link_after_the_check_is_refused(images, tmp_path):
    root, secret, _ = images
    (root / "sub").mkdir()
    Image.fromarray(texture(5)).save(root / "sub" / "a.png")
    resolved = resolve_image_paths(["sub/a.png"], root=root, column="path", rows=[0])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.png").write_bytes(secret.read_bytes())
    (root / "sub" / "a.png").unlink()
    (root / "sub").rmdir()
    (root / "sub").symlink_to(elsewhere)  # the last component is a plain file: only the
    with pytest.raises(ImageReadError, match=r"opened as '.*elsewhere/a.png', outside root"):
        open_image_file(resolved[0], root=root)  # descriptor's real path shows the escape


def test_audit_never_reads_a_file_swapped_in_after_the_root_check(images, monkeypatch):
    root, secret, df = images
    real_resolve = audit_module.resolve_image_paths

    def resolve_then_swap(*args, **kwargs):
        resolved = real_resolve(*args, **kwargs)
        (root / "p4.png").unlink()
        (root / "p4.png").symlink_to(secret)
        return resolved

    monkeypatch.setattr(audit_module, "resolve_image_paths", resolve_then_swap)
    with pytest.raises(ManifestError, match=r"row 4: cannot read image .*p4.png' \(is a symbolic"):
        audit(df, group="patient", split="split", image="path", root=root)


def decoded_pngs(page):
    return [
        np.asarray(Image.open(io.BytesIO(base64.b64decode(b))))
        for b in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    ]


def test_html_report_shows_what_was_read_and_never_reopens_files(images):
    root, secret, df = images
    Image.fromarray(texture(1)).save(root / "copy.png")
    df = pd.concat([df, pd.DataFrame([{"patient": "p9", "split": "test", "path": "copy.png"}])])
    df = df.reset_index(drop=True)
    report = audit(df, group="patient", split="split", image="path", root=root)
    assert "PF102" in report.findings["code"].tolist()
    hashes = hash_images([root / "p1.png"], root=root)
    for name in ("p1.png", "copy.png"):  # after the audit, both become links to a secret
        (root / name).unlink()
        (root / name).symlink_to(secret)
    tiles = [t for t in decoded_pngs(report.to_html()) if t.shape == (64, 64)]
    assert len(tiles) == 2
    for tile in tiles:
        np.testing.assert_array_equal(tile, hashes.thumbnail[0])
    assert not any(np.array_equal(t, hash_images([secret]).thumbnail[0]) for t in tiles)


def test_thumbnail_png_round_trips():
    tile = texture(3, size=64)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(thumbnail_png(tile)))), tile)


# --- never a hang, never a traceback ----------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("with_root", [True, False])
def test_fifo_in_the_image_column_is_refused_not_waited_on(images, with_root):
    root, _, df = images
    os.mkfifo(root / "pipe.png")
    df.loc[2, "path"] = "pipe.png"
    if not with_root:  # paths as they are: make them absolute
        df["path"] = [str(root / p) for p in df["path"]]
    with pytest.raises(
        ManifestError,
        match=r"row 2: cannot read image .*pipe.png' \(is not a regular file \(a FIFO\)",
    ):
        audit(df, group="patient", split="split", image="path", root=root if with_root else None)


@pytest.mark.timeout(60)
def test_cli_fifo_and_link_loop_exit_2_with_one_line(images, tmp_path, capsys):
    root, _, df = images
    os.mkfifo(root / "pipe.png")
    (root / "loop_a").symlink_to(root / "loop_b")
    (root / "loop_b").symlink_to(root / "loop_a")
    for bad, reason in (("pipe.png", "a FIFO"), ("loop_a", "symbolic-link loop")):
        manifest = tmp_path / "m.csv"
        df.assign(path=df["path"].where(df.index != 1, bad)).to_csv(manifest, index=False)
        base = ["audit", str(manifest), "--group", "patient", "--split", "split", "--image", "path"]
        err = one_line_exit_2(capsys, [*base, "--root", str(root)])
        assert reason in err and "row 1" in err
        # Without --root, paths are relative to the manifest: root/ is one level down.
        df.assign(path="root/" + df["path"].where(df.index != 1, bad)).to_csv(manifest, index=False)
        err = one_line_exit_2(capsys, base)
        assert reason in err and "row 1" in err


def test_a_killed_worker_process_is_one_manifest_error():
    # os._exit(1) in a loky worker is what the kernel's OOM killer does to it.
    with (
        joblib.parallel_config(backend="loky"),
        pytest.raises(ManifestError, match=r"a worker failed \(TerminatedWorkerError.*memory"),
    ):
        hashing._run_chunks(os._exit, [1, 1], (), 2, None)


def test_a_failing_worker_reaches_the_cli_as_one_line(images, tmp_path, capsys, monkeypatch):
    root, _, df = images
    manifest = tmp_path / "m.csv"
    df.to_csv(manifest, index=False)

    def dies(paths, root, max_pixels):
        raise RuntimeError("A worker process managed by the executor was unexpectedly terminated")

    monkeypatch.setattr(hashing, "_hash_chunk", dies)
    argv = ["audit", str(manifest), "--group", "patient", "--split", "split", "--image", "path"]
    err = one_line_exit_2(capsys, [*argv, "--root", str(root)])
    assert "image hashing stopped: a worker failed (RuntimeError" in err
    assert "--n-jobs" in err and "--max-pixels" in err


def test_out_of_memory_on_one_image_names_it_and_the_flags(images, monkeypatch):
    root, _, df = images

    def out_of_memory(pixels):
        raise MemoryError

    monkeypatch.setattr(hashing, "_work_of", out_of_memory)
    with pytest.raises(
        ManifestError,
        match=r"row 0: cannot read image '.*p0.png' \(ran out of memory decoding it; use "
        r"fewer workers \(n_jobs, --n-jobs\) or a lower max_pixels \(--max-pixels\)\)",
    ):
        audit(df, group="patient", split="split", image="path", root=root)


# --- memory -----------------------------------------------------------------------------


def png_declaring(width, height):
    """A PNG whose header declares width x height grey pixels, with almost no data."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def test_image_over_max_pixels_is_refused_from_its_header(images, tmp_path, capsys):
    root, _, df = images
    (root / "huge.png").write_bytes(png_declaring(13000, 13000))
    df.loc[0, "path"] = "huge.png"
    with pytest.raises(
        ManifestError,
        match=r"row 0: cannot read image '.*huge.png' \(has 13000 x 13000 = 169,000,000 pixels, "
        r"over max_pixels=80,000,000; raise max_pixels \(--max-pixels\) to audit it\)",
    ):
        audit(df, group="patient", split="split", image="path", root=root)
    manifest = tmp_path / "m.csv"
    df.to_csv(manifest, index=False)
    base = ["audit", str(manifest), "--group", "patient", "--split", "split", "--image", "path"]
    err = one_line_exit_2(capsys, [*base, "--root", str(root), "--max-pixels", "1000"])
    assert "over max_pixels=1,000" in err


def test_max_pixels_counts_npy_voxels_before_reading(tmp_path):
    path = tmp_path / "volume.npy"
    with open(path, "wb") as f:  # a header for 300 x 512 x 512 and no data at all
        np.lib.format.write_array_header_1_0(
            f, {"descr": "<i2", "fortran_order": False, "shape": (300, 512, 512)}
        )
    with pytest.raises(ImageReadError, match=r"300 x 512 x 512 = 78,643,200 pixels, over max_p"):
        read_image(path, max_pixels=1_000_000)
    np.save(tmp_path / "small.npy", np.zeros((3, 4, 5), np.int16))
    assert read_image(tmp_path / "small.npy", max_pixels=60).shape == (3, 4, 5)


def test_large_image_is_hashed_without_full_size_float_copies(tmp_path):
    rng = np.random.default_rng(0)
    pixels = np.kron(rng.integers(0, 256, (50, 50, 3)), np.ones((40, 40, 1))).astype(np.uint8)
    path = tmp_path / "big.png"
    Image.fromarray(pixels).save(path)  # 2000 x 2000 RGB: 12 MB decoded
    tracemalloc.start()
    hash_images([path], n_jobs=1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # numpy and Python allocations only (Pillow's decoded buffer is not traced): the
    # 4 MB grey image (twice, for a moment, as Pillow joins its bytes), then a 2 MB
    # float32 2000 x 256 intermediate and blocks of 1 MiB; the old path made a 12 MB
    # uint8 copy, 16 MB float32 and 32 MB float64 images (over 60 MB).
    assert peak < 10_000_000, peak


@pytest.mark.parametrize("max_pixels", [0, -5, 2.5, "big", True])
def test_bad_max_pixels_is_refused(max_pixels):
    with pytest.raises(ValueError, match=rf"max_pixels={max_pixels!r} must be a positive number"):
        hash_images([], max_pixels=max_pixels)


def test_cli_max_pixels_default_is_the_api_default():
    from pitfalls.cli import build_parser

    action = next(
        a
        for a in build_parser()._subparsers._group_actions[0].choices["audit"]._actions
        if a.dest == "max_pixels"
    )
    assert f"(default: {DEFAULT_MAX_PIXELS})" in action.help


# --- exact stays exact ------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    mode=st.sampled_from(["L", "LA", "RGB", "RGBA"]),
    height=st.integers(1, 40),
    width=st.integers(1, 40),
    strip_bytes=st.sampled_from([1, 7, 64, 1 << 22]),
)
def test_strip_hash_of_a_pillow_image_is_the_pixel_hash(mode, height, width, strip_bytes):
    rng = np.random.default_rng(height * 41 + width)
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}[mode]
    array = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    image = Image.fromarray(array[..., 0] if channels == 1 else array, mode=mode)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hashing, "_STRIP_BYTES", strip_bytes)
        assert hashing._pillow_pixel_hash(image) == pixel_hash(np.asarray(image))


def test_same_pixels_in_another_encoding_are_exact_duplicates(images):
    root, _, df = images
    Image.fromarray(texture(2)).save(root / "p2.jpg", quality=80)
    Image.fromarray(load_image(root / "p2.jpg")).save(root / "p2_from_jpeg.png")
    df.loc[2, "path"] = "p2.jpg"  # train
    extra = {"patient": "other", "split": "test", "path": "p2_from_jpeg.png"}
    df = pd.concat([df, pd.DataFrame([extra])], ignore_index=True)
    report = audit(df, group="patient", split="split", image="path", root=root)
    pf102 = report.findings.set_index("code").loc["PF102"]
    assert pf102["n_affected"] == 2


def test_exact_duplicates_need_every_pixel_at_full_size(tmp_path):
    # A colour JPEG as the benchmark writes them, its pixels re-encoded as PNG, and
    # that PNG with one pixel one grey level off: the first two are exact copies,
    # the third is not (no reduced decode may hide it), and all three look alike.
    rng = np.random.default_rng(3)
    coarse = rng.normal(128, 40, (6, 6, 3)).clip(0, 255).astype(np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((224, 224), Image.BICUBIC))
    noisy = np.clip(smooth + rng.normal(0, 8, smooth.shape), 0, 255).astype(np.uint8)
    Image.fromarray(noisy).save(tmp_path / "a.jpg", quality=90)
    pixels = load_image(tmp_path / "a.jpg")
    Image.fromarray(pixels).save(tmp_path / "b.png")
    changed = pixels.copy()
    changed[100, 150, 1] ^= 1
    Image.fromarray(changed).save(tmp_path / "c.png")
    hashes = hash_images([tmp_path / n for n in ("a.jpg", "b.png", "c.png")], root=tmp_path)
    assert hashes.exact[0] == hashes.exact[1] == pixel_hash(pixels)
    assert hashes.exact[2] != hashes.exact[0]
    assert len(set(hashes.perceptual.tolist())) == 1


def test_large_image_hashes_match_its_copies_and_flips(tmp_path):
    rng = np.random.default_rng(4)
    field = gaussian_filter(rng.normal(size=(900, 1200)), 25)
    big = (20 + 200 * (field - field.min()) / np.ptp(field)).astype(np.uint8)
    small = np.asarray(Image.fromarray(big).resize((300, 225), Image.LANCZOS))
    h_big, h_small, h_flip = (perceptual_hash(x)[0] for x in (big, small, np.fliplr(big)))
    assert int(h_big ^ h_small).bit_count() <= 4  # Hamming distance (numpy < 2 too)
    flipped_as_stored = hashing._signature(big)[0][1]
    assert int(h_flip ^ flipped_as_stored).bit_count() <= 2


# --- workers ------------------------------------------------------------------------------


def test_default_workers_grow_with_the_images_and_never_pass_the_cpus():
    cpus = joblib.cpu_count()
    assert hashing._n_workers(None, 10) == 1  # one chunk: the calling thread
    assert hashing._n_workers(None, 10 * hashing._CHUNK) == min(10, cpus)
    assert hashing._n_workers(None, 10**6) == cpus
    assert hashing._n_workers(10**4, 10**6) == cpus  # --n-jobs is capped at the CPUs
    assert hashing._n_workers(-1, 10**6) == cpus
    assert hashing._n_workers(-(cpus + 5), 10**6) == 1
    assert hashing._n_workers(8, 2 * hashing._CHUNK) == min(2, cpus)  # not more than chunks
    for bad in (0, 1.5, "2", True):
        with pytest.raises(ValueError, match=rf"n_jobs={bad!r} must be a non-zero integer"):
            hashing._n_workers(bad, 100)


def test_api_and_cli_share_one_default_worker_count():
    import inspect

    from pitfalls.cli import build_parser

    args = build_parser().parse_args(["audit", "m.csv", "--group", "g", "--split", "s"])
    assert args.n_jobs is None
    assert inspect.signature(audit).parameters["n_jobs"].default is None
    assert inspect.signature(hash_images).parameters["n_jobs"].default is None


def test_plan_picks_one_worker_threads_or_processes_from_the_pace():
    plan = hashing._plan
    start, trial = hashing._PROCESS_START_SECONDS, hashing._THREADS_MIN_SAVING_SECONDS
    assert plan(0.001, 1000, 2) == (1, "threads")  # 1 s of work: one worker
    assert plan(0.001, 2 * 4 * start / 0.001, 2) == (2, "processes")  # saves 4 x start-up
    # Threads are tried where half the ideal saving exceeds the trial's threshold.
    assert plan(0.001, 2 * 2 * trial / 0.001 * 1.01, 2) == (2, "threads")
    assert plan(0.001, 2 * 2 * trial / 0.001 * 0.99, 2) == (1, "threads")
    assert plan(0.02, 100, 8) == (8, "threads")  # large images, too few for processes
    assert plan(1.0, 10**6, 1) == (1, "threads")  # one CPU


def test_threads_go_on_only_when_they_beat_one_worker():
    assert hashing._threads_pay(1.0, 0.5)
    assert not hashing._threads_pay(1.0, 0.95)  # under 10% faster: not worth it
    assert not hashing._threads_pay(1.0, 1.5)


def recording_runs(monkeypatch):
    """Record (workers, prefer) of every joblib run of hash_images."""
    runs = []
    real_run = hashing._run_chunks

    def recording(func, chunks, args, workers, bar, prefer="threads", parallel=None):
        runs.append((workers, prefer, len(chunks)))
        return real_run(func, chunks, args, workers, bar, prefer, parallel)

    monkeypatch.setattr(hashing, "_run_chunks", recording)
    return runs


def test_threads_processes_and_serial_give_identical_hashes(images, monkeypatch):
    root, _, df = images
    paths = [root / p for p in df["path"]] * 12  # 72 images: 3 chunks
    runs = recording_runs(monkeypatch)
    serial = hash_images(paths, n_jobs=1)
    default = hash_images(paths)  # 72 small images: the calling thread is fastest
    monkeypatch.setattr(hashing, "_THREADS_MIN_SAVING_SECONDS", 0.0)  # as if large
    threads = hash_images(paths, n_jobs=2)
    monkeypatch.setattr(hashing, "_PROCESS_START_SECONDS", 0.0)  # as if 10,000 images
    processes = hash_images(paths, n_jobs=2)
    cpus = min(2, joblib.cpu_count())
    if cpus == 1:
        assert runs == [(1, "threads", 2)] * 4
    else:  # threads: the 2 chunks after the first are the threads' warm-up, none is left
        assert runs == [(1, "threads", 2)] * 2 + [(2, "threads", 2), (2, "processes", 2)]
    for other in (default, threads, processes):
        assert list(other.exact) == list(serial.exact)
        np.testing.assert_array_equal(other.detail_orientations, serial.detail_orientations)
        np.testing.assert_array_equal(other.thumbnail, serial.thumbnail)


@pytest.mark.skipif(joblib.cpu_count() < 2, reason="threads need 2 CPUs")
@pytest.mark.parametrize("threads_pay", [False, True])
def test_the_threads_trial_decides_where_the_rest_is_hashed(images, monkeypatch, threads_pay):
    root, _, df = images
    paths = [root / p for p in df["path"]] * 64  # 384 images: 12 chunks
    serial = hash_images(paths, n_jobs=1)
    monkeypatch.setattr(hashing, "_THREADS_MIN_SAVING_SECONDS", 0.0)
    paces = []

    def judged(here, threads):
        paces.append((here, threads))
        return threads_pay

    monkeypatch.setattr(hashing, "_threads_pay", judged)
    runs = recording_runs(monkeypatch)
    here = []
    real_here = hashing._hash_here
    monkeypatch.setattr(
        hashing, "_hash_here", lambda chunks, *a: here.append(len(chunks)) or real_here(chunks, *a)
    )
    tried = hash_images(paths, n_jobs=2)
    # First chunk timed here, one more here (warm pace), one per worker on threads to
    # warm them up, two per worker timed, then the 4 left: on the threads where they
    # were judged faster, else here.
    trial = [(2, "threads", 2), (2, "threads", 4)]
    if threads_pay:
        assert here == [1, 1] and runs == [*trial, (2, "threads", 4)]
    else:
        assert here == [1, 1, 4] and runs == trial
    assert len(paces) == 1
    assert all(pace > 0 for pace in paces[0])
    assert list(tried.exact) == list(serial.exact)
    np.testing.assert_array_equal(tried.thumbnail, serial.thumbnail)


@pytest.mark.slow
def test_hash_images_and_audit_run_on_a_dask_cluster(images):
    distributed = pytest.importorskip("distributed")
    root, _, df = images
    Image.fromarray(texture(1)).save(root / "copy.png")
    df = pd.concat([df, pd.DataFrame([{"patient": "p9", "split": "test", "path": "copy.png"}])])
    df = df.reset_index(drop=True)
    paths = [root / p for p in df["path"]] * 24  # 168 images: the first chunk is timed
    local = hash_images(paths, n_jobs=1)  # here, the 5 others go to the cluster
    local_report = audit(df, group="patient", split="split", image="path", root=root)
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        joblib.parallel_config(backend="dask"),
        distributed.get_task_stream(client) as tasks,
    ):
        on_dask = hash_images(paths, root=root)
        report = audit(df, group="patient", split="split", image="path", root=root)
    assert len(tasks.data) >= 1  # the chunks after the first ran as cluster tasks
    assert list(on_dask.exact) == list(local.exact)
    np.testing.assert_array_equal(on_dask.perceptual_orientations, local.perceptual_orientations)
    pd.testing.assert_frame_equal(report.findings, local_report.findings)


def test_html_shows_duplicate_volumes_and_masks(tmp_path):
    # The report used to decode the files again and crashed on 3-D arrays and masks.
    rng = np.random.default_rng(8)
    volume = gaussian_filter(rng.normal(size=(12, 48, 48)), 3)
    mask = gaussian_filter(rng.normal(size=(64, 64)), 6) > 0
    np.save(tmp_path / "v_train.npy", volume)
    np.save(tmp_path / "v_test.npy", volume)
    np.save(tmp_path / "m_train.npy", mask)
    Image.fromarray(mask).save(tmp_path / "m_test.png")  # a 1-bit PNG of the same mask
    df = pd.DataFrame(
        {
            "patient": ["a", "b", "c", "d"],
            "split": ["train", "test", "train", "test"],
            "path": ["v_train.npy", "v_test.npy", "m_train.npy", "m_test.png"],
        }
    )
    report = audit(df, group="patient", split="split", image="path", root=tmp_path)
    records = report.to_frame("PF102")
    # The mask as a bool array and as a 1-bit PNG (Pillow stores True as 255) are
    # identical pixels: they hashed apart before.
    assert sorted(records.groupby("item")["path"].apply(lambda p: tuple(sorted(
        str(x).rsplit("/", 1)[-1] for x in p))).tolist()) == [
        ("m_test.png", "m_train.npy"), ("v_test.npy", "v_train.npy")]  # fmt: skip
    tiles = [t for t in decoded_pngs(report.to_html()) if t.shape == (64, 64)]
    assert len(tiles) == 4 and all(t.std() > 0 for t in tiles)
    np.testing.assert_array_equal(tiles[0], tiles[1])
    np.testing.assert_array_equal(tiles[2], tiles[3])
