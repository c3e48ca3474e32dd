"""Quick (CPU, minutes) and full (paper-scale) settings of the reproduction."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .._deprecation import warn_renamed_function

__all__ = ["Settings", "check_device", "resolve_device", "resolve_settings"]

_DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Settings:
    """Every knob an experiment reads, resolved once from ``quick``/``full``.

    Quick mode keeps the protocols and shrinks their size: fewer repeats, fewer
    trees, no inner grid search, a small CNN trained from scratch on small images.
    Full mode is the paper's setting (Appendix A and B).

    Examples
    --------
    >>> from pitfalls.reproduction import resolve_settings
    >>> s = resolve_settings(quick=False)
    >>> s.n_repeats, s.n_estimators, s.nested, s.architecture, s.epochs, s.batch_size
    (100, 1000, True, 'resnet50', 100, 32)
    >>> resolve_settings(quick=True, n_repeats=3).n_repeats
    3
    """

    quick: bool
    device: str
    random_state: int
    n_jobs: int | None
    # radiomics models A, B, G, H and the accuracy example (Appendix A)
    n_repeats: int
    n_estimators: int
    nested: bool
    n_features: int
    k_best: int
    rfe_step: int
    # deep-learning models C-F and I (Appendix B)
    dl_repeats: int
    architecture: str
    epochs: int
    batch_size: int
    learning_rate: float
    lr_schedule: str
    monitor: str
    image_size: int
    patches_per_patient: int
    xray_counts: tuple[int, int, int]
    xray_size: int
    xray_epochs: int
    xray_learning_rate: float
    checkpoint_dir: str | None
    # Table 3 phantoms
    n_ct_cases: int
    ct_shape: tuple[int, int, int]

    def as_dict(self) -> dict[str, Any]:
        """The settings as a plain dict (for reports).

        Examples
        --------
        >>> from pitfalls.reproduction import resolve_settings
        >>> resolve_settings().as_dict()["quick"]
        True
        """
        return dataclasses.asdict(self)


def check_device(device: str) -> str:
    """Check the reproduction's ``device`` setting; ``"auto"`` becomes ``"cuda"`` or ``"cpu"``.

    ``"auto"`` is ``"cuda"`` when torch sees a CUDA device, else ``"cpu"`` (also without
    torch installed). Formerly ``resolve_device``, a name :func:`pitfalls.torch.resolve_device`
    keeps for the torch side (which returns a ``torch.device`` and knows Apple's MPS).

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}

    Returns
    -------
    str
        ``"cpu"`` or ``"cuda"``.

    Raises
    ------
    ValueError
        For another value, or ``"cuda"`` when torch sees no CUDA device.

    Examples
    --------
    >>> from pitfalls.reproduction import check_device
    >>> check_device("cpu")
    'cpu'
    >>> check_device("tpu")
    Traceback (most recent call last):
    ...
    ValueError: device='tpu' is not one of 'auto', 'cpu', 'cuda'.
    """
    if device not in _DEVICES:
        raise ValueError(f"device={device!r} is not one of 'auto', 'cpu', 'cuda'.")
    if device == "cpu":
        return "cpu"
    try:
        import torch
    except ImportError:
        cuda = False
    else:
        cuda = bool(torch.cuda.is_available())
    if device == "cuda" and not cuda:
        raise ValueError(
            "device='cuda' was requested but torch sees no CUDA device; use --device cpu."
        )
    return "cuda" if cuda else "cpu"


def resolve_device(device: str) -> str:
    """Deprecated alias of :func:`check_device` (removed in 0.3).

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}

    Returns
    -------
    str
        ``"cpu"`` or ``"cuda"``.

    Examples
    --------
    >>> import warnings
    >>> from pitfalls.reproduction import resolve_device
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", FutureWarning)
    ...     resolve_device("cpu")
    'cpu'
    """
    warn_renamed_function(
        "pitfalls.reproduction.resolve_device", "pitfalls.reproduction.check_device"
    )
    return check_device(device)


def resolve_settings(
    *,
    quick: bool = True,
    device: str = "auto",
    n_repeats: int | None = None,
    random_state: int = 0,
    n_jobs: int | None = None,
) -> Settings:
    """Settings for a quick (default) or full (paper-scale) run.

    Parameters
    ----------
    quick : bool, default=True
        Quick mode: CPU-sized, minutes. ``False``: the paper's settings.
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where deep-learning models train; resolved only when one is trained, so
        the radiomics experiments never import torch.
    n_repeats : int, optional
        Overrides the number of repeats (radiomics models and deep-learning runs).
    random_state : int, default=0
        Seed of every generator and model.
    n_jobs : int, optional
        Parallel jobs over repeats (joblib).

    Returns
    -------
    Settings

    Examples
    --------
    >>> from pitfalls.reproduction import resolve_settings
    >>> quick = resolve_settings()
    >>> quick.n_repeats, quick.n_estimators, quick.architecture
    (20, 100, 'small')
    >>> resolve_settings(n_repeats=0)
    Traceback (most recent call last):
    ...
    ValueError: n_repeats=0 must be a positive integer; use n_repeats >= 1.
    """
    if device not in _DEVICES:
        raise ValueError(f"device={device!r} is not one of 'auto', 'cpu', 'cuda'.")
    if n_repeats is not None and (
        isinstance(n_repeats, bool) or int(n_repeats) != n_repeats or n_repeats < 1
    ):
        raise ValueError(f"n_repeats={n_repeats!r} must be a positive integer; use n_repeats >= 1.")
    if quick:
        settings = Settings(
            quick=True, device=device, random_state=random_state, n_jobs=n_jobs,
            n_repeats=20, n_estimators=100, nested=False, n_features=1652, k_best=100, rfe_step=1,
            # four trained models per row: enough for a rank-sum test (p = 0.02 when the
            # leaky runs all score above the correct ones; five cost 70 s more on 2
            # cores, which the 10-minute budget of the quick run cannot spare); a small
            # network trained from scratch fits its training data (training F1 >= 0.98)
            # in 40 epochs with a one-cycle schedule peaking at 1e-3 (at 3e-3 the
            # batch-norm statistics lag the weights and E stopped at 0.95; the paper's
            # constant 1e-4 fine-tunes a pretrained ResNet-50). The weights of the lowest
            # *training* loss are kept: on other patients (D, F) the validation loss of
            # a network trained from scratch rises from the first epoch, so the lowest
            # validation loss kept weights that had not fitted (training F1 0.67).
            dl_repeats=4, architecture="small", epochs=40, batch_size=32,
            learning_rate=1e-3, lr_schedule="onecycle", monitor="train_loss",
            image_size=32, patches_per_patient=8, xray_counts=(240, 240, 120), xray_size=64,
            xray_epochs=20, xray_learning_rate=1e-3, checkpoint_dir=None,
            n_ct_cases=12, ct_shape=(40, 96, 96),
        )  # fmt: skip
    else:
        settings = Settings(
            quick=False, device=device, random_state=random_state, n_jobs=n_jobs,
            n_repeats=100, n_estimators=1000, nested=True, n_features=1652, k_best=100, rfe_step=1,
            dl_repeats=1, architecture="resnet50", epochs=100, batch_size=32,
            learning_rate=1e-4, lr_schedule="constant", monitor="val_loss",
            image_size=224, patches_per_patient=200, xray_counts=(3883, 8851, 1349), xray_size=224,
            xray_epochs=100, xray_learning_rate=1e-4,
            # hours of training: every model checkpoints after each epoch and resumes
            checkpoint_dir="pitfalls-out/checkpoints",
            n_ct_cases=60, ct_shape=(120, 256, 256),
        )  # fmt: skip
    if n_repeats is not None:
        settings = dataclasses.replace(
            settings, n_repeats=int(n_repeats), dl_repeats=int(n_repeats)
        )
    return settings
