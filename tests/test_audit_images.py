"""pitfalls.audit on images: exact and near duplicates, blank images, paths, HTML report."""

from __future__ import annotations

import base64
import html.parser
import re

import joblib
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from scipy.ndimage import gaussian_filter

from pitfalls._compat import bitwise_count  # np.bitwise_count from numpy 2.0 on
from pitfalls._manifest import ManifestError
from pitfalls.audit import (
    audit,
    detail_hash,
    hamming_pairs,
    hash_images,
    load_image,
    perceptual_hash,
    pixel_hash,
)

SIZE = 96


def smooth_image(seed, size=SIZE):
    """A smooth random field: distinct seeds give unrelated images (~32 bits apart)."""
    rng = np.random.default_rng(seed)
    field = gaussian_filter(rng.normal(size=(size, size)), sigma=size / 16)
    field = (field - field.min()) / np.ptp(field)
    return (30 + 190 * field).astype(np.uint8)


def hamming(a, b):
    return int(bitwise_count(perceptual_hash(a)[0] ^ perceptual_hash(b)[0]))


def jpeg_roundtrip(pixels, tmp_path, quality=70):
    path = tmp_path / f"rt{quality}.jpg"
    Image.fromarray(pixels).save(path, quality=quality)
    return load_image(path)


@pytest.fixture
def image_manifest(tmp_path):
    """12 unrelated images of 12 patients: 8 train, 4 test; returns (dir, DataFrame)."""
    root = tmp_path / "images"
    root.mkdir()
    rows = []
    for i in range(12):
        name = f"p{i}.png"
        Image.fromarray(smooth_image(i)).save(root / name)
        rows.append({"patient": f"p{i}", "split": "train" if i < 8 else "test", "path": name})
    return root, pd.DataFrame(rows)


def add_row(df, root, pixels, name, patient, split, **save_kwargs):
    Image.fromarray(pixels).save(root / name, **save_kwargs)
    row = {"patient": patient, "split": split, "path": name}
    return pd.concat([df, pd.DataFrame([row])], ignore_index=True)


def codes(report):
    return report.findings["code"].tolist()


def test_clean_images_pass(image_manifest):
    root, df = image_manifest
    report = audit(df, group="patient", split="split", image="path", root=root)
    assert report.passed
    assert not {"PF102", "PF104", "PF105", "PF108"} & set(codes(report))
    assert {"PF102", "PF104", "PF105", "PF108"} <= set(report.checks_run)


def test_resaved_png_is_an_exact_duplicate_across_splits(image_manifest):
    root, df = image_manifest
    # Same pixels, other compression level and another patient id: only the pixel
    # hash can see it.
    df = add_row(df, root, smooth_image(0), "copy.png", "q1", "test", compress_level=0)
    assert (root / "copy.png").read_bytes() != (root / "p0.png").read_bytes()
    report = audit(df, group="patient", split="split", image="path", root=root)
    row = report.findings[report.findings.code == "PF102"].iloc[0]
    assert row.severity == "high" and row.n_affected == 2
    assert row.examples == ["rows 0 (train), 12 (test)"]
    assert "sets spanning different patients, which the group check cannot see: 1." in row.detail
    assert "PF104" not in codes(report)  # identical pixels are not double-reported
    assert "PF101" not in codes(report)


@pytest.mark.parametrize(
    "transform",
    ["jpeg", "brightness", "contrast", "noise", "shift"],
)
def test_near_duplicate_copies_are_found(image_manifest, tmp_path, transform):
    root, df = image_manifest
    original = smooth_image(1).astype(float)
    rng = np.random.default_rng(0)
    if transform == "jpeg":
        copy = jpeg_roundtrip(original.astype(np.uint8), tmp_path)
    elif transform == "brightness":
        copy = np.clip(original + 25, 0, 255)
    elif transform == "contrast":
        copy = np.clip((original - 128) * 1.25 + 128, 0, 255)
    elif transform == "noise":
        copy = np.clip(original + rng.normal(0, 4, original.shape), 0, 255)
    else:  # shift by 1 pixel (~1% of the width), edge replicated
        copy = np.pad(original, ((1, 0), (1, 0)), mode="edge")[:-1, :-1]
    df = add_row(df, root, np.asarray(copy, dtype=np.uint8), "copy.png", "q1", "test")
    report = audit(df, group="patient", split="split", image="path", root=root)
    row = report.findings[report.findings.code == "PF104"].iloc[0]
    assert row.n_affected == 2
    match = re.fullmatch(
        r"rows 1 \(train\) and 12 \(test\): hash distance (\d+)/64, detail (\d+)/256, "
        r"(fine-detail|grey-level) correlation (\d\.\d\d).*",
        row.examples[0],
    )
    assert match, row.examples[0]
    copy = np.asarray(copy, dtype=np.uint8)
    coarse = hamming(smooth_image(1), copy)
    fine = int(bitwise_count(detail_hash(smooth_image(1)) ^ detail_hash(copy)).sum())
    assert (int(match[1]), int(match[2])) == (coarse, fine)
    assert coarse <= 10 and fine <= 40
    pair = report.to_frame("PF104").iloc[0]
    assert (pair.row, pair.split, pair.other_row, pair.other_split) == (1, "train", 12, "test")
    assert (pair.distance, pair.detail_distance) == (coarse, fine)
    assert pair.rule == ("fine detail" if match[3] == "fine-detail" else "grey levels")
    assert "PF102" not in codes(report)
    table = report.checklist()
    assert table.loc[table.item == 2, "status"].item() == "issue found"


@pytest.mark.parametrize(
    ("op", "note"),
    [
        (np.fliplr, "flipped left-right"),
        (np.rot90, "turned 90° anticlockwise"),
        (lambda x: np.rot90(x, -1), "turned 90° clockwise"),
        (np.flipud, "flipped up-down"),
    ],
)
def test_flipped_and_turned_copies_are_found(image_manifest, op, note):
    root, df = image_manifest
    copy = np.ascontiguousarray(op(smooth_image(3)))
    df = add_row(df, root, copy, "turned.png", "q1", "test")
    kwargs = {"group": "patient", "split": "split", "image": "path", "root": root}
    report = audit(df, **kwargs, near_orientations="all")
    row = report.findings[report.findings.code == "PF104"].iloc[0]
    assert row.examples == [
        "rows 3 (train) and 12 (test): hash distance 0/64, detail 0/256, fine-detail "
        f"correlation 1.00, other image {note}"
    ]
    assert report.to_frame("PF104").orientation.tolist() == [note]
    assert "across different patients: 1; flipped or turned: 1)" in row.detail
    # The default searches left-right flips only; "none" searches as stored.
    assert ("PF104" in codes(audit(df, **kwargs))) == (note == "flipped left-right")
    assert "PF104" not in codes(audit(df, **kwargs, near_orientations="none"))


def test_jpeg_copy_distance_and_threshold(image_manifest, tmp_path):
    root, df = image_manifest
    copy = jpeg_roundtrip(smooth_image(2), tmp_path, quality=40)
    df = add_row(df, root, copy, "copy.png", "q1", "test")
    with_zero = audit(df, group="patient", split="split", image="path", root=root, near_threshold=0)
    if hamming(smooth_image(2), copy) > 0:
        assert "PF104" not in codes(with_zero)
    off = audit(df, group="patient", split="split", image="path", root=root, near_duplicates=False)
    assert "PF104" not in codes(off)


def chest_like(seed, size=128):
    """Images of one kind: a shared layout (body, two lungs) with per-patient detail."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    img = 0.25 + 0.6 * np.exp(-(((x - 0.5) / 0.42) ** 6 + ((y - 0.55) / 0.5) ** 6))
    for cx in (0.32, 0.68):
        centre = cx + 0.03 * rng.standard_normal()
        lung = np.exp(-2 * (((x - centre) / 0.13) ** 2 + ((y - 0.5) / 0.28) ** 2))
        img -= (0.45 + 0.08 * rng.standard_normal()) * lung
    img += 0.6 * gaussian_filter(rng.normal(size=(size, size)), size / 32)
    return np.clip(img * 255, 0, 255).astype(np.uint8)


def test_detail_hash_rejects_lookalikes_the_coarse_hash_lets_through(tmp_path):
    n = 60
    images = [chest_like(seed) for seed in range(n)]
    coarse = np.array([perceptual_hash(img)[0] for img in images])
    fine = np.array([detail_hash(img) for img in images])
    upper = np.triu_indices(n, 1)
    d_coarse = bitwise_count(coarse[:, None] ^ coarse[None, :])[upper]
    d_fine = bitwise_count(fine[:, None, :] ^ fine[None, :, :]).sum(-1)[upper]
    lookalikes = d_coarse <= 10
    assert lookalikes.any()  # the coarse hash alone would report these
    assert d_fine[lookalikes].min() > 40
    # ... while a JPEG copy of one of them stays close on both hashes.
    copy = jpeg_roundtrip(images[0], tmp_path, quality=50)
    assert hamming(images[0], copy) <= 4
    assert int(bitwise_count(detail_hash(images[0]) ^ detail_hash(copy)).sum()) <= 24
    # Put the second image of each lookalike pair in the test split.
    in_test = set(upper[1][lookalikes].tolist()) - set(upper[0][lookalikes].tolist())
    assert in_test
    rows = [
        {"patient": i, "split": "test" if i in in_test else "train", "path": f"{i}.png"}
        for i in range(n)
    ]
    for i, img in enumerate(images):
        Image.fromarray(img).save(tmp_path / f"{i}.png")
    manifest = pd.DataFrame(rows)
    report = audit(manifest, group="patient", split="split", image="path", root=tmp_path)
    assert "PF104" not in codes(report)
    loose = audit(
        manifest,
        group="patient",
        split="split",
        image="path",
        root=tmp_path,
        near_detail_threshold=128,
    )
    # Without the detail hash the thumbnail verification still rejects them.
    assert "PF104" not in codes(loose)


def test_unrelated_images_are_far_apart():
    distances = [hamming(smooth_image(s), smooth_image(s + 100)) for s in range(20)]
    assert min(distances) > 12
    assert 24 <= np.median(distances) <= 40


def test_blank_images_do_not_match_each_other(image_manifest):
    root, df = image_manifest
    rng = np.random.default_rng(3)
    for i in range(6):
        split = "train" if i < 3 else "test"
        black = np.clip(rng.normal(4, 1.5, (SIZE, SIZE)), 0, 255).astype(np.uint8)
        df = add_row(df, root, black, f"black{i}.png", f"b{i}", split)
    df = add_row(df, root, np.zeros((SIZE, SIZE), np.uint8), "zero1.png", "z1", "train")
    df = add_row(df, root, np.zeros((SIZE, SIZE), np.uint8), "zero2.png", "z2", "test")
    report = audit(df, group="patient", split="split", image="path", root=root)
    assert "PF104" not in codes(report)
    row = report.findings[report.findings.code == "PF108"].iloc[0]
    assert row.severity == "info" and row.n_affected == 8
    assert "2 of them are pixel-identical" in row.detail
    # Exact is exact: the two all-zero frames in train and test are an identical pair.
    exact = report.to_frame("PF102")
    assert exact.path.map(lambda p: p.rsplit("/", 1)[-1]).tolist() == ["zero1.png", "zero2.png"]
    assert set(exact.note) == {"(nearly) blank image"}


def test_mostly_black_images_with_different_content_do_not_match(tmp_path):
    # Small textured content on a large black canvas, at different places: the
    # border is trimmed, so each is hashed on its content.
    root = tmp_path
    rows = []
    for i in range(16):
        rng = np.random.default_rng(i)
        canvas = np.zeros((160, 160), np.uint8)
        y, x = rng.integers(0, 110, 2)
        canvas[y : y + 48, x : x + 48] = smooth_image(50 + i, size=48)
        Image.fromarray(canvas).save(root / f"m{i}.png")
        rows.append({"patient": i, "split": "train" if i % 2 else "test", "path": f"m{i}.png"})
    report = audit(pd.DataFrame(rows), group="patient", split="split", image="path", root=root)
    assert not {"PF104", "PF108"} & set(codes(report))


def test_same_content_moved_on_black_canvas_matches():
    content = smooth_image(7, size=48)
    a = np.zeros((160, 160), np.uint8)
    b = np.zeros((180, 150), np.uint8)
    a[10:58, 20:68] = content
    b[100:148, 90:138] = content
    assert hamming(a, b) <= 2


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    gain=st.floats(0.6, 1.6),
    offset=st.floats(-40, 40),
)
def test_perceptual_hash_ignores_brightness_and_contrast(seed, gain, offset):
    pixels = smooth_image(seed).astype(float)
    h1, low1 = perceptual_hash(pixels)
    h2, low2 = perceptual_hash(pixels * gain + offset)
    assert not low1 and not low2
    assert int(bitwise_count(h1 ^ h2)) <= 1


def test_pixel_hash_formats(tmp_path):
    pixels = smooth_image(0)
    Image.fromarray(pixels).save(tmp_path / "a.png", compress_level=9)
    Image.fromarray(pixels).save(tmp_path / "b.tiff")
    np.save(tmp_path / "c.npy", pixels)
    hashes = {pixel_hash(load_image(tmp_path / n)) for n in ("a.png", "b.tiff", "c.npy")}
    assert hashes == {pixel_hash(pixels)}
    # A palette image is decoded to colours, 16-bit images keep their depth.
    Image.fromarray(pixels).convert("P").save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png").shape == (SIZE, SIZE, 3)
    wide = (pixels.astype(np.uint16) * 200).astype(np.uint16)
    Image.fromarray(wide).save(tmp_path / "w.png")
    assert load_image(tmp_path / "w.png").dtype.itemsize >= 2
    assert pixel_hash(pixels) != pixel_hash(pixels.astype(np.uint16))


def test_rgb_and_gray_versions_hash_alike():
    gray = smooth_image(4)
    rgb = np.stack([gray] * 3, axis=-1)
    assert pixel_hash(gray) != pixel_hash(rgb)
    assert hamming(gray, rgb) == 0


def test_progress_bar_goes_to_stderr_only_when_asked(image_manifest, capsys):
    root, df = image_manifest
    paths = [root / p for p in df.path]
    hash_images(paths, verbose=True)
    out, err = capsys.readouterr()
    assert out == "" and "hashing images" in err and "12/12" in err
    hash_images(paths)  # quiet by default
    assert capsys.readouterr().err == ""
    with pytest.warns(FutureWarning, match="'progress' was renamed 'verbose'"):
        hash_images(paths, progress=True)  # the old spelling still works
    assert "12/12" in capsys.readouterr().err


def test_parallel_hashing_matches_serial(image_manifest):
    root, df = image_manifest
    paths = [root / p for p in df.path]
    serial = hash_images(paths, n_jobs=1)
    with joblib.parallel_config(backend="threading"):
        parallel = hash_images(paths, n_jobs=2)
    assert list(serial.exact) == list(parallel.exact)
    np.testing.assert_array_equal(serial.perceptual, parallel.perceptual)


@settings(max_examples=40, deadline=None)
@given(
    a=st.lists(st.integers(0, 2**64 - 1), max_size=40),
    b=st.lists(st.integers(0, 2**64 - 1), max_size=40),
    flips=st.lists(st.integers(0, 63), max_size=6),
    threshold=st.integers(0, 24),
)
def test_hamming_pairs_matches_brute_force(a, b, flips, threshold):
    a = np.array(a, dtype=np.uint64)
    b = np.array(b, dtype=np.uint64)
    if a.size and flips:  # plant a close pair
        mask = np.bitwise_or.reduce(np.uint64(1) << np.array(flips, dtype=np.uint64))
        b = np.append(b, a[0] ^ mask)
    i, j, d = hamming_pairs(a, b, threshold)
    expected = [
        (x, y, int(bitwise_count(a[x] ^ b[y])))
        for x in range(a.size)
        for y in range(b.size)
        if bitwise_count(a[x] ^ b[y]) <= threshold
    ]
    assert list(zip(i.tolist(), j.tolist(), d.tolist(), strict=True)) == expected


@pytest.mark.parametrize("threshold", [0, 4, 8, 9, 10, 11, 12, 15, 16, 20])
def test_hamming_pairs_every_strategy_matches_dense_reference(threshold):
    # Thresholds 9-11 use chunk probing, up to 15 multi-index hashing, then a dense
    # scan: each must return exactly the pairs of the dense distance matrix.
    rng = np.random.default_rng(threshold)
    a = rng.integers(0, 2**64, 3000, dtype=np.uint64)
    b = rng.integers(0, 2**64, 400, dtype=np.uint64)
    n_flips = rng.integers(0, threshold + 3, 200)
    for k, n in enumerate(n_flips):  # plant pairs around the threshold
        bits = rng.choice(64, n, replace=False).astype(np.uint64)
        b[k] = a[k] ^ np.bitwise_or.reduce(np.uint64(1) << bits, initial=np.uint64(0))
    i, j, d = hamming_pairs(a, b, threshold)
    dense = bitwise_count(a[:, None] ^ b[None, :])
    ei, ej = np.nonzero(dense <= threshold)
    np.testing.assert_array_equal(i, ei)
    np.testing.assert_array_equal(j, ej)
    np.testing.assert_array_equal(d, dense[ei, ej])
    assert i.size >= (n_flips <= threshold).sum()


def test_hamming_pairs_rejects_bad_threshold():
    with pytest.raises(ValueError, match="threshold=65 must be between 0 and 64"):
        hamming_pairs(np.zeros(1, np.uint64), np.zeros(1, np.uint64), 65)


def test_path_outside_root_is_refused_before_reading(image_manifest, tmp_path, monkeypatch):
    root, df = image_manifest
    outside = tmp_path / "secret.png"
    Image.fromarray(smooth_image(99)).save(outside)
    (root / "link.png").symlink_to(outside)
    import pitfalls.audit._hashing as hashing

    def forbidden(path, **kwargs):
        raise AssertionError(f"read {path}")

    monkeypatch.setattr(hashing, "read_image", forbidden)
    for bad in ("../secret.png", str(outside), "link.png"):
        bad_df = df.copy()
        bad_df.loc[3, "path"] = bad
        with pytest.raises(
            ManifestError, match=r"image column 'path', row 3: .* resolves outside root"
        ):
            audit(bad_df, group="patient", split="split", image="path", root=root)


def test_unreadable_and_missing_images_name_the_row(image_manifest):
    root, df = image_manifest
    (root / "broken.png").write_bytes(b"not an image")
    bad = df.copy()
    bad.loc[5, "path"] = "broken.png"
    with pytest.raises(
        ManifestError, match=r"image column 'path', row 5: cannot read image '.*broken.png'"
    ):
        audit(bad, group="patient", split="split", image="path", root=root)
    bad.loc[5, "path"] = "absent.png"
    with pytest.raises(
        ManifestError, match=r"row 5: cannot read image '.*absent.png' \(.*No such file"
    ):
        audit(bad, group="patient", split="split", image="path", root=root)
    bad.loc[5, "path"] = None
    with pytest.raises(
        ManifestError, match=r"image column 'path' has 1 missing value\(s\) \(rows 5\)"
    ):
        audit(bad, group="patient", split="split", image="path", root=root)


def test_paths_relative_to_manifest_file(image_manifest):
    root, df = image_manifest
    df.to_csv(root / "manifest.csv", index=False)
    report = audit(root / "manifest.csv", group="patient", split="split", image="path")
    assert report.passed
    assert report.image_paths[0] == str(root / "p0.png")


class _Sections(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.images, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.append(attrs["id"])
        if tag == "img":
            self.images.append(attrs["src"])

    def handle_data(self, data):
        self.text.append(data)


def test_html_report_is_self_contained_with_sections(image_manifest, tmp_path):
    root, df = image_manifest
    df = add_row(df, root, smooth_image(0), "copy.png", "q1", "test", compress_level=1)
    copy = np.clip(smooth_image(1).astype(int) + 20, 0, 255).astype(np.uint8)
    df = add_row(df, root, copy, "bright.png", "q2", "test")
    df["y"] = ["a", "b"] * (len(df) // 2)
    df["site"] = "s1"
    out = tmp_path / "report.html"
    report = audit(
        df, group="patient", split="split", label="y", site="site", image="path", root=root
    )
    page = report.to_html(out)
    assert out.read_text(encoding="utf-8") == page
    parser = _Sections()
    parser.feed(page)
    assert {"findings", "distributions", "duplicates", "checklist"} <= set(parser.ids)
    # 3 distribution figures (classes and sites per split, classes per site) + 2 pairs
    # x 2 thumbnails, all embedded PNG.
    assert len(parser.images) == 7
    for src in parser.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    text = " ".join(parser.text)
    assert "PF102" in text and "PF104" in text and "identical decoded pixels" in text
    assert not re.search(r"(src|href)=['\"]https?://", page)  # nothing fetched from outside


def test_html_escapes_manifest_values():
    df = pd.DataFrame({"patient": ["<b>x</b>", "<b>x</b>"], "split": ["train", "<script>"]})
    page = audit(df, group="patient", split="split").to_html()
    assert "<script>" not in page and "&lt;script&gt;" in page


@settings(max_examples=30, deadline=None)
@given(height=st.integers(1, 80), width=st.integers(1, 80), size=st.sampled_from([8, 32]))
def test_area_downsample_is_exact_and_mirror_symmetric(height, width, size):
    from pitfalls.audit._hashing import _downsample

    pixels = np.random.default_rng(height * 100 + width).random((height, width))
    thumb = _downsample(pixels, size)
    # Reference: replicate every pixel size x size times, then average equal blocks.
    reference = np.kron(pixels, np.ones((size, size))).reshape(size, height, size, width)
    np.testing.assert_allclose(thumb, reference.mean(axis=(1, 3)), atol=1e-12)
    np.testing.assert_allclose(_downsample(pixels[::-1, ::-1], size), thumb[::-1, ::-1], atol=1e-12)


def _area_average_by_integral(values, size, axis):
    # An independent reference: the running integral of the pixels along the axis,
    # read at the cell edges (linear inside a pixel), differenced, over the cell width.
    n = values.shape[axis]
    running = np.moveaxis(np.cumsum(values.astype(np.float64), axis=axis), axis, 0)
    running = np.concatenate([np.zeros((1, *running.shape[1:])), running])
    edges = np.arange(size + 1) * (n / size)
    pixel = np.minimum(np.floor(edges).astype(int), n - 1)
    fraction = (edges - pixel)[:, None]
    at_edges = running[pixel] + fraction * (running[pixel + 1] - running[pixel])
    return np.moveaxis(np.diff(at_edges, axis=0) / (n / size), 0, axis)


@settings(max_examples=40, deadline=None)
@given(height=st.integers(1, 1200), width=st.integers(1, 1200))
def test_work_image_of_a_large_image_is_its_exact_area_average(height, width):
    # The sparse average, by bands of rows (1 MiB of float64: 109 rows of a
    # 1200-pixel row, so large images take several), against the integral of the
    # pixels in float64; float32 result, mirror-symmetric.
    from pitfalls.audit._hashing import _work_image

    gray = np.random.default_rng(height * 1201 + width).integers(0, 256, (height, width))
    gray = gray.astype(np.uint8)
    work = _work_image(gray)
    longest = max(height, width)
    if longest <= 256:
        assert work.dtype == np.float32 and np.array_equal(work, gray)
        return
    size = (max(1, round(height * 256 / longest)), max(1, round(width * 256 / longest)))
    reference = _area_average_by_integral(_area_average_by_integral(gray, size[1], 1), size[0], 0)
    assert work.dtype == np.float32 and work.shape == size
    np.testing.assert_allclose(work, reference, rtol=0, atol=1e-4)
    flipped = _work_image(np.ascontiguousarray(gray[::-1, ::-1]))
    np.testing.assert_allclose(flipped[::-1, ::-1], work, rtol=0, atol=1e-4)


@settings(max_examples=60, deadline=None)
@given(
    background=st.integers(0, 510).map(lambda twice: twice / 2),
    tolerance=st.floats(0.01, 300.0),
    as_float32=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_border_test_on_bytes_is_the_float32_test(background, tolerance, as_float32, seed):
    # Bytes are compared with two byte thresholds instead of their float32 copy.
    from pitfalls.audit._hashing import _differs

    gray = np.random.default_rng(seed).integers(0, 256, (2, 9, 11), dtype=np.uint8)
    limit = np.float32(tolerance) if as_float32 else tolerance
    expected = np.abs(gray.astype(np.float32) - np.float32(background)) > limit
    found = _differs(gray, np.array([background, background]), [limit, limit])
    np.testing.assert_array_equal(found.view(bool), expected)
    as_floats = _differs(gray.astype(np.float32), np.array([background] * 2), [limit] * 2)
    np.testing.assert_array_equal(as_floats.view(bool), expected)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 4), m=st.integers(1, 300), seed=st.integers(0, 1000))
def test_byte_order_statistics_by_counting_are_partitions(n, m, seed):
    from pitfalls.audit._hashing import _order_statistics

    values = np.random.default_rng(seed).integers(0, 256, (n, m), dtype=np.uint8)
    ranks = sorted({0, m // 3, m - 1})
    expected = np.partition(values, ranks, axis=1)[:, ranks]
    np.testing.assert_array_equal(_order_statistics(values, ranks), expected)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_an_image_hashes_alike_alone_and_among_others(dtype):
    # A chunk's images are trimmed and described in stacks: the company an image
    # keeps must not change its hashes.
    from pitfalls.audit import _hashing as hashing

    images = [smooth_image(seed, size=72).astype(dtype) for seed in range(5)]
    framed = np.zeros((72, 72), dtype)
    framed[20:52, 16:60] = images[0][:32, :44]  # a dark surround to trim
    images += [framed, np.full((72, 72), 7, dtype)]  # and a blank image
    works = [hashing._work_of(image) for image in images]
    together = hashing._describe_many(works)
    for i, work in enumerate(works):
        alone = hashing._describe_many([work])
        for stacked, single in zip(together, alone, strict=True):
            np.testing.assert_array_equal(stacked[i], single[0])
    assert together[2][-1] and not together[2][:-1].any()  # only the blank one is low


def test_hash_orientations_match_flipped_images():
    pixels = smooth_image(11)[:, :70]  # not square: cells cut pixels
    ops = [
        lambda a: a,
        np.fliplr,
        np.flipud,
        lambda a: a[::-1, ::-1],
        np.transpose,
        lambda a: np.fliplr(a).T,
        lambda a: np.flipud(a).T,
        lambda a: a[::-1, ::-1].T,
    ]
    from pitfalls.audit._hashing import _signature

    coarse, fine, _ = _signature(pixels)
    for k, op in enumerate(ops):
        assert perceptual_hash(np.ascontiguousarray(op(pixels)))[0] == coarse[k]
        np.testing.assert_array_equal(detail_hash(np.ascontiguousarray(op(pixels))), fine[k])


def test_same_image_filed_under_two_labels(image_manifest):
    root, df = image_manifest
    df["y"] = ["a", "b"] * 6
    Image.fromarray(smooth_image(4)).save(root / "again.png", compress_level=0)
    df.loc[len(df)] = {"patient": "p4", "split": "train", "path": "again.png", "y": "b"}
    report = audit(df, group="patient", split="split", label="y", image="path", root=root)
    row = report.findings[report.findings.code == "PF107"].iloc[0]
    assert row.n_affected == 2
    assert row.examples == ["same image: row 4 = 'a', row 12 = 'b'"]
    assert report.findings[report.findings.code == "PF105"].n_affected.item() == 2


def test_copies_of_synthetic_xrays_are_found_and_originals_mostly_not(tmp_path):
    # Content reaching the frame (arms, shoulders) must not make the border trim,
    # and so the hash, flip between a copy and its original.
    from pitfalls.datasets import make_batch_xray

    images, _ = make_batch_xray(20, 20, 0, image_size=128, random_state=0)
    rng = np.random.default_rng(0)
    rows = []
    for i, img in enumerate(images):
        Image.fromarray(img).save(tmp_path / f"{i}.png")
        rows.append({"patient": f"p{i}", "split": "train", "path": f"{i}.png"})
    for k in range(0, 40, 4):  # ten noisy or JPEG copies in the test split
        copy = np.clip(images[k] + rng.normal(0, 4, images[k].shape), 0, 255).astype(np.uint8)
        name = f"copy{k}.jpg" if k % 8 else f"copy{k}.png"
        Image.fromarray(copy).save(tmp_path / name, quality=60)
        rows.append({"patient": f"p{k}", "split": "test", "path": name})
    df = pd.DataFrame(rows)
    report = audit(df, group="patient", split="split", image="path", root=tmp_path)
    # Every copy is paired with its original; look-alike originals add few pairs.
    pairs = json_pairs(report)
    planted = {(str(k), str(40 + k // 4)) for k in range(0, 40, 4)}
    assert planted <= pairs
    assert len(pairs - planted) <= 5  # 2 at the time of writing


def json_pairs(report):
    import json

    doc = json.loads(report.to_json())
    [near] = [f for f in doc["findings"] if f["code"] == "PF104"]
    return {(str(r["row"]), str(r["other_row"])) for r in near["affected"]}


def xray_manifest(tmp_path, images, splits):
    rows = []
    for k, (img, split) in enumerate(zip(images, splits, strict=True)):
        Image.fromarray(img).save(tmp_path / f"x{k}.png")
        rows.append({"patient": f"p{k}", "split": split, "path": f"x{k}.png"})
    return pd.DataFrame(rows)


def hash_only_pairs(images, splits, coarse=10, fine=40):
    """Cross-split pairs the two hashes alone accept (the audit before verification)."""
    from pitfalls.audit._hashing import _signature

    sig = [_signature(img) for img in images]
    c = np.array([s[0][0] for s in sig])
    f = np.array([s[1][0] for s in sig])
    train = np.flatnonzero(np.asarray(splits) == "train")
    test = np.flatnonzero(np.asarray(splits) == "test")
    dc = bitwise_count(c[train][:, None] ^ c[test][None, :])
    df = bitwise_count(f[train][:, None, :] ^ f[test][None, :, :]).sum(-1)
    return int(((dc <= coarse) & (df <= fine)).sum())


def test_lookalike_xrays_of_different_patients_are_not_reported(tmp_path):
    # All chest X-rays look alike at 32x32: the hashes alone pair unrelated ones.
    from pitfalls.datasets import make_batch_xray

    images, _ = make_batch_xray(10, 90, 0, image_size=128, random_state=0)
    splits = ["train"] * 50 + ["test"] * 50
    before = hash_only_pairs(images, splits)
    assert before >= 10
    df = xray_manifest(tmp_path, images, splits)
    report = audit(df, group="patient", split="split", image="path", root=tmp_path)
    reported = json_pairs(report) if "PF104" in codes(report) else set()
    # Renderings of one template that differ only by their noise can still pass:
    # the verification cuts the false pairs about six-fold, not to zero.
    assert len(reported) <= before / 4


def _transform(name, img, rng):
    x = img.astype(float)
    if name == "brightness":
        out = x + 20
    elif name == "contrast":
        out = (x - x.mean()) * 1.3 + x.mean()
    elif name == "noise":
        out = x + rng.normal(0, 4, x.shape)
    elif name == "shift":  # 1 px (~1%), edge replicated
        out = np.pad(x, ((1, 0), (0, 1)), mode="edge")[:-1, 1:]
    elif name == "resize":
        out = np.asarray(Image.fromarray(img).resize((96, 96), Image.BILINEAR), float)
    elif name == "flip":
        out = x[:, ::-1]
    else:
        raise AssertionError(name)
    return np.ascontiguousarray(np.clip(out, 0, 255).astype(np.uint8))


@pytest.mark.parametrize(
    "transform", ["brightness", "contrast", "noise", "shift", "resize", "flip"]
)
def test_planted_copies_among_lookalike_xrays_are_found(tmp_path, transform):
    from pitfalls.datasets import make_batch_xray

    images, _ = make_batch_xray(10, 50, 0, image_size=128, random_state=1)
    rng = np.random.default_rng(0)
    planted = list(range(0, 40, 5))
    copies = [_transform(transform, images[k], rng) for k in planted]
    df = xray_manifest(tmp_path, list(images[:40]), ["train"] * 40)
    for n, copy in enumerate(copies):
        name = f"c{n}.jpg" if n % 2 else f"c{n}.png"
        Image.fromarray(copy).save(tmp_path / name, quality=75)
        df.loc[len(df)] = {"patient": f"q{n}", "split": "test", "path": name}
    for k in range(40, 60):  # unrelated look-alikes in the test split too
        Image.fromarray(images[k]).save(tmp_path / f"x{k}.png")
        df.loc[len(df)] = {"patient": f"p{k}", "split": "test", "path": f"x{k}.png"}
    report = audit(df, group="patient", split="split", image="path", root=tmp_path)
    pairs = json_pairs(report)
    expected = {(str(k), str(40 + n)) for n, k in enumerate(planted)}
    assert expected <= pairs
    # The few other pairs are look-alike originals (rows 48-59), never a copy.
    assert all(int(b) >= 48 for _, b in pairs - expected)
    assert len(pairs - expected) <= 6


@pytest.mark.parametrize("quality", [50, 90])
def test_jpeg_copies_of_tissue_patches_are_found_and_sibling_patches_not(tmp_path, quality):
    # Patches of one slide share the patient's stain and texture but are different
    # images: only the re-encoded copies are near duplicates.
    from pitfalls.datasets import make_patch_cohort

    images, meta = make_patch_cohort(6, 8, 64, random_state=0)
    rows = []
    for k, img in enumerate(images):
        Image.fromarray(img).save(tmp_path / f"t{k}.png")
        split = "train" if k % 8 < 6 else "test"
        rows.append({"patient": meta.patient_id[k], "split": split, "path": f"t{k}.png"})
    for n, k in enumerate(range(0, 48, 8)):
        Image.fromarray(images[k]).save(tmp_path / f"j{n}.jpg", quality=quality)
        rows.append({"patient": f"q{n}", "split": "test", "path": f"j{n}.jpg"})
    report = audit(pd.DataFrame(rows), group="patient", split="split", image="path", root=tmp_path)
    expected = {(str(k), str(48 + n)) for n, k in enumerate(range(0, 48, 8))}
    assert json_pairs(report) == expected


def test_thumbnail_correlation_aligns_subpixel_shifts_and_rejects_other_images():
    from pitfalls.audit._search import thumbnail_correlation

    rng = np.random.default_rng(0)
    base = np.stack([smooth_image(s, size=128) for s in range(4)]).astype(float)
    base += rng.normal(0, 6, base.shape)  # image-specific fine detail
    # Area-averaged 64 px thumbnails of a 1-px shift at 128 px: a half-pixel shift.
    thumbs = base.reshape(4, 64, 2, 64, 2).mean(axis=(2, 4))
    moved = np.roll(base, 1, axis=2).reshape(4, 64, 2, 64, 2).mean(axis=(2, 4))
    _, same = thumbnail_correlation(thumbs, moved)
    _, other = thumbnail_correlation(thumbs, moved[::-1])
    # Half a pixel of block-averaged noise cannot be undone exactly: about 0.65.
    assert same.min() > 0.5
    assert np.abs(other).max() < 0.3
    with pytest.raises(ValueError, match="max_shift=40"):
        thumbnail_correlation(thumbs, moved, max_shift=40)


def test_near_min_correlation_reaches_the_check(image_manifest):
    root, df = image_manifest
    copy = np.clip(smooth_image(1).astype(float) + 25, 0, 255).astype(np.uint8)
    df = add_row(df, root, copy, "copy.png", "q1", "test")
    report = audit(
        df, group="patient", split="split", image="path", root=root, near_min_correlation=0.8
    )
    detail = report.findings.loc[report.findings.code == "PF104", "detail"].item()
    assert "fine detail correlated at 0.80 or more" in detail
