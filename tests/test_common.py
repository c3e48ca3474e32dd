"""Checks every public estimator and every public result must pass.

1. scikit-learn's ``parametrize_with_checks`` on every public estimator, transformer,
   sampler and meta-estimator of pitfalls, with the reason for each check that cannot
   apply (``expected_failed_checks``). A public estimator missing from ``ESTIMATORS``
   fails :func:`test_every_public_estimator_is_checked`.
2. The result protocol: ``to_frame()``, ``to_markdown()`` and a readable ``repr`` on
   every public result class.

The torch and radiomics estimators are checked when their extra is installed and
reported as skipped otherwise.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pickle
import re
import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn
from imblearn.over_sampling import RandomOverSampler
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from pitfalls.batch_effects import ComBat
from pitfalls.pipeline import AugmentationSampler, LeakageGuard, make_pipeline

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_RADIOMICS = importlib.util.find_spec("radiomics") is not None
SKLEARN_VERSION = tuple(map(int, re.findall(r"\d+", sklearn.__version__)[:2]))
PUBLIC_PACKAGES = [
    "audit",
    "baselines",
    "batch_effects",
    "datasets",
    "experiments",
    "metrics",
    "model_selection",
    "pipeline",
    "radiomics",
    "reproduction",
    *(["torch"] if HAS_TORCH else []),
]


def jitter(x, rng):
    """Augmentation for the checks (module level, so the sampler pickles)."""
    return x + rng.normal(scale=1e-3, size=x.shape)


# ----------------------------------------------------------------------- estimators


def _estimators():
    estimators = [
        ComBat(),
        AugmentationSampler(jitter, random_state=0),
        LeakageGuard(LogisticRegression()),
        # our Pipeline: a transformer and imbalanced-learn's sampler; our sampler
        make_pipeline(StandardScaler(), RandomOverSampler(random_state=0), LogisticRegression()),
        make_pipeline(AugmentationSampler(jitter, random_state=0), LogisticRegression()),
    ]
    if HAS_RADIOMICS:
        from pitfalls.radiomics import RadiomicsFeatureExtractor

        estimators.append(RadiomicsFeatureExtractor())
    if HAS_TORCH:
        from pitfalls.torch import TorchImageClassifier

        # tiny settings: every fit the checks attempt is refused before training anyway
        estimators.append(
            TorchImageClassifier(
                epochs=1, batch_size=8, validation_fraction=0, device="cpu", random_state=0
            )
        )
    return estimators


ESTIMATORS = _estimators()

_NEEDS_SITES = (
    "ComBat.fit needs the site of each sample (fit(X, sites=...) or ComBat(site=column)) "
    "and the check passes none; test_combat_with_sites_behaves_as_these_checks_require "
    "covers what it checks"
)
_COMBAT_FITS = [
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_dtype_object",
    "check_estimators_dtypes",
    "check_estimators_fit_returns_self",
    "check_estimators_nan_inf",
    "check_estimators_overwrite_params",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_fit_score_takes_y",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_pipeline_consistency",
    "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_transformer_n_iter",
    "check_transformer_preserve_dtypes",
]
# checks that fit on a 2-D numeric feature matrix, which image estimators cannot take
_FITS_ON_A_FEATURE_MATRIX = [
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_dtype_object",
    "check_estimators_dtypes",
    "check_estimators_empty_data_messages",
    "check_estimators_fit_returns_self",
    "check_estimators_nan_inf",
    "check_estimators_overwrite_params",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit2d_1feature",
    "check_fit2d_1sample",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_fit_score_takes_y",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_pipeline_consistency",
    "check_positive_only_tag_during_fit",
    "check_readonly_memmap_input",
]
_IMAGE_CLASSIFIER_ONLY = [
    "check_classifier_data_not_an_array",
    "check_classifiers_classes",
    "check_classifiers_train",
    "check_supervised_y_2d",
]
_PAIRS_TRANSFORMER_ONLY = [
    "check_complex_data",
    "check_transformer_data_not_an_array",
    "check_transformer_general",
    "check_transformer_preserve_dtypes",
]
_STEPS_REPLACED = (
    "Pipeline.fit replaces its steps with fitted clones, as scikit-learn's and "
    "imbalanced-learn's Pipeline do (scikit-learn expects the same failure of its own)"
)


def _expected_failed_checks(estimator):
    name = type(estimator).__name__
    if name == "ComBat":
        return dict.fromkeys(_COMBAT_FITS, _NEEDS_SITES)
    if name == "Pipeline":
        expected = dict.fromkeys(
            ["check_dont_overwrite_parameters", "check_estimators_overwrite_params"],
            _STEPS_REPLACED,
        )
        if any(isinstance(step, RandomOverSampler) for _, step in estimator.steps):
            expected["check_supervised_y_2d"] = (
                "imbalanced-learn's RandomOverSampler ravels a column-vector y without "
                "scikit-learn's DataConversionWarning (its own Pipeline fails alike)"
            )
        return expected
    if name == "TorchImageClassifier":
        reason = (
            "X must be images (n_samples, height, width[, channels]); the check fits on a "
            "2-D feature matrix (tests/test_torch_training.py fits real images)"
        )
        return dict.fromkeys(_FITS_ON_A_FEATURE_MATRIX + _IMAGE_CLASSIFIER_ONLY, reason)
    if name == "RadiomicsFeatureExtractor":
        reason = (
            "X must be (image, mask) pairs or a DataFrame of them; the check fits on a 2-D "
            "feature matrix (tests/test_radiomics.py extracts real volumes)"
        )
        return dict.fromkeys(_FITS_ON_A_FEATURE_MATRIX + _PAIRS_TRANSFORMER_ONLY, reason)
    return {}


if SKLEARN_VERSION >= (1, 6):
    _strict = (
        {"xfail_strict": True} if SKLEARN_VERSION >= (1, 8) else {}
    )  # an excused check that starts passing must leave the list

    @parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks, **_strict)
    @pytest.mark.filterwarnings("ignore::pitfalls.exceptions.LeakageWarning")
    # imbalanced-learn casts the check's all-infinite y before it refuses it
    @pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
    def test_sklearn_compatible(estimator, check):
        check(estimator)

else:

    @pytest.mark.skip(reason="expected_failed_checks needs scikit-learn >= 1.6")
    def test_sklearn_compatible():
        pass  # pragma: no cover


@pytest.mark.parametrize(
    ("module", "extra", "estimator"),
    [
        ("torch", "torch", "TorchImageClassifier"),
        ("radiomics", "radiomics", "RadiomicsFeatureExtractor"),
    ],
)
def test_optional_estimators_are_checked_when_their_extra_is_installed(module, extra, estimator):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f'{estimator} not checked: pip install "pitfalls[{extra}]"')
    assert estimator in {type(e).__name__ for e in ESTIMATORS}


def _public_classes():
    for package in PUBLIC_PACKAGES:
        module = importlib.import_module(f"pitfalls.{package}")
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj):
                yield f"pitfalls.{package}.{name}", obj


def test_every_public_estimator_is_checked():
    estimators = {
        qualified: cls for qualified, cls in _public_classes() if issubclass(cls, BaseEstimator)
    }
    checked = {type(e) for e in ESTIMATORS}
    assert {q for q, cls in estimators.items() if cls not in checked} == (
        set() if HAS_RADIOMICS else {"pitfalls.radiomics.RadiomicsFeatureExtractor"}
    )
    # every kind of step our Pipeline holds is among the checked pipelines
    steps = {type(step).__name__ for e in ESTIMATORS if hasattr(e, "steps") for _, step in e.steps}
    assert {"StandardScaler", "RandomOverSampler", "AugmentationSampler"} <= steps


def test_combat_with_sites_behaves_as_these_checks_require(tmp_path):
    # what the excused checks test, with the sites ComBat needs
    rng = np.random.default_rng(0)
    sites = np.repeat(["a", "b", "c"], 10)
    X = rng.normal(size=(30, 4)) + np.repeat(rng.normal(0, 3, (3, 4)), 10, axis=0)
    X_before = X.copy()
    combat = ComBat()
    with pytest.raises(NotFittedError):
        combat.transform(X, sites=sites)
    assert combat.fit(X, sites=sites) is combat  # fit returns self
    np.testing.assert_array_equal(X, X_before)  # the input is not modified
    params = combat.get_params()
    out = combat.transform(X, sites=sites)
    assert combat.get_params() == params and combat.n_features_in_ == 4
    state = dict(vars(combat))
    combat.transform(X, sites=sites)
    assert vars(combat).keys() == state.keys()  # transform leaves the fitted state alone
    np.testing.assert_array_equal(clone(combat).fit(X, sites=sites).transform(X, sites=sites), out)
    refit = combat.fit(X, sites=sites).transform(X, sites=sites)
    np.testing.assert_array_equal(refit, out)  # idempotent
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(combat)).transform(X, sites=sites), out)
    order = rng.permutation(30)
    np.testing.assert_allclose(combat.transform(X[order], sites=sites[order]), out[order])
    halves = [combat.transform(X[part], sites=sites[part]) for part in np.array_split(order, 2)]
    np.testing.assert_allclose(np.concatenate(halves), out[order])  # subset invariance
    frozen = np.asfortranarray(X)
    frozen.flags.writeable = False  # read-only, Fortran-ordered, float32 input all work
    np.testing.assert_allclose(ComBat().fit_transform(frozen, sites=sites), out)
    float32 = ComBat().fit_transform(X.astype(np.float32), sites=sites)
    np.testing.assert_allclose(float32, out, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="X has 3 features, but ComBat was fitted with 4"):
        combat.transform(X[:, :3], sites=sites)


# ------------------------------------------------------------------- result protocol


def _result_factories():
    from pitfalls.baselines import segmentation_baseline_report
    from pitfalls.batch_effects import batch_predictability, confounding_test, generalization_gap
    from pitfalls.experiments import LeakageGapResult
    from pitfalls.metrics import classification_summary, compare_runs
    from pitfalls.report import ReportFigure, ReportTable, Section, StudyReport
    from pitfalls.reproduction import ExperimentResult

    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 2)) + np.repeat([[0, 0], [2, 2]], 12, axis=0)
    y = np.tile([0, 1], 12)
    sites = np.repeat(["a", "b"], 12)
    truth = np.zeros((2, 4, 4), bool)
    truth[:, 1:3, 1:3] = True
    leaky, correct = np.array([0.9, 0.8, 0.85]), np.array([0.5, 0.6, 0.55])
    factories = {
        "ConfoundingResult": lambda: confounding_test(y, sites, warn=False),
        "BatchPredictabilityResult": lambda: batch_predictability(
            X, sites, cv=2, n_permutations=3, random_state=0
        ),
        "GeneralizationGapResult": lambda: generalization_gap(
            LogisticRegression(), X, y, X, y, cv=2, random_state=0
        ),
        "LeakageGapResult": lambda: LeakageGapResult(
            "oversampling", ["f1"], {"f1": leaky}, {"f1": correct}, compare_runs(leaky, correct)
        ),
        "ClassificationSummary": lambda: classification_summary(
            y, y, y_score=y.astype(float), n_bootstraps=0
        ),
        "SegmentationBaselineReport": lambda: segmentation_baseline_report(truth, baseline=truth),
        "ExperimentResult": lambda: ExperimentResult(
            name="demo",
            title="Demo",
            reference="Table 2",
            table=pd.DataFrame({"F1": ["0.9"]}),
            scores=pd.DataFrame({"f1": [0.9]}, index=["A"]),
        ),
        "StudyReport": lambda: StudyReport(
            [
                Section(
                    "curves",
                    "Curves",
                    "ok",
                    tables=(ReportTable("auc", "AUC.", pd.DataFrame({"auc": [0.8]})),),
                    figures=(ReportFigure("roc", "ROC.", _line_figure),),
                )
            ],
            [],
        ),
    }
    if HAS_TORCH:
        import torch

        from pitfalls.torch import FitResult

        history = pd.DataFrame({"epoch": [0, 1], "train_loss": [0.7, 0.5], "val_loss": [0.6, 0.6]})
        factories["FitResult"] = lambda: FitResult(torch.nn.Linear(2, 2), history, 0, 0.6)
    return factories


def _line_figure():
    from matplotlib.figure import Figure

    figure = Figure()
    figure.add_subplot().plot([0, 1], [0, 1])
    return figure


RESULTS = _result_factories()


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_results_share_one_protocol(name):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tiny inputs trip MetricWarnings
        result = RESULTS[name]()
    assert type(result).__name__ == name
    frame = result.to_frame()
    assert isinstance(frame, pd.DataFrame) and not frame.empty
    markdown = result.to_markdown()
    assert isinstance(markdown, str) and "| :--- |" in markdown
    text = repr(result)
    # one line that names the class, or (summaries) the text table itself
    assert text.startswith(f"{name}(") or text == result.to_text()
    assert "object at 0x" not in text and len(text) < 2000
    if hasattr(result, "plot"):
        assert result.plot() is not None
        plt.close("all")


@pytest.mark.parametrize(
    ("qualified", "cls"),
    [
        pytest.param(qualified, cls, id=qualified)
        for qualified, cls in _public_classes()
        if cls.__name__.endswith(("Result", "Report", "Summary"))
    ],
)
def test_every_public_result_class_has_the_protocol(qualified, cls):
    for method in ("to_frame", "to_markdown"):
        assert callable(getattr(cls, method, None)), f"{qualified} has no {method}()"
    assert cls.__repr__ is not object.__repr__, f"{qualified} has no readable repr"
