"""Benchmark ``pitfalls.audit``: manifest size, near-duplicate search, image hashing.

Prints, each against a reference measured in the same run:

1. a 1M-row manifest (100k patients, 4 sites, 3 splits, 2 feature columns) written
   to CSV, then read and audited; per-row cost against a deepchecks-style
   O(N*M) pure-Python train/test comparison (timed on a subsample, extrapolated)
   and against a per-row Python dictionary loop (O(N));
2. the near-duplicate search, 100k training vs 20k test 64-bit hashes, against a
   blocked brute-force XOR + popcount over all pairs, and the verification of the
   candidates on 64x64 thumbnails (subpixel-aligned detail correlation), timed on
   the pairs found and on 20k candidate pairs (a crowded set of look-alikes);
3. image hashing of textured 224 x 224 JPEGs (written to a temporary directory):
   hash time per image on one core against a full decode of the same files
   (``load_image``), then one worker against the default (``n_jobs=None``: one
   worker, threads where a trial shows they pay, or processes, planned from the
   pace of the first 32 images) at 200, 1,000 and 10,000 images (medians of
   alternating runs, ``--repeats``), and the full audit of the 10,000 images;
   3b. hash time per image against a full decode at 450 and 1,024 pixels a side
   (images above 256 pixels are area-averaged to a 256-pixel work image);
4. the near-duplicate search on feature rows, 200k x 64 training rows against 50k
   test rows with 100 planted copies (noise 1e-4), against scikit-learn's exact
   brute-force radius search on the same rows (a tenth of them, extrapolated).

Run: ``python benchmarks/bench_audit.py`` (``--quick`` for a 10x smaller run,
``--sections hashing rows`` for some of them) on a quiet machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from pitfalls._manifest import read_manifest
from pitfalls.audit import (
    audit,
    find_near_duplicate_rows,
    hamming_pairs,
    hash_images,
    load_image,
)
from pitfalls.audit._hashing import _plan
from pitfalls.audit._search import _brute_force, thumbnail_correlation


def make_manifest(n_rows: int, n_patients: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    patient = rng.integers(0, n_patients, n_rows)
    split_of = rng.choice(np.array(["train", "val", "test"]), n_patients, p=[0.7, 0.15, 0.15])
    site_of = rng.choice(np.array(["site_a", "site_b", "site_c", "site_d"]), n_patients)
    label = rng.choice(np.array(["normal", "pneumonia"]), n_rows, p=[0.7, 0.3])
    split = split_of[patient]
    leak = rng.choice(n_rows, 50, replace=False)  # a few planted group leaks
    split[leak] = "test"
    return pd.DataFrame(
        {
            "patient_id": np.char.add("P", patient.astype(str)),
            "split": split,
            "label": label,
            "site": site_of[patient],
            "f1": rng.normal(size=n_rows).round(6),
            "f2": rng.normal(size=n_rows).round(6),
        }
    )


def timed(func, *args, **kwargs):
    start = time.perf_counter()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - start


def deepchecks_style_pairs(train: pd.DataFrame, test: pd.DataFrame) -> int:
    # For every test sample, compare it with every training sample in Python.
    train_rows = list(train.itertuples(index=False))
    found = 0
    for t in test.itertuples(index=False):
        for r in train_rows:
            if t.patient_id == r.patient_id or (t.f1 == r.f1 and t.f2 == r.f2):
                found += 1
                break
    return found


def python_dict_loop(df: pd.DataFrame) -> int:
    splits: dict[str, set[str]] = {}
    rows: dict[tuple[float, float], set[str]] = {}
    for pid, split, f1, f2 in zip(df.patient_id, df.split, df.f1, df.f2, strict=True):
        splits.setdefault(pid, set()).add(split)
        rows.setdefault((f1, f2), set()).add(split)
    return sum(len(s) > 1 for s in splits.values()) + sum(len(s) > 1 for s in rows.values())


def bench_manifest(n_rows: int, n_patients: int) -> None:
    print(f"== 1. manifest audit: {n_rows:,} rows, {n_patients:,} patients, 4 sites")
    df = make_manifest(n_rows, n_patients)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "manifest.csv"
        df.to_csv(path, index=False)
        kwargs = dict(group="patient_id", split="split", label="label", site="site")
        audit(df.head(100), **kwargs, features=["f1", "f2"])  # warm-up: imports
        frame, t_read = timed(read_manifest, path)
        report, t_audit = timed(audit, frame, **kwargs, features=["f1", "f2"])
        _, t_total = timed(audit, path, **kwargs, features=["f1", "f2"])
    print(f"read CSV            {t_read:7.2f} s")
    print(f"audit (DataFrame)   {t_audit:7.2f} s   ({t_audit / n_rows * 1e6:.2f} us/row)")
    print(f"read + audit        {t_total:7.2f} s   (target < 20 s)")
    print(f"findings: {', '.join(report.findings.code)}")

    sub_train = df[df.split == "train"].head(2000)
    sub_test = df[df.split == "test"].head(200)
    _, t_loop = timed(deepchecks_style_pairs, sub_train, sub_test)
    per_pair = t_loop / (len(sub_train) * len(sub_test))
    n_train, n_test = int((df.split == "train").sum()), int((df.split == "test").sum())
    full_loop = per_pair * n_train * n_test
    print(
        f"O(N*M) Python loop  {per_pair * 1e9:7.1f} ns/pair on {len(sub_train)}x{len(sub_test)}; "
        f"extrapolated to {n_train:,}x{n_test:,}: {full_loop / 3600:,.1f} h "
        f"({full_loop / n_rows * 1e6:,.0f} us/row) -> pitfalls is {full_loop / t_audit:,.0f}x faster"
    )
    sub = df.head(200_000)
    _, t_dict = timed(python_dict_loop, sub)
    per_row = t_dict / len(sub)
    print(
        f"O(N) Python dict loop (group + row checks only) {per_row * 1e6:.2f} us/row -> "
        f"pitfalls' full audit is {per_row * n_rows / t_audit:.1f}x faster"
    )


def biased_hashes(n: int, rng: np.random.Generator) -> np.ndarray:
    # Perceptual-hash bits are not uniform: give each bit its own probability.
    p = rng.beta(2, 2, 64)
    bits = rng.random((n, 64)) < p
    return np.packbits(bits, axis=1).view(">u8").ravel().astype(np.uint64)


def python_pair_loop(a: np.ndarray, b: np.ndarray, threshold: int) -> int:
    # The O(N*M) Python loop of image-similarity checks such as deepchecks'.
    a_list, b_list = [int(x) for x in a], [int(y) for y in b]
    return sum(1 for y in b_list for x in a_list if (x ^ y).bit_count() <= threshold)


def _search_all(a: np.ndarray, others: list[np.ndarray], threshold: int) -> None:
    for other in others:
        hamming_pairs(a, other, threshold)


def bench_search(n_train: int, n_test: int, threshold: int = 10) -> None:
    print(f"\n== 2. near-duplicate search: {n_train:,} vs {n_test:,} hashes, threshold {threshold}")
    rng = np.random.default_rng(0)
    for name, maker in (
        ("uniform bits", lambda n: rng.integers(0, 2**64, n, dtype=np.uint64)),
        ("biased bits", lambda n: biased_hashes(n, rng)),
    ):
        a, b = maker(n_train), maker(n_test)
        planted = rng.choice(n_test, 100, replace=False)
        flips = np.uint64(1) << rng.integers(0, 64, 100).astype(np.uint64)
        b[planted] = a[rng.choice(n_train, 100, replace=False)] ^ flips
        (i, j, _), t_mih = timed(hamming_pairs, a, b, threshold)
        (bi, _), t_brute = timed(_brute_force, a, b, threshold)
        assert i.size == bi.size
        # The default also searches left-right flips (2 searches); "all" flips and
        # quarter turns (8 searches of the same size).
        others = [maker(n_test) for _ in range(7)]
        _, t_rest = timed(_search_all, a, others, threshold)
        t_flip = t_mih + t_rest / 7
        print(
            f"{name:13s} one search {t_mih:6.2f} s, default (+ flips) {t_flip:6.2f} s, all 8 "
            f"orientations {t_mih + t_rest:6.2f} s; brute-force XOR+popcount {t_brute:6.2f} s "
            f"({t_brute / t_mih:.1f}x slower); {i.size} pairs (target < 5 s)"
        )
    # Candidates are verified on thumbnails (uint8, 64x64, 4 KiB per image).
    thumbs_a = rng.integers(0, 256, (n_train, 64, 64), dtype=np.uint8)
    thumbs_b = rng.integers(0, 256, (n_test, 64, 64), dtype=np.uint8)
    _, t_verify = timed(thumbnail_correlation, thumbs_a[i], thumbs_b[j])
    many = rng.integers(0, n_test, 20_000)
    _, t_many = timed(thumbnail_correlation, thumbs_a[many % n_train], thumbs_b[many])
    print(
        f"verification: the {i.size} pairs found {t_verify:.3f} s -> search + verification "
        f"{t_mih + t_verify:.2f} s (target < 5 s); 20,000 candidate pairs {t_many:.2f} s "
        f"({t_many / 20_000 * 1e6:.0f} us/pair)"
    )
    sub_a, sub_b = a[:2000], b[:200]
    _, t_loop = timed(python_pair_loop, sub_a, sub_b, threshold)
    full = t_loop / (sub_a.size * sub_b.size) * n_train * n_test
    print(
        f"Python O(N*M) loop: {t_loop / (sub_a.size * sub_b.size) * 1e9:.0f} ns/pair, "
        f"extrapolated {full / 60:,.1f} min -> multi-index is {full / t_mih:,.0f}x faster"
    )


def textured_jpegs(directory: Path, n_images: int, size: int = 224, seed: int = 0) -> list[Path]:
    """Dermoscopy-like test images: smooth colour blotches, fine noise and a few shapes."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n_images):
        coarse = rng.normal(128, 40, (6, 6, 3)).clip(0, 255).astype(np.uint8)
        smooth = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BICUBIC))
        noisy = smooth + rng.normal(0, 8, (size, size, 3))
        image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        for _ in range(3):
            x, y = rng.integers(0, size, 2)
            r = int(rng.integers(10, 60))
            colour = tuple(int(c) for c in rng.integers(0, 256, 3))
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
        path = directory / f"{i:05d}.jpg"
        image.save(path, quality=90)
        paths.append(path)
    return paths


def best_of(repeats: int, func, *args, **kwargs) -> float:
    return min(timed(func, *args, **kwargs)[1] for _ in range(repeats))


def alternating_medians(repeats: int, *funcs) -> list[float]:
    """Median seconds of each function, run in turns (a shared machine's load drifts).

    The order alternates too (ABBA...), so that neither side always runs first.
    """
    times: list[list[float]] = [[] for _ in funcs]
    for round_ in range(repeats):
        order = range(len(funcs)) if round_ % 2 == 0 else reversed(range(len(funcs)))
        for i in order:
            times[i].append(timed(funcs[i])[1])
    return [float(np.median(t)) for t in times]


def hash_and_decode_times(paths: list[Path], repeats: int) -> tuple[float, float]:
    """Median seconds per image of a full decode (load_image) and of hash_images, one worker.

    "Decode" is a full decode of the same file to an array (the hashes need every
    pixel at full size: an exact copy is pixel-identical).
    """
    hash_images(paths[:50], n_jobs=1)  # warm-up: imports, caches
    t_decode, t_hash = alternating_medians(
        max(repeats, 3),
        lambda: [load_image(p) for p in paths],
        lambda: hash_images(paths, n_jobs=1),
    )
    return t_decode / len(paths), t_hash / len(paths)


def bench_hashing(sizes: tuple[int, ...], repeats: int) -> None:
    from joblib import cpu_count

    n_max = max(sizes)
    print(f"\n== 3. image hashing: textured 224 x 224 JPEGs, {cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        paths = textured_jpegs(Path(tmp), n_max)
        t_decode, t_hash = hash_and_decode_times(paths[: min(1000, n_max)], repeats)
        print(
            f"decode only (load_image, full size, 1 core) {t_decode * 1e3:6.3f} ms/image; "
            f"hash_images n_jobs=1 {t_hash * 1e3:6.3f} ms/image = {t_hash / t_decode:.2f}x "
            f"the decode time (goal <= 1.5x; medians of {max(repeats, 3)} alternating runs)"
        )
        for n in sizes:
            t_one, t_default = alternating_medians(
                repeats,
                lambda n=n: hash_images(paths[:n], n_jobs=1),
                lambda n=n: hash_images(paths[:n]),
            )
            workers, prefer = _plan(t_one / n, n - 32, cpu_count())
            plan = "one worker" if workers == 1 else f"{workers} {prefer}"
            if prefer == "threads" and workers > 1:
                plan += " (tried; kept only if 10% faster than here)"
            print(
                f"{n:6d} images: n_jobs=1 {t_one:6.2f} s, default (n_jobs=None) {t_default:6.2f} s"
                f" -> default is {t_one / t_default:.2f}x faster (goal >= 1; medians of "
                f"{repeats}); its plan at this pace: {plan}"
            )
        df = pd.DataFrame(
            {
                "patient": [f"P{i // 2:05d}" for i in range(n_max)],
                "split": ["test" if (i // 2) % 5 == 0 else "train" for i in range(n_max)],
                "label": [i % 3 for i in range(n_max)],
                "path": [p.name for p in paths],
            }
        )
        kwargs = dict(group="patient", split="split", label="label", image="path", root=tmp)
        report, t_audit = timed(audit, df, **kwargs)
        print(
            f"full audit of {n_max:,} images (default workers): {t_audit:.2f} s "
            f"(goal < 15 s for 10,000); findings: {', '.join(report.findings.code)}"
        )


def bench_hashing_sizes(counts: dict[int, int], repeats: int) -> None:
    """Hashing per core against a full decode, at image sizes above 256 pixels.

    Those images are area-averaged to a 256-pixel work image after the exact pixel
    hash (section 3 times the 224-pixel images, which are their own work image).
    """
    print("\n== 3b. image hashing per core, by image size (textured JPEGs, one worker)")
    for size, n in counts.items():
        with tempfile.TemporaryDirectory() as tmp:
            paths = textured_jpegs(Path(tmp), n, size=size)
            t_decode, t_hash = hash_and_decode_times(paths, repeats)
        print(
            f"{size:5d} x {size:<5d} ({n:4d} images): decode {t_decode * 1e3:7.3f} ms/image, "
            f"hash_images {t_hash * 1e3:7.3f} ms/image = {t_hash / t_decode:.2f}x"
        )


def bench_rows(n_train: int, n_test: int, n_features: int = 64) -> None:
    from sklearn.neighbors import NearestNeighbors

    print(f"\n== 4. near-duplicate rows: {n_train:,} x {n_features} train vs {n_test:,} test")
    rng = np.random.default_rng(0)
    train = rng.normal(size=(n_train, n_features))
    test = rng.normal(size=(n_test, n_features))
    copies = rng.choice(n_train, 100, replace=False)
    test[:100] = train[copies] + rng.normal(0, 1e-4, (100, n_features))
    pairs, t_ours = timed(find_near_duplicate_rows, train, test, n_jobs=-1)
    assert pairs.test_index.tolist() == list(range(100)), pairs
    print(
        f"find_near_duplicate_rows {t_ours:6.2f} s (goal < 10 s at 200k vs 50k); "
        f"{pairs!r}; all 100 planted copies found, no other pair"
    )
    # Reference: scikit-learn's exact brute-force radius search on the same standardised
    # rows and threshold, on a tenth of the test rows, extrapolated.
    mean, std = train.mean(axis=0), train.std(axis=0)
    part = max(1, n_test // 10)
    brute = NearestNeighbors(radius=pairs.threshold, algorithm="brute", n_jobs=-1)
    brute.fit((train - mean) / std)
    _, t_brute = timed(brute.radius_neighbors, (test[:part] - mean) / std, return_distance=False)
    full = t_brute * n_test / part
    print(
        f"scikit-learn brute-force radius search: {full:6.2f} s extrapolated from "
        f"{part:,} test rows -> find_near_duplicate_rows is {full / t_ours:.1f}x faster"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10x smaller sizes")
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=("manifest", "search", "hashing", "sizes", "rows"),
        default=["manifest", "search", "hashing", "sizes", "rows"],
        help="which benchmarks to run (default: all)",
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="alternating runs per hashing comparison"
    )
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    if "manifest" in args.sections:
        bench_manifest(1_000_000 // scale, 100_000 // scale)
    if "search" in args.sections:
        bench_search(100_000 // scale, 20_000 // scale)
    if "hashing" in args.sections:
        bench_hashing((200 // scale, 1000 // scale, 10_000 // scale), args.repeats)
    if "sizes" in args.sections:
        counts = {450: 500 // scale, 1024: 150 // scale}
        bench_hashing_sizes(counts, args.repeats)
    if "rows" in args.sections:
        bench_rows(200_000 // scale, 50_000 // scale)


if __name__ == "__main__":
    main()
