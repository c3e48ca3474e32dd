"""Torch datasets built from a manifest, with augmentation confined to the training split."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from PIL import Image

from .._images import MODES, convert_mode, load_image
from .._manifest import check_columns, read_manifest
from .._validation import describe_values
from ..exceptions import LeakageWarning, ManifestError, PitfallWarning
from ..model_selection import check_group_disjoint
from ._transforms import apply_transform, is_random_transform, seeded

__all__ = ["ManifestImageDataset", "augment_before_split", "load_image", "split_datasets"]


def _label_codes(values: pd.Series, classes: Sequence[Any] | None) -> tuple[list[Any], np.ndarray]:
    known = list(classes) if classes is not None else sorted(pd.unique(values).tolist())
    lookup = {value: code for code, value in enumerate(known)}
    unknown = [value for value in pd.unique(values) if value not in lookup]
    if unknown:
        raise ManifestError(
            f"label values {describe_values(unknown)} are not in classes={known!r}; "
            "add them to classes or drop those rows."
        )
    return known, np.array([lookup[value] for value in values], dtype=np.int64)


class ManifestImageDataset(torch.utils.data.Dataset):
    """A map-style torch dataset that reads the images of a manifest lazily.

    Parameters
    ----------
    manifest : DataFrame or path-like
        One row per image (CSV, TSV or Parquet file, or a DataFrame).
    image : str
        Column holding each image's path (relative to ``root`` if given) or the image
        itself as a NumPy array.
    label : str, optional
        Column holding the class. Items are ``(image, label)`` with ``label`` the class's
        position in :attr:`classes`; without ``label`` items are the image alone.
    root : path-like, optional
        Directory the paths are relative to.
    transform : callable, optional
        Applied on every read: an albumentations transform gets the channels-last NumPy
        image, any other callable (torchvision v1/v2 transforms) the float ``C x H x W``
        tensor (``uint8`` scaled to ``[0, 1]``). Random transforms draw from torch's
        generator, so each read of an item is augmented afresh.
    loader : callable, default=load_image
        ``loader(path, mode) -> ndarray``.
    mode : {None, "L", "RGB"}, default=None
        Channel conversion (e.g. ``"RGB"`` to feed grayscale X-rays to a ResNet).
    classes : sequence, optional
        The class values in code order; default: the sorted unique labels. Pass the same
        list to every split so that codes agree.

    Attributes
    ----------
    manifest : DataFrame
        The rows, in item order.
    classes : list
        Class values; ``classes[code]`` is the label value of code ``code``.
    targets : ndarray of int64
        The class code of every item (empty without ``label``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from pitfalls.torch import ManifestImageDataset
    >>> df = pd.DataFrame({"img": [np.zeros((4, 4), np.uint8), np.ones((4, 4), np.uint8)],
    ...                    "y": ["benign", "malignant"]})
    >>> ds = ManifestImageDataset(df, image="img", label="y")
    >>> len(ds), ds.classes
    (2, ['benign', 'malignant'])
    >>> x, y = ds[1]
    >>> tuple(x.shape), y
    ((1, 4, 4), 1)
    """

    def __init__(
        self,
        manifest: Any,
        *,
        image: str,
        label: str | None = None,
        root: str | os.PathLike[str] | None = None,
        transform: Callable[..., Any] | None = None,
        loader: Callable[..., np.ndarray] = load_image,
        mode: str | None = None,
        classes: Sequence[Any] | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode={mode!r} is not supported; use None, 'L' or 'RGB'.")
        df = read_manifest(manifest)
        check_columns(df, {"image": image, "label": label}, required_values=("image", "label"))
        self.manifest = df
        self.image = image
        self.label = label
        self.root = None if root is None else Path(root)
        self.transform = transform
        self.loader = loader
        self.mode = mode
        if label is None:
            self.classes: list[Any] = list(classes) if classes is not None else []
            self.targets = np.empty(0, dtype=np.int64)
        else:
            self.classes, self.targets = _label_codes(df[label], classes)
        self._images = df[image].to_numpy()

    def __len__(self) -> int:
        return len(self._images)

    def _path(self, value: Any) -> Path:
        path = Path(value)
        return path if self.root is None else self.root / path

    def read(self, index: int) -> np.ndarray:
        """The raw channels-last image of item ``index``, before any transform.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from pitfalls.torch import ManifestImageDataset
        >>> ds = ManifestImageDataset(pd.DataFrame({"img": [np.eye(3)]}), image="img")
        >>> ds.read(0).shape
        (3, 3)
        """
        value = self._images[index]
        if isinstance(value, np.ndarray):  # a copy: in-place transforms must not edit the manifest
            return convert_mode(value.copy(), self.mode)
        path = self._path(value)
        try:
            return self.loader(path, self.mode)
        except Exception as exc:
            row = self.manifest.index[index]
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ManifestError(
                f"row {row!r} of the manifest: cannot read image '{path}' ({reason}); "
                f"fix the {self.image!r} column or the root directory."
            ) from exc

    def __getitem__(self, index: int) -> Any:
        tensor = apply_transform(self.transform, self.read(index))
        if self.label is None:
            return tensor
        return tensor, int(self.targets[index])

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(n_items={len(self)}, image={self.image!r}, "
            f"label={self.label!r}, transform={self.transform!r})"
        )


def split_datasets(
    manifest: Any,
    *,
    image: str,
    label: str | None,
    split: str = "split",
    root: str | os.PathLike[str] | None = None,
    train_transform: Callable[..., Any] | None = None,
    eval_transform: Callable[..., Any] | None = None,
    train_split: Any = "train",
    group: str | None = None,
    allow_random_eval: bool = False,
    loader: Callable[..., np.ndarray] = load_image,
    mode: str | None = None,
) -> dict[Any, ManifestImageDataset]:
    """One dataset per value of the split column; only the training split is augmented.

    Augmentation runs on the fly inside the training dataset, so an image and its
    augmented versions never exist as separate samples and can never sit in two splits
    (the pitfall of augmenting before splitting, see :func:`augment_before_split`).
    Validation and test data get ``eval_transform``, which must be deterministic
    (resize, crop to centre, normalise): a random evaluation transform makes scores
    change from one evaluation to the next and is refused. Randomness is detected by
    :func:`is_random_transform` (declared ``Random*``/``p`` or observed on a probe).

    Parameters
    ----------
    manifest : DataFrame or path-like
        One row per image with image, label and split columns.
    image, label : str
        Columns of the image path (or array) and of the class (``label=None``: items are
        images alone).
    split : str, default="split"
        Column assigning each row to a split (e.g. written by
        :func:`pitfalls.model_selection.train_val_test_split`). No row may miss it.
    root : path-like, optional
        Directory the image paths are relative to.
    train_transform : callable, optional
        Augmentation (and preprocessing) for the training split.
    eval_transform : callable, optional
        Deterministic preprocessing for every other split.
    train_split : default="train"
        The split value that marks training rows.
    group : str, optional
        Patient (subject) column. When given, a patient with rows in two splits raises
        :class:`~pitfalls.exceptions.GroupLeakageError` (the paper's model E pitfall).
    allow_random_eval : bool, default=False
        Accept a random ``eval_transform`` (e.g. deliberate test-time augmentation) with a
        :class:`~pitfalls.exceptions.PitfallWarning` instead of a ``ValueError``.
    loader, mode
        Passed to :class:`ManifestImageDataset`.

    Returns
    -------
    dict
        Split value -> :class:`ManifestImageDataset`, in order of first appearance. All
        datasets share the same ``classes``.

    Raises
    ------
    ValueError
        If ``eval_transform`` is random (and ``allow_random_eval`` is False), or
        ``train_transform`` is given but no row belongs to ``train_split``.
    GroupLeakageError
        If ``group`` is given and a patient has rows in two splits.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import torchvision.transforms.v2 as T
    >>> from pitfalls.torch import split_datasets
    >>> df = pd.DataFrame({"img": [np.full((4, 4), i, np.uint8) for i in range(4)],
    ...                    "y": [0, 1, 0, 1], "split": ["train", "train", "val", "test"]})
    >>> sets = split_datasets(df, image="img", label="y", train_transform=T.RandomHorizontalFlip())
    >>> {name: len(ds) for name, ds in sets.items()}
    {'train': 2, 'val': 1, 'test': 1}
    >>> sets["val"].transform is None
    True
    >>> split_datasets(df, image="img", label="y", eval_transform=T.RandomHorizontalFlip())
    Traceback (most recent call last):
    ...
    ValueError: eval_transform=RandomHorizontalFlip(p=0.5) is random: ...
    """
    df = read_manifest(manifest)
    check_columns(
        df,
        {"image": image, "label": label, "split": split, "group": group},
        required_values=("image", "label", "split", "group"),
    )
    split_values = pd.unique(df[split]).tolist()
    if group is not None and len(split_values) > 1:
        split_column = df[split].to_numpy()
        check_group_disjoint(df[group].to_numpy(), *(split_column == v for v in split_values))
    if train_transform is not None and train_split not in split_values:
        raise ValueError(
            f"train_split={train_split!r} is not a value of the {split!r} column (values: "
            f"{describe_values(split_values)}); pass train_split= the value that marks "
            "training rows."
        )
    if is_random_transform(eval_transform, sample=_first_image(df, image, root, loader, mode)):
        message = (
            f"eval_transform={eval_transform!r} is random: validation and test images would "
            "be scored on a different random version at every evaluation, so scores are not "
            "reproducible and augmentation leaks into evaluation. Use deterministic "
            "preprocessing (resize, centre crop, normalise) for evaluation, and put random "
            "augmentation in train_transform"
        )
        if not allow_random_eval:
            raise ValueError(message + " (or pass allow_random_eval=True to insist).")
        warnings.warn(message + ".", PitfallWarning, stacklevel=2)
    classes = (
        None if label is None else sorted(pd.unique(df[label]).tolist())
    )  # one coding for all splits
    datasets: dict[Any, ManifestImageDataset] = {}
    for value in split_values:
        rows = df.loc[(df[split] == value).to_numpy()]
        datasets[value] = ManifestImageDataset(
            rows,
            image=image,
            label=label,
            root=root,
            transform=train_transform if value == train_split else eval_transform,
            loader=loader,
            mode=mode,
            classes=classes,
        )
    return datasets


def _first_image(
    df: pd.DataFrame, image: str, root: Any, loader: Callable[..., np.ndarray], mode: str | None
) -> np.ndarray | None:
    """A real image to probe transforms with; ``None`` (synthetic probe) if unreadable."""
    try:
        return ManifestImageDataset(
            df.iloc[:1], image=image, root=root, loader=loader, mode=mode
        ).read(0)
    except (ManifestError, OSError):
        return None


def _to_storable(tensor: torch.Tensor) -> tuple[np.ndarray, str]:
    """Channels-last array and file suffix: PNG for [0, 1] images, NPY otherwise."""
    array = tensor.detach().cpu().numpy().transpose(1, 2, 0)
    if array.shape[2] == 1:
        array = array[:, :, 0]
    if array.min() >= 0 and array.max() <= 1:
        return (array * 255).round().astype(np.uint8), ".png"
    return array.astype(np.float32), ".npy"


def augment_before_split(
    manifest: Any,
    *,
    image: str,
    transform: Callable[..., Any],
    out_dir: str | os.PathLike[str],
    n_copies: int = 1,
    root: str | os.PathLike[str] | None = None,
    mode: str | None = None,
    random_state: int | None = None,
) -> pd.DataFrame:
    """THE PITFALL, for demonstration: write augmented copies as new manifest rows.

    This is what the paper's model C did: augmented twins are materialised as separate
    samples, so a split made afterwards puts an image in the test set and its twins in
    training, and test scores measure memory rather than generalisation. Use it only to
    measure that inflation; for real work augment on the fly with
    :func:`split_datasets` (``train_transform=``). A
    :class:`~pitfalls.exceptions.LeakageWarning` says so on every call.

    Parameters
    ----------
    manifest : DataFrame or path-like
        One row per image.
    image : str
        Image column (path relative to ``root``, or array).
    transform : callable
        Augmentation (albumentations or torchvision); its output is saved as PNG when in
        ``[0, 1]`` (``uint8``) and as ``.npy`` otherwise.
    out_dir : path-like
        Where the copies are written (created if needed).
    n_copies : int, default=1
        Augmented copies per image.
    root, mode
        As for :class:`ManifestImageDataset`.
    random_state : int, optional
        Seed; the same seed writes the same copies.

    Returns
    -------
    DataFrame
        The original rows followed by the copies (all columns kept, image column pointing
        at the new absolute file), with ``source_row`` (index of the original row) and
        ``augmentation`` (0 for originals, 1..n_copies for copies).

    Examples
    --------
    >>> import tempfile, warnings, numpy as np, pandas as pd
    >>> import torchvision.transforms.v2 as T
    >>> from pitfalls.torch import augment_before_split
    >>> df = pd.DataFrame({"img": [np.eye(4, dtype=np.uint8) * 255], "patient": ["p1"]})
    >>> from pitfalls.exceptions import LeakageWarning
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", LeakageWarning)  # we mean to do it here
    ...     out = augment_before_split(df, image="img", transform=T.RandomHorizontalFlip(1.0),
    ...                                out_dir=tempfile.mkdtemp(), n_copies=2, random_state=0)
    >>> out[["patient", "source_row", "augmentation"]].values.tolist()
    [['p1', 0, 0], ['p1', 0, 1], ['p1', 0, 2]]
    """
    if not isinstance(n_copies, int | np.integer) or n_copies < 1:
        raise ValueError(f"n_copies={n_copies!r} must be a positive integer; use n_copies >= 1.")
    warnings.warn(
        "augment_before_split writes augmented twins as separate rows: any split made "
        "afterwards puts an image and its twins on both sides and inflates test scores "
        "(the paper's model C). Use split_datasets(train_transform=...) for real work.",
        LeakageWarning,
        stacklevel=2,
    )
    df = read_manifest(manifest)
    source = ManifestImageDataset(df, image=image, root=root, mode=mode)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seeds = np.random.SeedSequence(random_state).generate_state(len(source))
    copies = []
    for position in range(len(source)):
        raw = source.read(position)
        with seeded(int(seeds[position])):
            for copy in range(1, n_copies + 1):
                array, suffix = _to_storable(apply_transform(transform, raw))
                path = out / f"row{position:06d}_aug{copy}{suffix}"
                if suffix == ".png":
                    Image.fromarray(array).save(path)
                else:
                    np.save(path, array)
                row = df.iloc[position].copy()
                row[image] = str(path.resolve())
                row["source_row"] = df.index[position]
                row["augmentation"] = copy
                copies.append(row)
    originals = df.assign(source_row=df.index, augmentation=0)
    return pd.concat([originals, pd.DataFrame(copies)], ignore_index=True)
