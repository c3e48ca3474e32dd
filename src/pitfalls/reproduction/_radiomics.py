"""Radiomics experiments on the HNSCC-like cohort: models A/B, G/H and the accuracy example.

Appendix A of the paper: remove constant features (``VarianceThreshold``), keep the
100 best by ANOVA F (``SelectKBest(f_classif, k=100)``), oversample the minority class
in the training data, eliminate recursively with a linear SVC down to 10 features,
and fit a random forest (``class_weight="balanced"``, 1000 trees, ``max_depth`` in
{6, 7} and ``min_samples_leaf`` in {3, 4, 5} tuned by an inner 3-fold grid search
inside an outer 3-fold cross-validation), repeated 100 times.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._paper import METRICS, PAPER_ACCURACY_EXAMPLE
from ._result import ExperimentResult, format_mean_sd
from ._settings import Settings
from ._study import out_of_fold_study
from ._tables import binary_metrics, table2_result

__all__ = [
    "appendix_a_pipeline",
    "load_cohort",
    "run_accuracy",
    "run_feature_selection",
    "run_oversampling",
]

_PARAM_GRID = {"max_depth": [6, 7], "min_samples_leaf": [3, 4, 5]}


def _scoring() -> dict[str, Any]:
    """Table 2's scorers, F1 first (leakage_gap tests and plots its first scorer).

    A fold without a positive prediction scores precision and F1 0 (as a model that
    finds no recurrence deserves) instead of warning, as the correct protocol of
    model B often does.
    """
    from sklearn.metrics import f1_score, make_scorer, precision_score, recall_score

    return {
        "f1": make_scorer(f1_score, zero_division=0),
        "accuracy": "accuracy",
        "precision": make_scorer(precision_score, zero_division=0),
        "recall": make_scorer(recall_score, zero_division=0),
    }


def appendix_a_pipeline(settings: Settings, random_state: int | None = None) -> Any:
    """The Appendix A model as one pipeline; in full mode the forest is grid-searched.

    Oversampling comes first so that the feature selection of the correct protocol
    sees a balanced training set, as the paper's Figure 7 orders it. In full mode
    the forest step is a ``GridSearchCV`` over the paper's grid with an inner
    stratified 3-fold CV on the (outer) training fold, so the tuning is nested
    inside the outer cross-validation of :func:`pitfalls.experiments.leakage_gap`;
    the selection steps are fitted once per outer training fold rather than once
    per inner fold. Quick mode uses the middle of the paper's grid
    (``max_depth=6``, ``min_samples_leaf=4``) without a search.

    One addition to the paper: the 100 kept features are standardised before the
    linear SVC of the elimination step, which otherwise takes minutes per fold to
    converge on features whose scales differ by nine orders of magnitude.

    ``random_state=None`` leaves the seeds of the sampler and the forest to
    ``leakage_gap``, which gives every repeat its own.
    """
    from imblearn.over_sampling import RandomOverSampler
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.feature_selection import RFE, SelectKBest, VarianceThreshold, f_classif
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from pitfalls.pipeline import make_pipeline

    forest: Any = RandomForestClassifier(
        n_estimators=settings.n_estimators,
        class_weight="balanced",
        bootstrap=True,
        max_depth=6,
        min_samples_leaf=4,
        random_state=random_state,
        n_jobs=1,
    )
    if settings.nested:
        inner = StratifiedKFold(n_splits=3, shuffle=True, random_state=random_state)
        forest = GridSearchCV(forest, _PARAM_GRID, cv=inner, scoring="f1")
    return make_pipeline(
        RandomOverSampler(random_state=random_state),
        VarianceThreshold(),
        SelectKBest(f_classif, k=settings.k_best),
        StandardScaler(),
        RFE(SVC(kernel="linear"), n_features_to_select=10, step=settings.rfe_step),
        forest,
    )


def load_cohort(
    endpoint: str, settings: Settings, data: Path | None
) -> tuple[pd.DataFrame, pd.Series]:
    """The radiomics table and one endpoint: synthetic by default, else the real CSVs."""
    if data is None:
        from pitfalls.datasets import make_radiomics_cohort

        X, y = make_radiomics_cohort(
            n_features=settings.n_features,
            endpoint=endpoint,
            random_state=settings.random_state,
        )
        return X, y
    from pitfalls.datasets import load_radiomics_csv

    features, clinical = data / "features.csv", data / "clinical.csv"
    for path in (features, clinical):
        if not path.is_file():
            raise FileNotFoundError(
                f"data={str(data)!r} has no {path.name}; put features.csv and clinical.csv there."
            )
    loaded = load_radiomics_csv(features, clinical, id_column="id", endpoint=endpoint)
    return loaded[0], loaded[1]


# The leaky feature selection fits the whole selection chain on all data, the scaler
# of the elimination step included (the SVC would crawl on unscaled features).


def _gap_scores(
    settings: Settings, X: pd.DataFrame, y: pd.Series, pitfall: str, verbose: bool
) -> Any:
    from pitfalls.experiments import leakage_gap

    return leakage_gap(
        appendix_a_pipeline(settings),
        X,
        y,
        pitfall=pitfall,
        n_repeats=settings.n_repeats,
        scoring=_scoring(),
        n_jobs=settings.n_jobs,
        random_state=settings.random_state,
        verbose=verbose,
    )


def _per_repeat(gap: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-repeat scores of the leaky and the correct protocol, one column per metric."""
    return pd.DataFrame(gap.leaky)[list(METRICS)], pd.DataFrame(gap.correct)[list(METRICS)]


def _pair_experiment(
    settings: Settings,
    data: Path | None,
    *,
    endpoint: str,
    pitfall: str,
    name: str,
    title: str,
    reference: str,
    leaky: str,
    correct: str,
    verbose: bool,
) -> ExperimentResult:
    X, y = load_cohort(endpoint, settings, data)
    gap = _gap_scores(settings, X, y, pitfall, verbose)
    leaky_scores, correct_scores = _per_repeat(gap)
    figure = gap.plot().figure
    notes = [
        f"{settings.n_repeats} repeats of 3-fold cross-validation, "
        f"{settings.n_estimators} trees"
        + (
            ", inner 3-fold grid search (Appendix A)"
            if settings.nested
            else ", no inner grid search"
        )
        + (
            "; synthetic HNSCC-like cohort (pitfalls.datasets)"
            if data is None
            else f"; data={data}"
        ),
    ]
    study = out_of_fold_study(
        appendix_a_pipeline(settings, settings.random_state), X, y, settings, leakage=gap
    )
    return table2_result(
        name=name,
        title=title,
        reference=reference,
        leaky=leaky,
        correct=correct,
        scores={leaky: leaky_scores, correct: correct_scores},
        figures={f"{leaky} vs {correct}: F1 over repeats": figure},
        notes=notes,
        study=study,
    )


def run_oversampling(settings: Settings, data: Path | None, verbose: bool) -> ExperimentResult:
    """Models A (oversampling before the split) and B (after), local recurrence."""
    return _pair_experiment(
        settings,
        data,
        endpoint="local_recurrence",
        pitfall="oversampling",
        name="oversampling",
        title="Models A/B: oversampling before vs after the split (local recurrence)",
        reference="Table 2, models A and B",
        leaky="A",
        correct="B",
        verbose=verbose,
    )


def run_feature_selection(settings: Settings, data: Path | None, verbose: bool) -> ExperimentResult:
    """Models G (feature selection before the split) and H (after), 3-year survival."""
    return _pair_experiment(
        settings,
        data,
        endpoint="survival_3y",
        pitfall="feature_selection",
        name="feature-selection",
        title="Models G/H: feature selection before vs after the split (3-year survival)",
        reference="Table 2, models G and H",
        leaky="G",
        correct="H",
        verbose=verbose,
    )


def _summary_warnings(y_true: np.ndarray, y_pred: np.ndarray, seed: int) -> list[str]:
    """The MetricWarnings pitfalls.metrics.classification_summary raises on these predictions."""
    import warnings

    from pitfalls.exceptions import MetricWarning
    from pitfalls.metrics import classification_summary

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MetricWarning)
        classification_summary(y_true, y_pred, n_bootstraps=200, random_state=seed)
    return [str(w.message) for w in caught if issubclass(w.category, MetricWarning)]


def run_accuracy(settings: Settings, data: Path | None, verbose: bool) -> ExperimentResult:
    """The naive 'no distant metastasis' model: high accuracy, zero recall."""
    from sklearn.dummy import DummyClassifier
    from sklearn.model_selection import StratifiedKFold, cross_validate

    X, y = load_cohort("distant_metastasis", settings, data)
    y_array = np.asarray(y)
    naive = DummyClassifier(strategy="most_frequent").fit(X, y_array)
    naive_predictions = naive.predict(X)
    naive_scores = binary_metrics(y_array, naive_predictions)
    warned = _summary_warnings(y_array, naive_predictions, settings.random_state)
    forest_runs = []
    for repeat in range(settings.n_repeats):
        seed = settings.random_state + repeat
        cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
        cv_result = cross_validate(
            appendix_a_pipeline(settings, seed),
            X,
            y_array,
            cv=cv,
            scoring=_scoring(),
            n_jobs=settings.n_jobs,
        )
        forest_runs.append({m: float(np.mean(cv_result[f"test_{m}"])) for m in METRICS})
    forest = pd.DataFrame(forest_runs)
    paper = PAPER_ACCURACY_EXAMPLE
    rows = [
        {"Model": "naive (always negative)", "Source": "paper",
         "Accuracy": f"{paper['accuracy']:.2f}", "Precision": "n/a",
         "Recall": f"{paper['recall']:.2f}", "F1": "n/a"},
        {"Model": "naive (always negative)", "Source": "this run",
         **{k.capitalize() if k != "f1" else "F1": f"{v:.2f}" for k, v in naive_scores.items()}},
        {"Model": "random forest (Appendix A, correct CV)", "Source": "this run",
         **{k.capitalize() if k != "f1" else "F1": format_mean_sd(forest[k].mean(), forest[k].std(ddof=1) if len(forest) > 1 else None)
            for k in METRICS}},
    ]  # fmt: skip
    n_pos, n = int(y_array.sum()), len(y_array)
    comparisons = pd.DataFrame(
        [
            {
                "leaky": "naive accuracy",
                "correct": "naive recall",
                "metric": "accuracy vs recall",
                "leaky_value": naive_scores["accuracy"],
                "correct_value": naive_scores["recall"],
            }
        ]
    )
    scores = pd.DataFrame({"naive": naive_scores, "random_forest": forest.mean()}).T
    raw = forest.assign(model="random_forest", repeat=np.arange(len(forest)))
    notes = [
        f"{n_pos} of {n} patients have distant metastasis: calling everyone negative is "
        f"{1 - n_pos / n:.1%} accurate and finds none of them (recall 0). Report precision, "
        "recall and a naive baseline beside accuracy (Table 4).",
        "precision and F1 of the naive model are undefined (no positive prediction) and shown as 0.",
        *(f"pitfalls.metrics.classification_summary on the naive model warns: {m}" for m in warned),
    ]
    study = out_of_fold_study(
        appendix_a_pipeline(settings, settings.random_state), X, y_array, settings
    )
    return ExperimentResult(
        name="accuracy",
        title="Accuracy on an imbalanced endpoint: the naive model for distant metastasis",
        reference="Section (2), the 94% naive model",
        table=pd.DataFrame(rows),
        scores=scores,
        comparisons=comparisons,
        notes=notes,
        raw=raw,
        study=study,
    )
