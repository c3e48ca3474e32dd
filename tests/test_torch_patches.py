"""Patch extraction: the background rule, sizes, coordinates, patient ids, no endless loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
# Tiny tensors on 2 shared cores: one intra-op thread avoids spin-wait contention (10x).
torch.set_num_threads(1)

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from PIL import Image  # noqa: E402

from pitfalls.torch import extract_patches, load_image, patch_manifest, tissue_mask  # noqa: E402


def _slide(height=96, width=128, box=(20, 70, 30, 100), seed=0):
    """White glass with one rectangle of noisy pink 'tissue'."""
    rng = np.random.default_rng(seed)
    slide = np.full((height, width, 3), 245, dtype=np.uint8)
    top, bottom, left, right = box
    tissue = rng.integers(60, 200, size=(bottom - top, right - left, 3), dtype=np.uint8)
    slide[top:bottom, left:right] = tissue
    return slide


def _background_fraction(patch, threshold=220):
    return 1 - tissue_mask(patch, threshold=threshold).mean()


@pytest.mark.parametrize("max_background", [0.75, 0.5, 0.1])
def test_patches_obey_the_background_rule_and_size(max_background):
    patches, coords = extract_patches(
        _slide(),
        patch_size=12,
        n_patches=40,
        max_background=max_background,
        downscale=2,
        random_state=0,
    )
    assert patches.shape == (40, 12, 12, 3) and patches.dtype == np.uint8
    assert coords.shape == (40, 2)
    assert all(_background_fraction(p) < max_background for p in patches)


def test_coordinates_point_at_the_patch_in_the_original_slide():
    slide = _slide()
    patches, coords = extract_patches(
        slide, patch_size=10, n_patches=15, downscale=2, random_state=1
    )
    reference = np.asarray(Image.fromarray(slide).reduce(2))  # Pillow's box downscale
    assert (coords % 2 == 0).all()
    for patch, (row, col) in zip(patches, coords, strict=True):
        r, c = row // 2, col // 2
        np.testing.assert_array_equal(patch, reference[r : r + 10, c : c + 10])


def test_downscale_of_non_uint8_slides_is_a_block_mean():
    slide = _slide().astype(np.float32)
    patches, coords = extract_patches(slide, patch_size=8, n_patches=5, downscale=4, random_state=0)
    block_mean = slide[:96, :128].reshape(24, 4, 32, 4, 3).mean(axis=(1, 3))
    r, c = coords[0] // 4
    np.testing.assert_allclose(patches[0], block_mean[r : r + 8, c : c + 8], rtol=1e-6)


@settings(max_examples=30, deadline=None)
@given(
    top=st.integers(0, 40),
    left=st.integers(0, 40),
    size=st.integers(16, 40),
    max_background=st.floats(0.2, 0.9),
    seed=st.integers(0, 2**16),
)
def test_background_rule_holds_wherever_the_tissue_is(top, left, size, max_background, seed):
    slide = _slide(80, 80, (top, top + size, left, left + size), seed=seed)
    patches, _ = extract_patches(
        slide,
        patch_size=8,
        n_patches=10,
        max_background=max_background,
        downscale=1,
        random_state=seed,
    )
    assert all(_background_fraction(p) < max_background for p in patches)


def test_same_seed_same_patches():
    a = extract_patches(_slide(), patch_size=8, n_patches=10, downscale=1, random_state=7)
    b = extract_patches(_slide(), patch_size=8, n_patches=10, downscale=1, random_state=7)
    c = extract_patches(_slide(), patch_size=8, n_patches=10, downscale=1, random_state=8)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_too_little_tissue_is_a_clear_error_not_an_endless_loop():
    blank = np.full((64, 64, 3), 250, dtype=np.uint8)
    with pytest.raises(
        ValueError,
        match=r"only 0 of n_patches=5 patches .* in 500 random draws \(the downscaled slide is 0.0% tissue\)",
    ):
        extract_patches(blank, patch_size=8, n_patches=5, downscale=1, random_state=0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"patch_size": 100},
            r"patch_size=100 is larger than the downscaled slide \(48 x 64 after downscale=2\)",
        ),
        ({"n_patches": 0}, r"n_patches=0 must be a positive integer"),
        ({"max_background": 1.5}, r"max_background=1.5 must be in \(0, 1\]"),
        ({"downscale": 0}, r"downscale=0 must be a positive integer"),
    ],
)
def test_bad_arguments(kwargs, message):
    options = {"patch_size": 8, "n_patches": 2, "downscale": 2} | kwargs
    with pytest.raises(ValueError, match=message):
        extract_patches(_slide(), **options)


def test_tissue_mask_saturation_drops_grey_marks():
    image = np.array([[[120, 120, 120], [200, 100, 150]]], dtype=np.uint8)
    assert tissue_mask(image).tolist() == [[True, True]]
    assert tissue_mask(image, min_saturation=15).tolist() == [[False, True]]


def test_patch_manifest_keeps_the_patient_on_every_patch(tmp_path):
    for name, seed in (("s1.png", 0), ("s2.png", 1)):
        Image.fromarray(_slide(seed=seed)).save(tmp_path / name)
    slides = pd.DataFrame(
        {"file": ["s1.png", "s2.png"], "patient": ["p1", "p2"], "label": ["solid", "acinar"]}
    )
    patches = patch_manifest(
        slides,
        image="file",
        group="patient",
        root=tmp_path,
        out_dir=tmp_path / "out",
        patch_size=8,
        n_patches=6,
        downscale=2,
        random_state=0,
    )
    assert len(patches) == 12
    assert patches.groupby("patient")["label"].agg(set).to_dict() == {
        "p1": {"solid"},
        "p2": {"acinar"},
    }
    assert (patches.groupby("patient").size() == 6).all()
    first = patches.iloc[0]
    expected, coords = extract_patches(
        tmp_path / "s1.png",
        patch_size=8,
        n_patches=6,
        downscale=2,
        random_state=int(np.random.SeedSequence(0).generate_state(2)[0]),
    )
    np.testing.assert_array_equal(load_image(first["patch_path"]), expected[0])
    assert (first["patch_row"], first["patch_col"]) == tuple(coords[0])


def test_patch_manifest_names_the_slide_that_fails(tmp_path):
    Image.fromarray(np.full((32, 32, 3), 250, dtype=np.uint8)).save(tmp_path / "blank.png")
    slides = pd.DataFrame({"file": ["blank.png"], "patient": ["p9"]})
    with pytest.raises(ValueError, match=r"slide '.*blank.png' \(row 0\): only 0 of n_patches=2"):
        patch_manifest(
            slides,
            image="file",
            group="patient",
            root=tmp_path,
            out_dir=tmp_path,
            patch_size=8,
            n_patches=2,
            downscale=1,
        )


def test_patch_manifest_writes_jpeg_and_checks_the_format(tmp_path):
    Image.fromarray(_slide()).save(tmp_path / "s.png")
    slides = pd.DataFrame({"file": ["s.png"], "patient": ["p1"]})
    options = {
        "image": "file",
        "group": "patient",
        "root": tmp_path,
        "out_dir": tmp_path / "o",
        "patch_size": 8,
        "n_patches": 2,
        "downscale": 2,
        "random_state": 0,
    }
    patches = patch_manifest(slides, file_format="jpeg", **options)
    assert all(path.endswith(".jpg") for path in patches["patch_path"])
    assert load_image(patches["patch_path"].iloc[0]).shape == (8, 8, 3)
    with pytest.raises(
        ValueError, match=r"file_format='tiff' is not supported; use 'png' or 'jpeg'"
    ):
        patch_manifest(slides, file_format="tiff", **options)


def test_patch_manifest_in_parallel_matches_sequential(tmp_path):
    from joblib import parallel_config

    for seed in range(3):
        Image.fromarray(_slide(seed=seed)).save(tmp_path / f"s{seed}.png")
    slides = pd.DataFrame({"file": [f"s{i}.png" for i in range(3)], "patient": ["a", "b", "c"]})
    options = {
        "image": "file",
        "group": "patient",
        "root": tmp_path,
        "patch_size": 8,
        "n_patches": 4,
        "downscale": 2,
        "random_state": 3,
    }
    sequential = patch_manifest(slides, out_dir=tmp_path / "seq", **options)
    with parallel_config(backend="threading"):
        parallel = patch_manifest(slides, out_dir=tmp_path / "par", n_jobs=2, **options)
    columns = ["patient", "patch_row", "patch_col"]
    pd.testing.assert_frame_equal(sequential[columns], parallel[columns])
