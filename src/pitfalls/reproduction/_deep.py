"""Deep-learning experiments: models C/D, E/F (patches) and model I (batch effect).

Appendix B of the paper: a ResNet-50 with dropout 0.5 before a two-class head,
cross-entropy, Adam (lr 1e-4, betas 0.9/0.999), batch 32, 100 epochs, "the model with
the lowest loss" kept (full mode reads it as the validation loss), one
train/validation/test split (70/15/15) and one trained model per row of Table 2. Quick
mode keeps the split and swaps the network for :func:`patch_cnn` (patches, 32 px,
one-cycle schedule, the lowest training loss kept, four models per row for a
rank-sum test) and :func:`quick_cnn` (X-rays, 64 px), trained on one CPU core.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import os
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._paper import METRICS, PAPER_BATCH_EFFECT
from ._result import ExperimentResult
from ._settings import Settings, check_device
from ._study import held_out_manifest, runs_gap, study_of_predictions
from ._tables import binary_metrics, table2_result

__all__ = [
    "augmentation_transform",
    "image_classifier",
    "load_patches",
    "run_augmentation",
    "run_batch_effect",
    "run_patient_split",
]

# One augmented copy per patch: a random split then leaves about 15% of test
# patches without a twin in training, the contrast that shows the leak.
_N_COPIES = 1
_VAL_SIZE = 0.15
_TEST_SIZE = 0.15
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


def augmentation_transform() -> Any:
    """The training-time augmentation: horizontal and vertical flips, 90-degree turns.

    Histology patches have no orientation, so these eight symmetries of the square
    keep the label and everything else about the patch: an augmented twin is the same
    tissue seen from another side. (No colour jitter: it would blur the very stain
    signature that tells patients apart, and the paper's leak is about twins.)
    """
    import torchvision.transforms.v2 as T

    return T.Compose(
        [
            T.RandomHorizontalFlip(),
            T.RandomVerticalFlip(),
            T.RandomApply([T.RandomRotation((90, 90))], p=0.5),
        ]
    )


def _resnet_weights(settings: Settings) -> tuple[Any, str | None]:
    """ImageNet weights for full mode if already in the torch hub cache, else random init."""
    if settings.architecture != "resnet50":
        return None, None
    from pitfalls.torch import resnet50_classifier

    try:
        resnet50_classifier(2, weights="IMAGENET1K_V2")
    except Exception as exc:  # not cached: never download, say so in the report
        return None, (
            f"ResNet-50 trained from random initialisation (ImageNet weights not in the "
            f"torch hub cache: {str(exc).splitlines()[0]})"
        )
    return "IMAGENET1K_V2", None


def quick_cnn(n_classes: int, n_channels: int) -> Any:
    """The quick-mode network: three conv blocks and a small hidden layer.

    Large enough to memorise a patient's stain and scanner signature (which is what
    the leaky protocols reward) yet about a second per epoch on one CPU core at 32 px.
    """
    from torch import nn

    def block(c_in: int, c_out: int, pool: bool) -> list[nn.Module]:
        layers: list[nn.Module] = [
            nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        ]
        return [*layers, nn.MaxPool2d(2)] if pool else layers

    return nn.Sequential(
        *block(n_channels, 32, True),
        *block(32, 64, True),
        *block(64, 64, False),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, 64),
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),  # as Appendix B: dropout 0.5 before the classifier layer
        nn.Linear(64, n_classes),
    )


def _symmetric_kernel() -> Any:
    """A parametrization that makes a conv kernel symmetric under flips and transposition."""
    from torch import nn

    class SymmetricKernel(nn.Module):
        def forward(self, weight: Any) -> Any:
            flipped = weight + weight.flip(-1)
            flipped = flipped + flipped.flip(-2)
            return (flipped + flipped.transpose(-1, -2)) / 8

    return SymmetricKernel()


def patch_cnn(n_classes: int, n_channels: int) -> Any:
    """The quick-mode patch network: four conv blocks blind to the patch's orientation.

    Every 3x3 kernel is kept symmetric under the eight flips and right-angle turns
    of the square, so (with zero padding, 2x2 pooling on even sizes and global
    average pooling) the network gives a patch and any of its flipped or turned
    twins exactly the same output. Histology has no orientation, so nothing is lost;
    what is gained is that a network which memorises its training patches, as the
    paper's ResNet-50 did, also recognises their augmented twins, the leak of model
    C. Widths 16-32-64-128 and a 256-unit hidden layer let it fit its 32-px
    training data (training F1 >= 0.95) in 40 epochs on one CPU core.

    Examples
    --------
    >>> import torch
    >>> from pitfalls.reproduction._deep import patch_cnn
    >>> net = patch_cnn(2, 3).eval()
    >>> x = torch.rand(1, 3, 32, 32)
    >>> twins = torch.cat([x, x.flip(-1), x.flip(-2), x.transpose(-1, -2).flip(-1)])
    >>> out = net(twins)
    >>> bool(torch.allclose(out, out[:1].expand(4, -1), atol=1e-5))
    True
    """
    from torch import nn
    from torch.nn.utils import parametrize

    def block(c_in: int, c_out: int, pool: bool) -> list[nn.Module]:
        conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        parametrize.register_parametrization(conv, "weight", _symmetric_kernel())
        layers: list[nn.Module] = [conv, nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
        return [*layers, nn.MaxPool2d(2)] if pool else layers

    widths = (16, 32, 64, 128)
    layers: list[nn.Module] = []
    for k, (c_in, c_out) in enumerate(zip((n_channels, *widths[:-1]), widths, strict=True)):
        layers += block(c_in, c_out, pool=k < len(widths) - 1)
    return nn.Sequential(
        *layers,
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(widths[-1], 256),
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),  # as Appendix B: dropout 0.5 before the classifier layer
        nn.Linear(256, n_classes),
    )


@contextlib.contextmanager
def torch_threads(settings: Settings) -> Iterator[None]:
    """One intra-op thread for quick CPU runs, restored afterwards.

    Small networks gain nothing from intra-op parallelism, and on a busy machine
    OpenMP threads that spin-wait for each other made one epoch 30 times slower
    (measured: 0.44 s with one thread, 13 s with two under a load of 12).
    """
    import torch

    if not settings.quick or check_device(settings.device) != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _limit_threads(func: Callable[[Settings, Path | None, bool], ExperimentResult]) -> Any:
    @functools.wraps(func)
    def wrapper(settings: Settings, data: Path | None, verbose: bool) -> ExperimentResult:
        with torch_threads(settings):
            return func(settings, data, verbose)

    return wrapper


def image_classifier(
    settings: Settings,
    *,
    transform: Any,
    random_state: int,
    epochs: int | None = None,
    network: str = "patch",
    checkpoint_name: str | None = None,
    verbose: bool = False,
) -> Any:
    """The Appendix B classifier as a scikit-learn estimator.

    Full mode: ResNet-50, the paper's epochs, batch 32, Adam 1e-4 at a constant rate,
    the lowest validation loss kept, with a checkpoint per model under
    ``settings.checkpoint_dir`` so an interrupted run resumes. Quick mode:
    :func:`patch_cnn` with a one-cycle schedule and the lowest training loss kept for
    the patches (``network="patch"``), :func:`quick_cnn` for the X-rays (``"xray"``).
    """
    from pitfalls.torch import TorchImageClassifier

    weights, _ = _resnet_weights(settings)
    device = check_device(settings.device)
    xray = network == "xray"
    quick_module = quick_cnn if xray else patch_cnn
    checkpoint = None
    if settings.checkpoint_dir is not None and checkpoint_name is not None:
        checkpoint = Path(settings.checkpoint_dir) / f"{checkpoint_name}-seed{random_state}.pt"
    default_epochs = settings.xray_epochs if xray else settings.epochs
    return TorchImageClassifier(
        settings.architecture,
        module=quick_module if settings.architecture == "small" else None,
        epochs=default_epochs if epochs is None else epochs,
        batch_size=settings.batch_size,
        lr=settings.xray_learning_rate if xray else settings.learning_rate,
        lr_schedule="constant" if xray else settings.lr_schedule,
        monitor="val_loss" if xray else settings.monitor,
        dropout=0.5,
        weights=weights,
        train_transform=transform,
        # the validation share of the paper's 70/15/15 split, taken inside fit
        validation_fraction=_VAL_SIZE / (1 - _TEST_SIZE),
        device=device,
        # on a GPU, augmentation in the main process can starve it (model C took 376 s
        # on an H200 with num_workers=0; not profiled); on the CPU, workers would only
        # compete with the training threads
        num_workers=_loader_workers() if device == "cuda" else 0,
        checkpoint=checkpoint,
        random_state=random_state,
        verbose=verbose,
    )


def _seconds_per_batch(settings: Settings, network: str, n_channels: int, size: int) -> float:
    """Time a few training steps of the experiment's network on its device."""
    import time

    import torch

    from pitfalls.torch import resnet50_classifier

    device = check_device(settings.device)
    if settings.architecture == "small":
        net = (quick_cnn if network == "xray" else patch_cnn)(2, n_channels)
    else:
        net = resnet50_classifier(2, dropout=0.5)
        n_channels = 3
    net = net.to(device).train()
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.learning_rate)
    x = torch.rand(settings.batch_size, n_channels, size, size, device=device)
    y = torch.arange(settings.batch_size, device=device) % 2
    timings = []
    for _ in range(5):  # the first two warm up (cuDNN autotuning, allocator)
        start = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device == "cuda":
            torch.cuda.synchronize()
        timings.append(time.perf_counter() - start)
    return float(np.median(timings[2:]))


def announce_estimate(
    settings: Settings,
    experiment: str,
    *,
    n_images: int,
    n_models: int,
    image_shape: tuple[int, int],
    network: str = "patch",
) -> str:
    """Estimate a full-mode experiment's training time, print it, and return it as a note.

    Measured, not guessed: a few training steps of the experiment's network on its
    device, times the batches of every epoch of every model (plus a tenth for
    validation and prediction). Printed to stderr before training starts, because
    full mode runs for hours; quick mode (minutes) prints nothing.
    """
    import sys

    size, n_channels = image_shape
    per_batch = _seconds_per_batch(settings, network, n_channels, size)
    epochs = settings.xray_epochs if network == "xray" else settings.epochs
    batches = math.ceil(n_images / settings.batch_size) * epochs * n_models
    seconds = 1.1 * per_batch * batches
    where = (
        f"; checkpoints in {settings.checkpoint_dir}/ (rerun the same command to resume)"
        if settings.checkpoint_dir
        else ""
    )
    note = (
        f"{experiment}: estimated training time {seconds / 3600:.1f} h ({n_models} model(s), "
        f"{epochs} epochs of {n_images} images, {per_batch:.3f} s per batch of "
        f"{settings.batch_size} measured on {check_device(settings.device)}){where}"
    )
    if not settings.quick:
        print(f"pitfalls reproduce: {note}", file=sys.stderr, flush=True)
    return note


def _estimate_notes(
    settings: Settings,
    experiment: str,
    images: np.ndarray,
    *,
    n_models: int,
    n_per_image: int = 1,
    network: str = "patch",
) -> list[str]:
    """Full mode only: announce the training time (70% of the images train each model)."""
    if settings.quick:
        return []
    n_channels = images.shape[3] if images.ndim == 4 else 1
    return [
        announce_estimate(
            settings, experiment, n_images=int(0.7 * len(images) * n_per_image),
            n_models=n_models, image_shape=(images.shape[1], n_channels), network=network,
        )
    ]  # fmt: skip


def _loader_workers() -> int:
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def _read_patch_directory(data: Path, image_size: int) -> tuple[np.ndarray, pd.DataFrame]:
    from PIL import Image

    rows, images = [], []
    for path in sorted(p for p in data.glob("*/*/*") if p.suffix.lower() in _IMAGE_SUFFIXES):
        label = path.parent.name.lower()
        if label not in ("solid", "acinar"):
            continue
        with Image.open(path) as handle:
            image = handle.convert("RGB").resize(
                (image_size, image_size), Image.Resampling.BILINEAR
            )
        images.append(np.asarray(image, dtype=np.uint8))
        rows.append({"patient_id": path.parent.parent.name, "label": int(label == "acinar")})
    if not images:
        raise FileNotFoundError(
            f"data={str(data)!r} holds no <patient>/solid|acinar/*.png|jpeg patches."
        )
    return np.stack(images), pd.DataFrame(rows)


def load_patches(settings: Settings, data: Path | None) -> tuple[np.ndarray, pd.DataFrame]:
    """Patches and their manifest (``patient_id``, ``label``; 1 = acinar)."""
    if data is not None:
        return _read_patch_directory(data, settings.image_size)
    from pitfalls.datasets import make_patch_cohort

    return make_patch_cohort(
        n_patients=110,
        patches_per_patient=settings.patches_per_patient,
        image_size=settings.image_size,
        random_state=settings.random_state,
    )


def _split_indices(
    labels: np.ndarray, groups: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train (train + validation) and test indices of a 70/15/15 group-aware split."""
    from pitfalls.model_selection import train_val_test_split

    index = np.arange(len(labels))
    train, val, test = train_val_test_split(
        index,
        groups=groups,
        stratify=labels,
        val_size=_VAL_SIZE,
        test_size=_TEST_SIZE,
        random_state=seed,
    )
    return np.sort(np.r_[train, val]), np.sort(test)


def _f1_with_patient_interval(
    y_true: np.ndarray, y_pred: np.ndarray, patients: np.ndarray, seed: int
) -> str:
    """Test F1 with its 95% interval from resampling patients (their patches are not independent)."""
    from pitfalls.exceptions import MetricWarning
    from pitfalls.metrics import classification_summary

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        summary = classification_summary(y_true, y_pred, groups=patients, random_state=seed)
    row = summary.to_frame().loc["f1"]
    return (
        f"F1 {row['value']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}] on "
        f"{summary.n_samples} test patches of {summary.n_groups} patients (95% CI, "
        f"{summary.n_bootstraps} patient-level bootstrap replicates)"
    )


#: Per-repeat figures beside the four metrics: training F1 (on the rows the weights
#: were fitted on), the epoch kept, the epoch of the lowest validation loss and the
#: validation loss there and at the kept epoch, and the explanation of the leak: the
#: share of test patches with a twin in training (an augmented copy of the same patch
#: for model C, a patch of the same patient for E, D and F) and test F1 on those with
#: and without one.
EXPLAINING = (
    "train_f1", "best_epoch", "val_min_epoch", "val_loss_min", "val_loss_kept",
    "twin_share", "f1_with_twin", "f1_without_twin", "patient_share",
)  # fmt: skip


def _fingerprint(images: np.ndarray, labels: np.ndarray, rows: np.ndarray) -> str:
    """A short digest of what a model trains on, in its checkpoint's name, so a rerun on
    other data or another split never resumes from this model's checkpoint."""
    import hashlib

    digest = hashlib.sha1(repr(images.shape).encode())
    digest.update(np.ascontiguousarray(rows, dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(labels[rows], dtype=np.int64).tobytes())
    digest.update(np.ascontiguousarray(images[rows[:64]]).tobytes())
    return digest.hexdigest()[:10]


def _twin_scores(y_true: np.ndarray, y_pred: np.ndarray, has_twin: np.ndarray) -> dict[str, float]:
    """Share of test rows with a twin in training; test F1 on rows with and without one."""

    def f1(rows: np.ndarray) -> float:
        return binary_metrics(y_true[rows], y_pred[rows])["f1"] if rows.any() else np.nan

    return {
        "twin_share": float(np.mean(has_twin)),
        "f1_with_twin": f1(has_twin),
        "f1_without_twin": f1(~has_twin),
    }


def _validation_loss_path(history: pd.DataFrame, kept: int) -> dict[str, float]:
    """Where the validation loss was lowest (epoch counted from 1) and its value there
    and at the kept epoch: on other patients it is lowest before the network fits."""
    val_loss = history["val_loss"].to_numpy(dtype=float)
    if not np.isfinite(val_loss).any():
        return {"val_min_epoch": np.nan, "val_loss_min": np.nan, "val_loss_kept": np.nan}
    lowest = int(np.nanargmin(val_loss))
    return {
        "val_min_epoch": lowest + 1,
        "val_loss_min": float(val_loss[lowest]),
        "val_loss_kept": float(val_loss[kept]),
    }


def _train_and_score(
    settings: Settings,
    images: np.ndarray,
    labels: np.ndarray,
    split_groups: np.ndarray,
    *,
    transform: Any,
    seed: int,
    fit_groups: bool,
    twin_key: np.ndarray,
    checkpoint_name: str,
    patients: np.ndarray | None = None,
    verbose: bool = False,
    keep_predictions: bool = False,
) -> dict[str, Any]:
    """Test metrics, training F1 and the twin breakdown of one trained model.

    ``twin_key`` marks rows that are twins of each other (the source patch for model
    C, the patient otherwise): a test row "has a twin in training" when a row with
    its key is among the rows the weights were fitted on.
    """
    train, test = _split_indices(labels, split_groups, seed)
    model = image_classifier(
        settings, transform=transform, random_state=seed, verbose=verbose,
        checkpoint_name=f"{checkpoint_name}-{_fingerprint(images, labels, train)}",
    )  # fmt: skip
    model.fit(images[train], labels[train], groups=split_groups[train] if fit_groups else None)
    fitted = train[model.train_indices_]
    # one pass of the network over the test patches: predict is the argmax of these
    proba = np.asarray(model.predict_proba(images[test]))
    predictions = model.classes_[np.argmax(proba, axis=1)]
    scores: dict[str, Any] = dict(binary_metrics(labels[test], predictions))
    scores["train_f1"] = binary_metrics(labels[fitted], model.predict(images[fitted]))["f1"]
    scores["best_epoch"] = model.best_epoch_ + 1  # counted from 1 in the notes
    scores.update(_validation_loss_path(model.history_, model.best_epoch_))
    has_twin = np.isin(twin_key[test], twin_key[fitted])
    scores.update(_twin_scores(labels[test], predictions, has_twin))
    if patients is not None:
        # model C's test patches without a twin may still have their patient in training
        scores["patient_share"] = float(np.mean(np.isin(patients[test], patients[fitted])))
        scores["f1_ci"] = _f1_with_patient_interval(labels[test], predictions, patients[test], seed)
    if keep_predictions:  # for the study report: which rows played which part, and scores
        scores["evaluation"] = (fitted, np.setdiff1d(train, fitted), test, proba[:, 1])
    return scores


def _runs_frame(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """Per-repeat metrics; the first run's patient-level F1 interval in ``attrs``."""
    frame = pd.DataFrame(runs, columns=[*METRICS, *EXPLAINING])
    frame.attrs["f1_ci"] = runs[0].get("f1_ci", "") if runs else ""
    if runs and "evaluation" in runs[0]:
        frame.attrs["evaluation"] = runs[0]["evaluation"]
    return frame


@functools.lru_cache(maxsize=4)
def _correct_patch_model(settings: Settings, data: Path | None, verbose: bool) -> pd.DataFrame:
    """Model D = model F: patient-level split, augmentation on the fly in training only.

    Cached because the paper's D and F are the same model; running both experiments
    trains it once.
    """
    images, manifest = load_patches(settings, data)
    labels = manifest["label"].to_numpy()
    patients = manifest["patient_id"].to_numpy()
    runs = [
        _train_and_score(
            settings, images, labels, patients,
            transform=augmentation_transform(), seed=settings.random_state + r, fit_groups=True,
            twin_key=patients, checkpoint_name="model-D", patients=patients, verbose=verbose,
            keep_predictions=r == 0,
        )
        for r in range(settings.dl_repeats)
    ]  # fmt: skip
    return _runs_frame(runs)


def _patch_study(
    settings: Settings,
    manifest: pd.DataFrame,
    scores: dict[str, pd.DataFrame],
    leaky: str,
    correct: str,
) -> Any:
    """Study report of the first correct patch model (D = F), with the leaky runs' gap.

    ``manifest`` is the experiment's patch manifest (:func:`load_patches`), whose rows
    the correct model's evaluation indexes.
    """
    fitted, validation, test, proba = scores[correct].attrs["evaluation"]
    study = held_out_manifest(manifest, fitted=fitted, validation=validation, test=test)
    gap = runs_gap(
        "augmentation" if leaky == "C" else "group_split",
        scores[leaky]["f1"].to_numpy(),
        scores[correct]["f1"].to_numpy(),
    )
    scores_of_test = pd.Series(proba, index=test.astype(str))  # sample id = row number
    return study_of_predictions(study, scores_of_test, settings, leakage=gap)


def _augment_all(images: np.ndarray, n_copies: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """THE PITFALL of model C: write augmented twins of every patch before splitting.

    Returns the originals followed by their copies and, per row, the original row.
    """
    from pitfalls.exceptions import LeakageWarning
    from pitfalls.torch import augment_before_split, load_image

    manifest = pd.DataFrame({"image": list(images)})
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", LeakageWarning)  # measuring it is the point here
        augmented = augment_before_split(
            manifest,
            image="image",
            transform=augmentation_transform(),
            out_dir=tmp,
            n_copies=n_copies,
            random_state=seed,
        )
        copies = [
            value if isinstance(value, np.ndarray) else load_image(value, mode="RGB")
            for value in augmented["image"]
        ]
        stacked = np.stack([np.asarray(c, dtype=np.uint8) for c in copies])
    return stacked, augmented["source_row"].to_numpy()


def _interval_notes(scores: dict[str, pd.DataFrame]) -> list[str]:
    """One note per model: its first repeat's test F1 with the patient-level interval."""
    return [
        f"model {model}, repeat 1: {frame.attrs['f1_ci']}"
        for model, frame in scores.items()
        if frame.attrs.get("f1_ci")
    ]


_TWIN_WORDS = {
    "C": "an augmented twin of the same patch",
    "D": "a patch of the same patient",
    "E": "a patch of the same patient",
    "F": "a patch of the same patient",
}


def _fit_text(model: str, mean: pd.Series) -> str:
    """How well a model fits its training data, and where its validation loss was lowest."""
    text = (
        f"model {model}: training F1 {mean['train_f1']:.3f} (weights of epoch "
        f"{mean['best_epoch']:.0f} on average)"
    )
    if np.isnan(mean["val_loss_min"]):
        return text
    return (
        f"{text}; validation loss {mean['val_loss_kept']:.2f} there, lowest "
        f"({mean['val_loss_min']:.2f}) at epoch {mean['val_min_epoch']:.0f} on average"
    )


def _twin_text(model: str, frame: pd.DataFrame, mean: pd.Series) -> str:
    """The share of test patches with a twin in training and test F1 with and without one."""
    twin = _TWIN_WORDS.get(model, "a twin")
    if not mean["twin_share"] > 0:
        return f"no test patch has {twin} in training"
    without = frame["f1_without_twin"].dropna()
    without_text = (
        f"{without.mean():.3f} on the others" if len(without) else "no test patch without one"
    )
    text = (
        f"{mean['twin_share']:.0%} of test patches have {twin} in training; test F1 "
        f"{frame['f1_with_twin'].mean():.3f} on those, {without_text}"
    )
    if model == "C" and not np.isnan(mean["patient_share"]):
        text += f"; {mean['patient_share']:.0%} have a patch of the same patient in training"
    return text


def _explaining_notes(scores: dict[str, pd.DataFrame]) -> list[str]:
    """Why the leaky model scores higher, one line per model (means over the repeats)."""
    lines = []
    for model, frame in scores.items():
        mean = frame[list(EXPLAINING)].mean()
        lines.append(f"{_fit_text(model, mean)}; {_twin_text(model, frame, mean)}")
    return lines


def _figure_scores(scores: dict[str, pd.DataFrame], title: str) -> Any:
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(5, 3))
    models = list(scores)
    means = [scores[m]["f1"].mean() for m in models]
    ax.bar(models, means, color=["tab:red", "tab:green"][: len(models)])
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1 on the test split")
    ax.set_title(title)
    return figure


def _dl_notes(settings: Settings, data: Path | None, *, cohort: str = "patch") -> list[str]:
    device = check_device(settings.device)
    _, weights_note = _resnet_weights(settings)
    xray = cohort != "patch"
    network = settings.architecture
    if settings.architecture == "small":
        network = "small CNN" if xray else "orientation-blind CNN (patch_cnn)"
    epochs = settings.xray_epochs if xray else settings.epochs
    rate = settings.xray_learning_rate if xray else settings.learning_rate
    schedule = "constant" if xray else settings.lr_schedule
    monitor = "val_loss" if xray else settings.monitor
    kept = "lowest training loss" if monitor == "train_loss" else "lowest validation loss"
    notes = [
        f"{network}, {epochs} epochs, batch {settings.batch_size}, Adam lr {rate:g} "
        f"({schedule} schedule), on {device}; 70/15/15 split, weights of the {kept} kept; "
        f"{settings.dl_repeats if not xray else 1} trained model(s) per row"
        + ("" if data is not None else f"; synthetic {cohort} cohort (pitfalls.datasets)")
    ]
    if weights_note:
        notes.append(weights_note)
    if not settings.quick and device == "cpu":
        notes.append("full mode on a CPU: expect hours; use --device cuda where available")
    return notes


@_limit_threads
def run_augmentation(settings: Settings, data: Path | None, verbose: bool) -> ExperimentResult:
    """Model C (augmented copies made before the split) vs model D (augment in training)."""
    images, manifest = load_patches(settings, data)
    labels = manifest["label"].to_numpy()
    patients = manifest["patient_id"].to_numpy()
    estimate = _estimate_notes(
        settings, "augmentation (C, D)", images, n_models=2 * settings.dl_repeats,
        n_per_image=1 + _N_COPIES,
    )  # fmt: skip
    runs = []
    for r in range(settings.dl_repeats):
        seed = settings.random_state + r
        augmented, source = _augment_all(images, n_copies=_N_COPIES, seed=seed)
        # every augmented copy is now a "sample" of its own: split them at random; as
        # in the paper, every model trains for the same number of epochs
        runs.append(
            _train_and_score(
                settings, augmented, labels[source], np.arange(len(augmented)),
                transform=None, seed=seed, fit_groups=False, twin_key=source,
                checkpoint_name="model-C", patients=patients[source], verbose=verbose,
            )
        )  # fmt: skip
    scores = {
        "C": _runs_frame(runs),
        "D": _correct_patch_model(settings, data, verbose),
    }
    notes = [
        *_dl_notes(settings, data),
        *estimate,
        f"model C: {_N_COPIES} augmented cop{'y' if _N_COPIES == 1 else 'ies'} of every patch "
        "written before a random split; "
        "model D: patient-level split, augmentation on the fly in training only "
        "(the paper's D and F are the same model)",
        *_explaining_notes(scores),
        *_interval_notes(scores),
    ]
    return table2_result(
        name="augmentation",
        title="Models C/D: data augmentation before vs after the split (solid vs acinar patches)",
        reference="Table 2, models C and D",
        leaky="C",
        correct="D",
        scores=scores,
        figures={"C vs D: test F1": _figure_scores(scores, "Augmentation before vs after split")},
        notes=notes,
        study=_patch_study(settings, manifest, scores, "C", "D"),
    )


@_limit_threads
def run_patient_split(settings: Settings, data: Path | None, verbose: bool) -> ExperimentResult:
    """Model E (patches split at random) vs model F (each patient in one split)."""
    images, manifest = load_patches(settings, data)
    labels = manifest["label"].to_numpy()
    patients = manifest["patient_id"].to_numpy()
    estimate = _estimate_notes(
        settings, "patient-split (E, F)", images, n_models=2 * settings.dl_repeats
    )
    runs = [
        _train_and_score(
            settings, images, labels, np.arange(len(labels)),
            transform=augmentation_transform(), seed=settings.random_state + r, fit_groups=False,
            twin_key=patients, checkpoint_name="model-E", patients=patients, verbose=verbose,
        )
        for r in range(settings.dl_repeats)
    ]  # fmt: skip
    scores = {
        "E": _runs_frame(runs),
        "F": _correct_patch_model(settings, data, verbose),
    }
    notes = [
        *_dl_notes(settings, data),
        *estimate,
        "model E: patches split at random (a patient's patches on both sides); "
        "model F: patient-level split (pitfalls.model_selection.train_val_test_split with groups)",
        *_explaining_notes(scores),
        *_interval_notes(scores),
    ]
    return table2_result(
        name="patient-split",
        title="Models E/F: one patient's patches across splits vs patient-level split",
        reference="Table 2, models E and F",
        leaky="E",
        correct="F",
        scores=scores,
        figures={"E vs F: test F1": _figure_scores(scores, "Patch-level vs patient-level split")},
        notes=notes,
        study=_patch_study(settings, manifest, scores, "E", "F"),
    )


def _load_real_xray(settings: Settings, data: Path) -> tuple[np.ndarray, pd.DataFrame]:
    """The paper's Batch X-Ray set: Kermany pneumonia + RSNA normals; Kermany normals external."""
    from pitfalls.datasets import load_chest_xray_kermany, load_rsna_pneumonia

    kermany_dir, rsna_dir = data / "kermany", data / "rsna"
    for folder in (kermany_dir, rsna_dir):
        if not folder.is_dir():
            raise FileNotFoundError(
                f"data={str(data)!r} has no {folder.name}/ folder; put the Kermany chest "
                "X-ray tree in kermany/ and the RSNA challenge files in rsna/."
            )
    size = settings.xray_size
    kermany, k_images = load_chest_xray_kermany(kermany_dir, return_images=True, image_size=size)
    rsna, r_images = load_rsna_pneumonia(rsna_dir, return_images=True, image_size=size)
    # the paper's 8851 RSNA normals are the "Normal" class (not "No Lung Opacity / Not Normal")
    rsna_normal = (rsna["class"] == "Normal") if "class" in rsna else (rsna["label"] == 0)
    parts = [
        (kermany[kermany["label"] == 1], k_images[kermany["label"].to_numpy() == 1], "internal"),
        (rsna[rsna_normal], r_images[rsna_normal.to_numpy()], "internal"),
        (kermany[kermany["label"] == 0], k_images[kermany["label"].to_numpy() == 0], "external"),
    ]
    manifest = pd.concat(
        [
            pd.DataFrame(
                {
                    "patient_id": frame["site"].astype(str) + ":" + frame["patient_id"].astype(str),
                    "label": frame["label"].to_numpy(),
                    "cohort": cohort,
                }
            )
            for frame, _, cohort in parts
        ],
        ignore_index=True,
    )
    manifest.loc[manifest["cohort"] == "internal", "label"] = np.r_[
        np.ones(len(parts[0][0]), dtype=int), np.zeros(len(parts[1][0]), dtype=int)
    ]
    return np.concatenate([images for _, images, _ in parts]), manifest


def _load_xray(
    settings: Settings, data: Path | None, *, source_effect: float = 1.0
) -> tuple[np.ndarray, pd.DataFrame, np.ndarray | None]:
    if data is not None:
        images, manifest = _load_real_xray(settings, data)
        return images, manifest, None  # no lung masks in the public sets
    from pitfalls.datasets import make_batch_xray

    n_pneumonia, n_normal, n_external = settings.xray_counts
    images, manifest, masks = make_batch_xray(
        n_pneumonia=n_pneumonia,
        n_normal=n_normal,
        n_external=n_external,
        image_size=settings.xray_size,
        source_effect=source_effect,
        return_masks=True,
        random_state=settings.random_state,
    )
    return images, manifest, masks


def _fit_on_internal(
    settings: Settings,
    images: np.ndarray,
    manifest: pd.DataFrame,
    verbose: bool,
    checkpoint_name: str = "model-I",
) -> tuple[Any, np.ndarray, np.ndarray]:
    """Model I's protocol: fit on the internal set's training part (patient-level
    70/15/15). Returns the model, the internal test and the external indices."""
    internal = np.flatnonzero(manifest["cohort"].to_numpy() == "internal")
    external = np.flatnonzero(manifest["cohort"].to_numpy() == "external")
    labels = manifest["label"].to_numpy()
    patients = manifest["patient_id"].to_numpy()
    seed = settings.random_state
    train, test = _split_indices(labels[internal], patients[internal], seed)
    train, test = internal[train], internal[test]
    model = image_classifier(
        settings, transform=None, random_state=seed, network="xray", verbose=verbose,
        checkpoint_name=f"{checkpoint_name}-{_fingerprint(images, labels, train)}",
    )  # fmt: skip
    model.fit(images[train], labels[train], groups=patients[train])
    return model, test, external


def _blurred(batch: np.ndarray) -> np.ndarray:
    """Integrated Gradients' reference: each image blurred over a tenth of its width.

    It keeps the brightness and removes the detail. With the default black reference,
    dark lungs get little attribution even from a model that looks at them: on the
    synthetic set both model I and a control that must find the disease in the lungs
    put about as much outside the lungs as there are pixels there.
    """
    from scipy import ndimage

    sigma = max(1.0, batch.shape[-1] / 10)
    return np.stack(
        [ndimage.gaussian_filter(image, sigma=(0, sigma, sigma)) for image in batch]
    ).astype(np.float32)


def _pneumonia_attributions(model: Any, images: np.ndarray) -> Any:
    """Integrated Gradients of the pneumonia logit, against a blurred copy of each image."""
    from pitfalls.torch import integrated_gradients

    batch = _network_input(model, images)
    pneumonia = int(np.flatnonzero(model.classes_ == 1)[0])
    return integrated_gradients(
        model.model_, batch, target=pneumonia, baselines=_blurred(batch), n_steps=32
    )


#: External normals whose |IG| share outside the lungs is measured, per model, for the
#: rank-sum test of Figure 4 (the figure shows two of model I's).
_N_ATTRIBUTED = 32


def _shares_outside(
    model: Any, images: np.ndarray, masks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per image: the share of |Integrated Gradients| of the pneumonia logit outside the
    lungs, and the share of the image's pixels there (what an even spread would give)."""
    from pitfalls.torch._attribution import _fraction_outside

    outside = np.asarray(_fraction_outside(_pneumonia_attributions(model, images), masks))
    return outside, 1 - masks.reshape(len(masks), -1).mean(axis=1)


def _control_outside_lungs(settings: Settings, verbose: bool) -> tuple[np.ndarray, np.ndarray]:
    """Model I's twin trained where the source says nothing about the label
    (``make_batch_xray(source_effect=0)``): it has to find the disease in the lungs.
    :func:`_shares_outside` on its external normals (up to :data:`_N_ATTRIBUTED`)."""
    images, manifest, masks = _load_xray(settings, None, source_effect=0.0)
    assert masks is not None
    model, _, external = _fit_on_internal(settings, images, manifest, verbose, "control")
    rows = external[:_N_ATTRIBUTED]
    return _shares_outside(model, images[rows], masks[rows])


def _network_input(model: Any, images: np.ndarray) -> np.ndarray:
    """uint8 images -> float N x C x H x W in [0, 1], as TorchImageClassifier feeds them."""
    batch = images.astype(np.float32) / 255.0
    batch = batch[:, None] if batch.ndim == 3 else batch.transpose(0, 3, 1, 2)
    if model.architecture == "resnet50" and batch.shape[1] == 1:
        batch = np.repeat(batch, 3, axis=1)  # ResNet-50 takes RGB
    return np.ascontiguousarray(batch)


@dataclasses.dataclass(frozen=True)
class _ModelI:
    """Model I fitted on the internal set and its predictions on both evaluations."""

    model: Any
    test: np.ndarray  # internal test rows (pneumonia from A, normals from B)
    external: np.ndarray  # external rows (normals from source A)
    internal_scores: dict[str, float]
    internal_normals_ok: float  # share of internal-test normals called normal
    external_predictions: np.ndarray
    external_ok: float  # share of external normals called normal
    probabilities: np.ndarray  # pneumonia probability of the test rows, then the external


def _fit_and_evaluate_model_i(
    settings: Settings, images: np.ndarray, manifest: pd.DataFrame, verbose: bool
) -> _ModelI:
    labels = manifest["label"].to_numpy()
    model, test, external = _fit_on_internal(settings, images, manifest, verbose)
    # one pass of the network over both evaluations: predict is the argmax of these
    proba = np.asarray(model.predict_proba(images[np.r_[test, external]]))
    predicted = model.classes_[np.argmax(proba, axis=1)]
    test_predictions, external_predictions = predicted[: test.size], predicted[test.size :]
    return _ModelI(
        model=model,
        test=test,
        external=external,
        internal_scores=binary_metrics(labels[test], test_predictions),
        internal_normals_ok=float(np.mean(test_predictions[labels[test] == 0] == 0)),
        external_predictions=external_predictions,
        external_ok=float(np.mean(external_predictions == 0)),
        probabilities=proba[:, 1],
    )


def _figure4(
    fit: _ModelI, images: np.ndarray, masks: np.ndarray | None
) -> tuple[Any, np.ndarray, np.ndarray | None]:
    """Figure 4: where model I looks on external normals, those it calls pneumonia first.

    Returns the figure, the external rows attributed and, with lung masks, the share
    of each one's |attribution| outside the lungs.
    """
    import matplotlib.pyplot as plt

    from pitfalls.torch import plot_attribution
    from pitfalls.torch._attribution import _fraction_outside

    called_pneumonia = fit.external_predictions == 1
    shown = fit.external[np.argsort(~called_pneumonia, kind="stable")][:8]
    attributions = _pneumonia_attributions(fit.model, images[shown])
    outside = None if masks is None else _fraction_outside(attributions, masks[shown])
    figure, axes = plt.subplots(1, 2, figsize=(8, 4.3))
    for ax, k in zip(axes, range(min(2, len(shown))), strict=False):
        roi = None if masks is None else masks[shown[k]]
        plot_attribution(images[shown[k]], np.asarray(attributions[k].detach().cpu()), roi, ax=ax)
        called = (
            "pneumonia"
            if called_pneumonia[np.flatnonzero(fit.external == shown[k])[0]]
            else "normal"
        )
        where = "" if outside is None else f"\n{outside[k]:.0%} of |attribution| outside lungs"
        ax.set_title(f"external normal, called {called}{where}", fontsize=9)
    return figure, shown, outside


def _batch_effect_table(fit: _ModelI) -> pd.DataFrame:
    """The paper's figures for model I beside this run's."""
    paper = PAPER_BATCH_EFFECT
    header = {k: "F1" if k == "f1" else k.capitalize() for k in METRICS}
    no_metrics = dict.fromkeys(header.values(), "n/a")
    rows = [
        {"Evaluation": "internal test (Batch X-Ray)", "Source": "paper",
         **{header[k]: f"{paper[k]:.3f}" for k in METRICS}, "External normals correct": "n/a"},
        {"Evaluation": "internal test (Batch X-Ray)", "Source": "this run",
         **{header[k]: f"{v:.3f}" for k, v in fit.internal_scores.items()},
         "External normals correct": "n/a"},
        {"Evaluation": "external normals (source A)", "Source": "paper", **no_metrics,
         "External normals correct": f"{paper['external_correct_fraction']:.2%}"},
        {"Evaluation": "external normals (source A)", "Source": "this run", **no_metrics,
         "External normals correct": f"{fit.external_ok:.2%}"},
    ]  # fmt: skip
    return pd.DataFrame(rows)


def _batch_effect_scores(fit: _ModelI) -> tuple[pd.DataFrame, pd.DataFrame]:
    """This run's numbers (one row per evaluation) and the internal/external contrast."""
    comparisons = pd.DataFrame(
        [
            {
                "leaky": "internal normals correct",
                "correct": "external normals correct",
                "metric": "fraction of normals classified normal",
                "leaky_value": fit.internal_normals_ok,
                "correct_value": fit.external_ok,
            }
        ]
    )
    scores = pd.DataFrame(
        {
            "internal": {**fit.internal_scores, "normals_correct": fit.internal_normals_ok},
            "external": {"normals_correct": fit.external_ok},
        }
    ).T
    return scores, comparisons


def _attribution_note(
    settings: Settings,
    fit: _ModelI,
    images: np.ndarray,
    scores: pd.DataFrame,
    masks: np.ndarray,
    verbose: bool,
) -> str:
    """Figure 4 as numbers: the share of |IG| outside the lungs on external normals for
    model I and for its control, each over :data:`_N_ATTRIBUTED` images, and the
    rank-sum test over images of the share's excess over the pixel share (so images
    with larger or smaller lungs compare fairly); adds them to ``scores`` and returns
    the note that reads them."""
    from pitfalls.metrics import compare_runs

    rows = fit.external[:_N_ATTRIBUTED]
    model_i, model_i_pixels = _shares_outside(fit.model, images[rows], masks[rows])
    control, control_pixels = _control_outside_lungs(settings, verbose)
    test = compare_runs(model_i - model_i_pixels, control - control_pixels)
    scores.loc["external", "attribution_outside_lungs"] = float(np.median(model_i))
    scores.loc["control", "attribution_outside_lungs"] = float(np.median(control))
    scores.loc["external", "attribution_ranksum_pvalue"] = test.pvalue
    verdict = "told apart" if test.pvalue < 0.05 else "NOT told apart on this synthetic cohort"
    return (
        f"Figure 4 in numbers: median share of |Integrated Gradients| (blurred-image "
        f"baseline) outside the lung fields on external normals: model I "
        f"{np.median(model_i):.0%} over {len(model_i)} images (where "
        f"{np.median(model_i_pixels):.0%} of the pixels are); a control trained the same "
        f"way on images whose source says nothing about the label (make_batch_xray("
        f"source_effect=0)), which has to find the disease in the lungs: "
        f"{np.median(control):.0%} over {len(control)} images (pixels "
        f"{np.median(control_pixels):.0%}); rank-sum over images of the share minus the "
        f"pixel share: statistic={test.statistic:.2f}, p={test.pvalue:.2g}: {verdict}"
    )


def _model_i_study(settings: Settings, manifest: pd.DataFrame, fit: _ModelI) -> Any:
    """Study report of model I: internal test and external normals, sites A and B.

    The internal training rows are those not in the internal test split; of them, the
    weights were fitted on ``train_indices_`` and the rest gave the validation loss.
    """
    internal = np.flatnonzero(manifest["cohort"].to_numpy() == "internal")
    train = np.setdiff1d(internal, fit.test)
    fitted = train[fit.model.train_indices_]
    study = held_out_manifest(
        manifest, fitted=fitted, validation=np.setdiff1d(train, fitted), test=fit.test,
        external=fit.external,
    )  # fmt: skip
    scored = np.r_[fit.test, fit.external].astype(str)  # sample id = row number
    return study_of_predictions(study, pd.Series(fit.probabilities, index=scored), settings)


@_limit_threads
def run_batch_effect(settings: Settings, data: Path | None, verbose: bool) -> ExperimentResult:
    """Model I: trained on pneumonia from source A vs normals from source B, tested on
    source-A normals; Integrated Gradients show where it looks."""
    images, manifest, masks = _load_xray(settings, data)
    estimate = _estimate_notes(
        settings, "batch-effect (I and its control)", images,
        n_models=1 if masks is None else 2, network="xray",
    )  # fmt: skip
    fit = _fit_and_evaluate_model_i(settings, images, manifest, verbose)
    figure, _, outside = _figure4(fit, images, masks)
    scores, comparisons = _batch_effect_scores(fit)
    notes = [
        *_dl_notes(settings, data, cohort="chest X-ray"),
        *estimate,
        "internal: pneumonia only from source A, normals only from source B; external: "
        f"{len(fit.external)} normals from source A"
        + (" (pitfalls.datasets.make_batch_xray)" if data is None else " (Kermany normals)"),
    ]
    if masks is not None and outside is not None:
        notes.insert(1, _attribution_note(settings, fit, images, scores, masks, verbose))
    return ExperimentResult(
        name="batch-effect",
        title="Model I: batch effect, internal test vs external normals, Integrated Gradients",
        reference="Section (3), model I and Figure 4",
        table=_batch_effect_table(fit),
        scores=scores,
        comparisons=comparisons,
        figures={"Figure 4: Integrated Gradients on external normals": figure},
        notes=notes,
        # scores.csv holds every run's figures: here one row per evaluation
        raw=scores.rename_axis("evaluation").reset_index(),
        study=_model_i_study(settings, manifest, fit),
    )
