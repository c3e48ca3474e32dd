"""pitfalls.torch datasets: lazy reading, train-only augmentation, the leaky demo."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
# Tiny tensors on 2 shared cores: one intra-op thread avoids spin-wait contention (10x).
torch.set_num_threads(1)
T = pytest.importorskip("torchvision.transforms.v2")
T1 = pytest.importorskip("torchvision.transforms")
A = pytest.importorskip("albumentations")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from PIL import Image  # noqa: E402

from pitfalls._manifest import ManifestError  # noqa: E402
from pitfalls.exceptions import GroupLeakageError, LeakageWarning, PitfallWarning  # noqa: E402
from pitfalls.torch import (  # noqa: E402
    ManifestImageDataset,
    augment_before_split,
    is_random_transform,
    load_image,
    split_datasets,
)


@pytest.fixture
def image_dir(tmp_path):
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, size=(12, 10), dtype=np.uint8)
    rgb = rng.integers(0, 256, size=(12, 10, 3), dtype=np.uint8)
    Image.fromarray(gray).save(tmp_path / "gray.png")
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(rgb).save(tmp_path / "rgb.jpg", quality=95)
    Image.fromarray(gray).save(tmp_path / "gray.tif")
    np.save(tmp_path / "arr.npy", rgb.astype(np.float32) / 255)
    return tmp_path, gray, rgb


def test_load_image_reads_every_format(image_dir):
    root, gray, rgb = image_dir
    np.testing.assert_array_equal(load_image(root / "gray.png"), gray)
    np.testing.assert_array_equal(load_image(root / "rgb.png"), rgb)
    np.testing.assert_array_equal(load_image(root / "gray.tif"), gray)
    np.testing.assert_allclose(load_image(root / "arr.npy"), rgb / 255, rtol=1e-6)
    with Image.open(root / "rgb.jpg") as reference:  # lossy: compare with Pillow's decode
        np.testing.assert_array_equal(load_image(root / "rgb.jpg"), np.asarray(reference))


def test_mode_conversion_matches_pillow(image_dir):
    root, _, _ = image_dir
    reference = np.asarray(Image.open(root / "rgb.png").convert("L")).astype(int)
    assert np.abs(load_image(root / "rgb.png", mode="L").astype(int) - reference).max() <= 1
    assert load_image(root / "gray.png", mode="RGB").shape == (12, 10, 3)
    with pytest.raises(ValueError, match=r"mode='CMYK' is not supported; use None, 'L' or 'RGB'"):
        load_image(root / "gray.png", mode="CMYK")


def test_dataset_items_are_scaled_tensors_with_label_codes(image_dir):
    root, gray, rgb = image_dir
    df = pd.DataFrame({"file": ["gray.png", "rgb.png"], "dx": ["normal", "pneumonia"]})
    ds = ManifestImageDataset(df, image="file", label="dx", root=root)
    x0, y0 = ds[0]
    x1, y1 = ds[1]
    assert (y0, y1) == (0, 1) and ds.classes == ["normal", "pneumonia"]
    torch.testing.assert_close(x0, torch.from_numpy(gray).float()[None] / 255)
    torch.testing.assert_close(x1, torch.from_numpy(rgb).permute(2, 0, 1).float() / 255)
    assert ds.targets.tolist() == [0, 1]


def test_dataset_reads_a_manifest_file(image_dir, tmp_path):
    root, _, _ = image_dir
    manifest = tmp_path / "manifest.csv"
    pd.DataFrame({"file": [str(root / "gray.png")], "y": [3]}).to_csv(manifest, index=False)
    ds = ManifestImageDataset(manifest, image="file", label="y", mode="RGB")
    assert tuple(ds[0][0].shape) == (3, 12, 10)


def test_unreadable_file_names_the_row(image_dir):
    root, _, _ = image_dir
    (root / "broken.png").write_bytes(b"not a png")
    df = pd.DataFrame({"file": ["gray.png", "broken.png"], "y": [0, 1]}, index=["a", "b"])
    ds = ManifestImageDataset(df, image="file", label="y", root=root)
    with pytest.raises(
        ManifestError, match=r"row 'b' of the manifest: cannot read image '.*broken.png'"
    ):
        ds[1]
    df.loc["b", "file"] = "missing.png"
    with pytest.raises(ManifestError, match=r"row 'b' .* cannot read image '.*missing.png'"):
        ManifestImageDataset(df, image="file", label="y", root=root)[1]


def test_missing_column_and_unknown_label():
    df = pd.DataFrame({"file": ["x.png"], "y": [2]})
    with pytest.raises(ManifestError, match="label='dx' is not a column of the manifest"):
        ManifestImageDataset(df, image="file", label="dx")
    with pytest.raises(ManifestError, match=r"label values 2 are not in classes=\[0, 1\]"):
        ManifestImageDataset(df, image="file", label="y", classes=[0, 1])


def _array_manifest(n, splits, seed=0):
    rng = np.random.default_rng(seed)
    images = [rng.integers(0, 256, size=(16, 16, 3), dtype=np.uint8) for _ in range(n)]
    return pd.DataFrame(
        {"img": images, "y": rng.integers(0, 2, n), "split": splits, "sid": np.arange(n)}
    )


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["train", "val", "test", "external"]), min_size=1, max_size=30))
def test_every_row_lands_in_exactly_one_dataset(splits):
    df = _array_manifest(len(splits), splits)
    datasets = split_datasets(df, image="img", label="y")
    seen = np.concatenate([ds.manifest["sid"].to_numpy() for ds in datasets.values()])
    assert sorted(seen.tolist()) == list(range(len(splits)))  # a partition: no row twice
    for name, ds in datasets.items():
        assert set(ds.manifest["split"]) == {name}
        assert ds.classes == sorted(set(df["y"]))  # one coding for every split


def test_training_items_change_between_reads_evaluation_items_never():
    df = _array_manifest(6, ["train", "train", "val", "val", "test", "test"])
    sets = split_datasets(
        df,
        image="img",
        label="y",
        train_transform=T.Compose(
            [T.RandomResizedCrop(12, antialias=True), T.RandomHorizontalFlip()]
        ),
        eval_transform=T.Compose([T.Resize(12, antialias=True)]),
    )
    torch.manual_seed(0)
    train_reads = [sets["train"][0][0] for _ in range(5)]
    assert any(not torch.equal(train_reads[0], again) for again in train_reads[1:])
    for name in ("val", "test"):
        reads = [sets[name][1][0] for _ in range(5)]
        assert all(torch.equal(reads[0], again) for again in reads[1:])
        expected = T.Resize(12, antialias=True)(
            torch.from_numpy(sets[name].read(1)).permute(2, 0, 1).float() / 255
        )
        torch.testing.assert_close(reads[0], expected)


def test_albumentations_training_augmentation_is_reproducible_under_torch_seed():
    df = _array_manifest(2, ["train", "val"])
    train = split_datasets(
        df, image="img", label="y", train_transform=A.Compose([A.Rotate(limit=40, p=1.0)])
    )["train"]
    torch.manual_seed(3)
    first = [train[0][0] for _ in range(3)]
    torch.manual_seed(3)
    second = [train[0][0] for _ in range(3)]
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    assert not torch.equal(first[0], first[1])


@pytest.mark.parametrize(
    "transform",
    [
        T.RandomHorizontalFlip(),
        T1.RandomHorizontalFlip(),
        T.RandomApply([T.Resize(8)], p=0.5),
        T1.RandomApply([T1.Resize(8)], p=0.5),
        T.RandomChoice([T.Resize(8), T.Resize(6)]),
        T.ColorJitter(brightness=0.5),
        T1.ColorJitter(brightness=0.5),
        T.Compose([T.Resize(8), T.Compose([T.RandomRotation(10)])]),
        torch.nn.Sequential(T.Resize(8), T.RandomVerticalFlip()),
        A.HorizontalFlip(p=0.5),
        A.Compose([A.Resize(8, 8), A.Rotate(limit=30, p=1.0)]),  # found by probing
        A.OneOf([A.Resize(8, 8), A.Resize(6, 6)]),
        A.GaussNoise(p=1.0),  # found by probing
        T.GaussianBlur(5, sigma=(0.1, 2.0)),  # random sigma, found by probing
        lambda t: t + torch.rand_like(t),
    ],
)
def test_random_transforms_are_detected(transform):
    assert is_random_transform(transform)


@pytest.mark.parametrize(
    "transform",
    [
        None,
        T.Resize(8),
        T.Compose([T.Resize(8), T.CenterCrop(6), T.Normalize([0.5] * 3, [0.2] * 3)]),
        T1.Compose([T1.Resize(8), T1.CenterCrop(6)]),
        T.RandomHorizontalFlip(p=0.0),
        A.Compose([A.Resize(8, 8), A.Normalize()]),
        A.HorizontalFlip(p=1.0),
        T.GaussianBlur(5, sigma=(1.0, 1.0)),  # fixed sigma
        lambda t: t * 2,
    ],
)
def test_deterministic_transforms_are_accepted(transform):
    assert not is_random_transform(transform)


def test_probing_leaves_the_callers_random_streams_alone():
    torch.manual_seed(0)
    np.random.seed(0)  # noqa: NPY002 (checking the legacy global stream)
    expected = (torch.rand(3), np.random.rand(3))  # noqa: NPY002
    torch.manual_seed(0)
    np.random.seed(0)  # noqa: NPY002
    assert is_random_transform(lambda t: t + torch.rand_like(t))
    torch.testing.assert_close(torch.rand(3), expected[0])
    np.testing.assert_array_equal(np.random.rand(3), expected[1])  # noqa: NPY002


def test_random_eval_transform_is_refused_or_warned():
    df = _array_manifest(4, ["train", "train", "val", "test"])
    with pytest.raises(ValueError, match=r"eval_transform=.* is random: .*allow_random_eval=True"):
        split_datasets(df, image="img", label="y", eval_transform=A.Rotate(limit=30, p=1.0))
    with pytest.warns(PitfallWarning, match="is random"):
        sets = split_datasets(
            df,
            image="img",
            label="y",
            eval_transform=T.RandomHorizontalFlip(),
            allow_random_eval=True,
        )
    assert isinstance(sets["val"].transform, T.RandomHorizontalFlip)


def test_train_transform_without_training_rows_is_an_error():
    df = _array_manifest(2, ["val", "test"])
    with pytest.raises(
        ValueError,
        match=r"train_split='train' is not a value of the 'split' column \(values: 'val', 'test'\)",
    ):
        split_datasets(df, image="img", label="y", train_transform=T.RandomHorizontalFlip())


def test_missing_split_value_is_an_error():
    df = _array_manifest(2, ["train", None])
    with pytest.raises(ManifestError, match=r"split column 'split' has 1 missing value\(s\)"):
        split_datasets(df, image="img", label="y")


def test_augment_before_split_materialises_twins_that_leak(tmp_path):
    df = _array_manifest(10, ["?"] * 10).drop(columns="split")
    with pytest.warns(LeakageWarning, match="augmented twins as separate rows"):
        leaky = augment_before_split(
            df,
            image="img",
            transform=T.RandomRotation(30),
            out_dir=tmp_path / "a",
            n_copies=3,
            random_state=0,
        )
    assert len(leaky) == 40
    assert (
        leaky.groupby("source_row")["augmentation"].apply(sorted) == pd.Series([[0, 1, 2, 3]] * 10)
    ).all()
    copies = leaky[leaky["augmentation"] > 0]
    assert all(load_image(p).shape == (16, 16, 3) for p in copies["img"])
    # the pitfall itself: a random split of the rows sends twins to both sides
    rng = np.random.default_rng(0)
    test_rows = rng.permutation(len(leaky))[:10]
    in_test = leaky["source_row"].iloc[test_rows]
    in_train = leaky["source_row"].drop(leaky.index[test_rows])
    assert set(in_test) & set(in_train)
    # same seed, same copies
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LeakageWarning)
        again = augment_before_split(
            df,
            image="img",
            transform=T.RandomRotation(30),
            out_dir=tmp_path / "b",
            n_copies=3,
            random_state=0,
        )
    for a, b in zip(copies["img"], again[again["augmentation"] > 0]["img"], strict=True):
        np.testing.assert_array_equal(load_image(a), load_image(b))


def test_augment_before_split_rejects_bad_n_copies(tmp_path):
    df = _array_manifest(1, ["x"])
    with pytest.raises(ValueError, match=r"n_copies=0 must be a positive integer"):
        augment_before_split(
            df, image="img", transform=T.RandomRotation(3), out_dir=tmp_path, n_copies=0
        )


def test_a_patient_in_two_splits_is_refused_when_group_is_given():
    df = _array_manifest(4, ["train", "train", "val", "test"]).assign(
        patient=["p1", "p2", "p2", "p3"]
    )
    with pytest.raises(
        GroupLeakageError, match=r"1 group\(s\) have samples in more than one split: 'p2'"
    ):
        split_datasets(df, image="img", label="y", group="patient")
    df["patient"] = ["p1", "p1", "p2", "p3"]
    assert len(split_datasets(df, image="img", label="y", group="patient")) == 3


def test_albumentations_children_draw_independent_randomness():
    image = np.arange(16, dtype=np.uint8).reshape(4, 4)
    flips = A.Compose([A.HorizontalFlip(p=0.5), A.VerticalFlip(p=0.5)])
    train = split_datasets(
        pd.DataFrame({"img": [image], "y": [0], "split": ["train"]}),
        image="img",
        label="y",
        train_transform=flips,
    )["train"]
    torch.manual_seed(0)
    corners = {round(train[0][0][0, 0, 0].item() * 255) for _ in range(60)}
    assert corners == {0, 3, 12, 15}  # none, horizontal, vertical, both: not always together


def test_in_place_transforms_never_edit_the_stored_images():
    stored = np.full((4, 4), 0.5, dtype=np.float32)
    df = pd.DataFrame({"img": [stored], "y": [0], "split": ["train"]})
    train = split_datasets(df, image="img", label="y", train_transform=lambda t: t.mul_(2))["train"]
    assert train[0][0].max().item() == 1.0 and train[0][0].max().item() == 1.0
    assert stored.max() == 0.5
