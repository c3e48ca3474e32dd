"""The experiments of the paper by name, and the functions that run them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

from .. import _optional
from ._result import ExperimentResult
from ._settings import Settings, resolve_settings

__all__ = ["EXPERIMENTS", "Experiment", "get_experiment", "list_experiments", "run", "run_all"]

ExperimentFunc = Callable[[Settings, "Path | None", bool], ExperimentResult]


@dataclass(frozen=True)
class Experiment:
    """One experiment of the paper.

    Attributes
    ----------
    name : str
        Registry name used by :func:`run` and ``pitfalls reproduce NAME``.
    title : str
        What it shows.
    reference : str
        Where it is in the paper.
    needs_torch : bool
        Whether it trains a deep-learning model (``pitfalls[torch]``).
    data_help : str
        What ``data=PATH`` must point to for the real dataset.
    func_path : str
        ``"module:function"`` implementing it, imported on first use so that
        listing experiments never imports torch.

    Examples
    --------
    >>> from pitfalls.reproduction import EXPERIMENTS
    >>> EXPERIMENTS["oversampling"].reference
    'Table 2, models A and B'
    """

    name: str
    title: str
    reference: str
    needs_torch: bool
    data_help: str
    func_path: str

    @property
    def extra(self) -> str | None:
        """The pitfalls extra the experiment needs beyond a core install, if any.

        Examples
        --------
        >>> from pitfalls.reproduction import EXPERIMENTS
        >>> EXPERIMENTS["batch-effect"].extra, EXPERIMENTS["accuracy"].extra
        ('torch', None)
        """
        return "torch" if self.needs_torch else None

    def missing_modules(self) -> list[str]:
        """Packages of :attr:`extra` that are not installed (``[]``: it can run).

        Nothing is imported to find out, so asking is cheap even for torch.

        Examples
        --------
        >>> from pitfalls.reproduction import EXPERIMENTS
        >>> EXPERIMENTS["accuracy"].missing_modules()
        []
        """
        if self.extra is None:
            return []
        # looked up on the module at call time: tests simulate a missing extra there
        return _optional.missing_modules(self.extra)

    def missing_extra(self) -> str | None:
        """Why the experiment cannot run on this install, with the fix; None when it can.

        Reads "needs the torch extra (torch not installed); install it with: pip
        install "pitfalls[torch]"".

        Examples
        --------
        >>> from pitfalls.reproduction import EXPERIMENTS
        >>> EXPERIMENTS["oversampling"].missing_extra() is None
        True
        """
        missing = self.missing_modules()
        if not missing or self.extra is None:
            return None
        return (
            f"needs the {self.extra} extra ({', '.join(missing)} not installed); "
            f"install it with: {_optional.install_hint(self.extra)}"
        )

    def load(self) -> ExperimentFunc:
        """Import and return the function implementing the experiment.

        Examples
        --------
        >>> from pitfalls.reproduction import EXPERIMENTS
        >>> EXPERIMENTS["accuracy"].load().__name__
        'run_accuracy'
        """
        import importlib

        module_name, func_name = self.func_path.split(":")
        module = importlib.import_module(module_name, package=__package__)
        func: ExperimentFunc = getattr(module, func_name)
        return func


_CATALOG = (
    Experiment(
        "oversampling",
        "Models A/B: oversampling before vs after the split (local recurrence)",
        "Table 2, models A and B",
        False,
        "a directory with features.csv (one row per patient, an 'id' column) and "
        "clinical.csv ('id' and 'local_recurrence' columns)",
        "._radiomics:run_oversampling",
    ),
    Experiment(
        "augmentation",
        "Models C/D: data augmentation before vs after the split (solid vs acinar patches)",
        "Table 2, models C and D",
        True,
        "a directory of patches: <patient>/<label>/*.png|jpeg (label solid or acinar)",
        "._deep:run_augmentation",
    ),
    Experiment(
        "patient-split",
        "Models E/F: one patient's patches across splits vs patient-level split",
        "Table 2, models E and F",
        True,
        "a directory of patches: <patient>/<label>/*.png|jpeg (label solid or acinar)",
        "._deep:run_patient_split",
    ),
    Experiment(
        "feature-selection",
        "Models G/H: feature selection before vs after the split (3-year survival)",
        "Table 2, models G and H",
        False,
        "a directory with features.csv and clinical.csv ('id' and 'survival_3y' columns)",
        "._radiomics:run_feature_selection",
    ),
    Experiment(
        "accuracy",
        "Accuracy on an imbalanced endpoint: the naive model for distant metastasis",
        "Section (2), the 94% naive model",
        False,
        "a directory with features.csv and clinical.csv ('id' and 'distant_metastasis' columns)",
        "._radiomics:run_accuracy",
    ),
    Experiment(
        "segmentation-baseline",
        "Dice and IoU of the air-in-body threshold baseline for lung segmentation",
        "Table 3 and Figure 3",
        False,
        "an LCTSC-style directory (NRRD/NIfTI image and lung-mask pairs or DICOM + RTSTRUCT)",
        "._segmentation:run_segmentation_baseline",
    ),
    Experiment(
        "batch-effect",
        "Model I: batch effect, internal test vs external normals, Integrated Gradients",
        "Section (3), model I and Figure 4",
        True,
        "a directory with kermany/ (train|val|test/NORMAL|PNEUMONIA/*.jpeg) and rsna/ "
        "(stage_2_train_labels.csv, stage_2_detailed_class_info.csv, "
        "stage_2_train_images/*.dcm)",
        "._deep:run_batch_effect",
    ),
    Experiment(
        "site-gap",
        "Site gap: internal cross-validation vs each site held out (batch effect)",
        "Section (3), evaluation on an external batch",
        False,
        "a manifest CSV with columns patient, site, label and one numeric column per "
        "feature (other text or date columns are ignored)",
        "._site_gap:run_site_gap",
    ),
)

#: Read-only mapping of experiment name to :class:`Experiment`, in the paper's order.
EXPERIMENTS: Mapping[str, Experiment] = MappingProxyType({e.name: e for e in _CATALOG})


def list_experiments() -> list[str]:
    """Names of the experiments, in the paper's order.

    Examples
    --------
    >>> from pitfalls.reproduction import list_experiments
    >>> list_experiments()  # doctest: +NORMALIZE_WHITESPACE
    ['oversampling', 'augmentation', 'patient-split', 'feature-selection', 'accuracy',
     'segmentation-baseline', 'batch-effect', 'site-gap']
    """
    return list(EXPERIMENTS)


def get_experiment(name: str) -> Experiment:
    """The :class:`Experiment` called ``name``.

    Raises
    ------
    ValueError
        For an unknown name, listing the known ones.

    Examples
    --------
    >>> from pitfalls.reproduction import get_experiment
    >>> get_experiment("accuracy").needs_torch
    False
    >>> get_experiment("nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: experiment='nope' is not one of 'oversampling', ...; use one of those names.
    """
    try:
        return EXPERIMENTS[name]
    except KeyError:
        known = ", ".join(repr(n) for n in EXPERIMENTS)
        raise ValueError(
            f"experiment={name!r} is not one of {known}; use one of those names."
        ) from None


def _check_data(data: str | Path | None) -> Path | None:
    if data is None:
        return None
    path = Path(data)
    if not path.exists():
        raise FileNotFoundError(f"data={str(data)!r} does not exist; pass the dataset's directory.")
    return path


def run(
    name: str,
    *,
    quick: bool = True,
    device: str = "auto",
    n_repeats: int | None = None,
    data: str | Path | None = None,
    out: str | Path | None = None,
    random_state: int = 0,
    n_jobs: int | None = None,
    verbose: bool = False,
    settings: Settings | None = None,
) -> ExperimentResult:
    """Run one experiment of the paper and return the paper's figures beside this run's.

    Parameters
    ----------
    name : str
        One of :func:`list_experiments`.
    quick : bool, default=True
        Quick mode (CPU, small data, fewer repeats and trees, a small CNN);
        ``False`` runs the paper's settings (see :func:`resolve_settings`).
    device : {"auto", "cpu", "cuda"}, default="auto"
        Where deep-learning models train.
    n_repeats : int, optional
        Overrides the number of repeats.
    data : str or path-like, optional
        The real dataset in its public layout (see ``EXPERIMENTS[name].data_help``);
        default: the synthetic cohort of :mod:`pitfalls.datasets`.
    out : str or path-like, optional
        When given, write the report there (see :func:`write_report`).
    random_state : int, default=0
        Seed of the data generators, splits and models.
    n_jobs : int, optional
        Parallel jobs over repeats (joblib; ``joblib.parallel_config`` applies).
    verbose : bool, default=False
        Show progress bars.
    settings : Settings, optional
        Full control over sizes (e.g. ``dataclasses.replace(resolve_settings(),
        epochs=2)``); when given, ``quick``, ``device``, ``n_repeats``,
        ``random_state`` and ``n_jobs`` are ignored.

    Returns
    -------
    ExperimentResult

    Raises
    ------
    ValueError
        For an unknown experiment name or unusable settings.
    ImportError
        When the experiment needs an extra that is not installed (before anything runs).

    Examples
    --------
    >>> import dataclasses
    >>> from pitfalls.reproduction import resolve_settings, run
    >>> tiny = dataclasses.replace(resolve_settings(device="cpu"), n_ct_cases=2,
    ...                            ct_shape=(16, 48, 48))
    >>> result = run("segmentation-baseline", settings=tiny)
    >>> result.reference, list(result.scores.index)
    ('Table 3 and Figure 3', ['dice', 'iou'])
    >>> import matplotlib.pyplot as plt; plt.close("all")
    >>> run("nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: experiment='nope' is not one of ...
    """
    experiment = get_experiment(name)
    if settings is None:
        settings = resolve_settings(
            quick=quick,
            device=device,
            n_repeats=n_repeats,
            random_state=random_state,
            n_jobs=n_jobs,
        )
    path = _check_data(data)
    missing = experiment.missing_extra()
    if missing is not None:
        raise ImportError(f"experiment {name!r} {missing}")
    start = time.perf_counter()
    result = experiment.load()(settings, path, verbose)
    result = replace(result, elapsed=time.perf_counter() - start, settings=settings.as_dict())
    if out is not None:
        from ._report import write_report

        write_report([result], out)
    return result


def run_all(
    names: Iterable[str] | None = None,
    *,
    quick: bool = True,
    device: str = "auto",
    n_repeats: int | None = None,
    out: str | Path | None = None,
    random_state: int = 0,
    n_jobs: int | None = None,
    verbose: bool = False,
    data: Mapping[str, str | Path] | None = None,
    settings: Settings | None = None,
    callback: Callable[[ExperimentResult], object] | None = None,
) -> list[ExperimentResult]:
    """Run several experiments (default: all of them) and write one report.

    Parameters
    ----------
    names : iterable of str, optional
        Experiment names; default all, in the paper's order. Every name is checked
        before anything runs.
    data : mapping of str to path, optional
        Experiment name -> the real dataset for that experiment.
    callback : callable, optional
        Called with each result as soon as it is ready (the command line prints it).
    quick, device, n_repeats, out, random_state, n_jobs, verbose, settings
        As in :func:`run`.

    Returns
    -------
    list of ExperimentResult

    Raises
    ------
    ValueError
        For an unknown experiment name.
    ImportError
        When a selected experiment needs an extra that is not installed (checked before
        anything runs; the message says how to install it).

    Examples
    --------
    >>> from pitfalls.reproduction import run_all
    >>> run_all(["accuracy", "typo"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: experiment='typo' is not one of ...
    """
    selected = list_experiments() if names is None else list(dict.fromkeys(names))
    data = dict(data or {})
    for name in [*selected, *data]:
        get_experiment(name)
    missing = {name: get_experiment(name).missing_extra() for name in selected}
    if any(missing.values()):
        # before anything runs, not after an hour of radiomics
        raise ImportError(
            "; ".join(f"{name} {why}" for name, why in missing.items() if why)
            + "; or leave those experiments out of names (pitfalls reproduce skips them)."
        )
    if settings is None:
        resolve_settings(quick=quick, device=device, n_repeats=n_repeats)  # fail early
    results = []
    for name in selected:
        result = run(
            name,
            quick=quick,
            device=device,
            n_repeats=n_repeats,
            random_state=random_state,
            n_jobs=n_jobs,
            verbose=verbose,
            data=data.get(name),
            settings=settings,
        )
        results.append(result)
        if callback is not None:
            callback(result)
    if out is not None:
        from ._report import write_report

        write_report(results, out)
    return results
