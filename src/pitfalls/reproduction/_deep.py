"""Deep-learning experiments: models C/D, E/F (patches) and model I (batch effect).

Appendix B of the paper: a ResNet-50 with dropout 0.5 before a two-class head,
cross-entropy, Adam (lr 1e-4, betas 0.9/0.999), batch 32, 100 epochs, the weights
with the lowest validation loss kept, one train/validation/test split (70/15/15) and
one trained model per row of Table 2. Quick mode keeps that protocol and swaps the
network for :func:`pitfalls.torch.small_cnn` on 32-64 px images for a few epochs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
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
from ._tables import binary_metrics, table2_result

__all__ = [
    "augmentation_transform",
    "image_classifier",
    "load_patches",
    "run_augmentation",
    "run_batch_effect",
    "run_patient_split",
]

_N_COPIES = 2
_VAL_SIZE = 0.15
_TEST_SIZE = 0.15
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


def augmentation_transform() -> Any:
    """The training-time augmentation: flips, 90-degree turns, mild brightness jitter.

    Histology patches have no orientation, so flips and right-angle rotations keep
    the label; the jitter mimics small staining differences.
    """
    import torchvision.transforms.v2 as T

    return T.Compose(
        [
            T.RandomHorizontalFlip(),
            T.RandomVerticalFlip(),
            T.RandomApply([T.RandomRotation((90, 90))], p=0.5),
            T.ColorJitter(brightness=0.1, contrast=0.1),
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
    verbose: bool = False,
) -> Any:
    """The Appendix B classifier (quick: :func:`quick_cnn`) as a scikit-learn estimator."""
    from pitfalls.torch import TorchImageClassifier

    weights, _ = _resnet_weights(settings)
    device = check_device(settings.device)
    return TorchImageClassifier(
        settings.architecture,
        module=quick_cnn if settings.architecture == "small" else None,
        epochs=settings.epochs if epochs is None else epochs,
        batch_size=settings.batch_size,
        lr=settings.learning_rate,
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
        random_state=random_state,
        verbose=verbose,
    )


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


def _train_and_score(
    settings: Settings,
    images: np.ndarray,
    labels: np.ndarray,
    split_groups: np.ndarray,
    *,
    transform: Any,
    seed: int,
    fit_groups: bool,
    patients: np.ndarray | None = None,
    epochs: int | None = None,
    verbose: bool = False,
) -> dict[str, Any]:
    """The four metrics on the test split; with ``patients``, also ``f1_ci`` (a note)."""
    train, test = _split_indices(labels, split_groups, seed)
    model = image_classifier(
        settings, transform=transform, random_state=seed, epochs=epochs, verbose=verbose
    )
    model.fit(images[train], labels[train], groups=split_groups[train] if fit_groups else None)
    predictions = np.asarray(model.predict(images[test]))
    scores: dict[str, Any] = dict(binary_metrics(labels[test], predictions))
    if patients is not None:
        scores["f1_ci"] = _f1_with_patient_interval(labels[test], predictions, patients[test], seed)
    return scores


def _runs_frame(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """Per-repeat metrics; the first run's patient-level F1 interval in ``attrs``."""
    frame = pd.DataFrame(runs, columns=list(METRICS))
    frame.attrs["f1_ci"] = runs[0].get("f1_ci", "") if runs else ""
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
            patients=patients, verbose=verbose,
        )
        for r in range(settings.dl_repeats)
    ]  # fmt: skip
    return _runs_frame(runs)


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
    notes = [
        f"{settings.architecture} network, {settings.epochs} epochs, batch {settings.batch_size}, "
        f"Adam lr {settings.learning_rate:g}, on {device}; 70/15/15 split, best validation loss; "
        f"{settings.dl_repeats} trained model(s) per row"
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
    runs = []
    for r in range(settings.dl_repeats):
        seed = settings.random_state + r
        augmented, source = _augment_all(images, n_copies=_N_COPIES, seed=seed)
        # every augmented copy is now a "sample" of its own: split them at random; as
        # in the paper, every model trains for the same number of epochs
        runs.append(
            _train_and_score(
                settings, augmented, labels[source], np.arange(len(augmented)),
                transform=None, seed=seed, fit_groups=False, patients=patients[source],
                verbose=verbose,
            )
        )  # fmt: skip
    scores = {
        "C": _runs_frame(runs),
        "D": _correct_patch_model(settings, data, verbose),
    }
    notes = [
        *_dl_notes(settings, data),
        f"model C: {_N_COPIES} augmented copies of every patch written before a random split; "
        "model D: patient-level split, augmentation on the fly in training only "
        "(the paper's D and F are the same model)",
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
    )


@_limit_threads
def run_patient_split(settings: Settings, data: Path | None, verbose: bool) -> ExperimentResult:
    """Model E (patches split at random) vs model F (each patient in one split)."""
    images, manifest = load_patches(settings, data)
    labels = manifest["label"].to_numpy()
    patients = manifest["patient_id"].to_numpy()
    runs = [
        _train_and_score(
            settings, images, labels, np.arange(len(labels)),
            transform=augmentation_transform(), seed=settings.random_state + r, fit_groups=False,
            patients=patients, verbose=verbose,
        )
        for r in range(settings.dl_repeats)
    ]  # fmt: skip
    scores = {
        "E": _runs_frame(runs),
        "F": _correct_patch_model(settings, data, verbose),
    }
    notes = [
        *_dl_notes(settings, data),
        "model E: patches split at random (a patient's patches on both sides); "
        "model F: patient-level split (pitfalls.model_selection.train_val_test_split with groups)",
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
    settings: Settings, images: np.ndarray, manifest: pd.DataFrame, verbose: bool
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
    model = image_classifier(settings, transform=None, random_state=seed, verbose=verbose)
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


def _control_outside_lungs(settings: Settings, n_shown: int, verbose: bool) -> tuple[float, float]:
    """Model I's twin trained where the source says nothing about the label
    (``make_batch_xray(source_effect=0)``): it has to find the disease in the lungs.
    Returns the median share of its |IG| outside the lungs and the share of pixels there."""
    from pitfalls.torch._attribution import _fraction_outside

    images, manifest, masks = _load_xray(settings, None, source_effect=0.0)
    assert masks is not None
    model, _, external = _fit_on_internal(settings, images, manifest, verbose)
    shown = external[:n_shown]
    shares = _fraction_outside(_pneumonia_attributions(model, images[shown]), masks[shown])
    return float(np.median(shares)), 1 - float(np.mean(masks[shown]))


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


def _fit_and_evaluate_model_i(
    settings: Settings, images: np.ndarray, manifest: pd.DataFrame, verbose: bool
) -> _ModelI:
    labels = manifest["label"].to_numpy()
    model, test, external = _fit_on_internal(settings, images, manifest, verbose)
    normal_test = test[labels[test] == 0]
    external_predictions = np.asarray(model.predict(images[external]))
    return _ModelI(
        model=model,
        test=test,
        external=external,
        internal_scores=binary_metrics(labels[test], np.asarray(model.predict(images[test]))),
        internal_normals_ok=float(np.mean(model.predict(images[normal_test]) == 0)),
        external_predictions=external_predictions,
        external_ok=float(np.mean(external_predictions == 0)),
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
    scores: pd.DataFrame,
    masks: np.ndarray,
    shown: np.ndarray,
    outside: np.ndarray,
    verbose: bool,
) -> str:
    """Add Figure 4's share outside the lungs, for model I and its control, to ``scores``;
    return the note that reads it."""
    uniform = 1 - float(np.mean(masks[shown]))
    control, control_uniform = _control_outside_lungs(settings, len(shown), verbose)
    scores.loc["external", "attribution_outside_lungs"] = float(np.median(outside))
    scores.loc["control", "attribution_outside_lungs"] = control
    return (
        f"median share of |Integrated Gradients| (blurred-image baseline) outside the "
        f"lung fields on {len(shown)} external normals: model I {np.median(outside):.0%} "
        f"(where {uniform:.0%} of the pixels are); a control trained the same way on "
        f"images whose source says nothing about the label (make_batch_xray("
        f"source_effect=0)), which has to find the disease in the lungs: {control:.0%} "
        f"(pixels {control_uniform:.0%})"
    )


@_limit_threads
def run_batch_effect(settings: Settings, data: Path | None, verbose: bool) -> ExperimentResult:
    """Model I: trained on pneumonia from source A vs normals from source B, tested on
    source-A normals; Integrated Gradients show where it looks."""
    images, manifest, masks = _load_xray(settings, data)
    fit = _fit_and_evaluate_model_i(settings, images, manifest, verbose)
    figure, shown, outside = _figure4(fit, images, masks)
    scores, comparisons = _batch_effect_scores(fit)
    notes = [
        *_dl_notes(settings, data, cohort="chest X-ray"),
        "internal: pneumonia only from source A, normals only from source B; external: "
        f"{len(fit.external)} normals from source A"
        + (" (pitfalls.datasets.make_batch_xray)" if data is None else " (Kermany normals)"),
    ]
    if masks is not None and outside is not None:
        notes.insert(1, _attribution_note(settings, scores, masks, shown, outside, verbose))
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
    )
