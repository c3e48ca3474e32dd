"""Tests for pitfalls.datasets.make_radiomics_cohort."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imblearn.over_sampling import RandomOverSampler
from imblearn.pipeline import make_pipeline
from scipy.stats import mannwhitneyu
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import SelectKBest, VarianceThreshold, f_classif
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from pitfalls.datasets import ENDPOINTS, make_radiomics_cohort, radiomics_feature_names

TABLE_1 = {  # positives per site in the paper's Table 1
    "local_recurrence": {"larynx": 12, "oropharynx": 12},
    "survival_3y": {"larynx": 38, "oropharynx": 61},
    "distant_metastasis": {"larynx": 1, "oropharynx": 7},
}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_default_cohort_has_table_1_counts_per_site(endpoint):
    X, y, manifest = make_radiomics_cohort(
        n_features=60, endpoint=endpoint, return_manifest=True, random_state=1
    )
    assert X.shape == (137, 60)
    assert y.name == endpoint
    assert set(np.unique(y)) == {0, 1}
    assert manifest["site"].value_counts().to_dict() == {"oropharynx": 88, "larynx": 49}
    assert manifest.groupby("site")[endpoint].sum().to_dict() == TABLE_1[endpoint]
    assert (manifest[endpoint] == y).all()
    assert X.index.equals(y.index) and X.index.equals(manifest.index)
    assert X.index.is_unique


def test_naive_majority_model_has_the_papers_94_percent_accuracy():
    _, y = make_radiomics_cohort(n_features=20, endpoint="distant_metastasis", random_state=0)
    assert round(1 - y.mean(), 2) == 0.94


def test_same_seed_same_cohort_and_features_do_not_depend_on_endpoint():
    X1, y1 = make_radiomics_cohort(n_features=80, endpoint="local_recurrence", random_state=3)
    X2, y2 = make_radiomics_cohort(n_features=80, endpoint="survival_3y", random_state=3)
    X3, _ = make_radiomics_cohort(n_features=80, endpoint="local_recurrence", random_state=3)
    pd.testing.assert_frame_equal(X1, X2)
    pd.testing.assert_frame_equal(X1, X3)
    assert not y1.equals(y2)
    X4, _ = make_radiomics_cohort(n_features=80, random_state=4)
    assert not np.allclose(X1.to_numpy(), X4.to_numpy())


def test_column_names_follow_pyradiomics():
    names = radiomics_feature_names(1652)
    assert len(names) == len(set(names)) == 1652
    assert names[:14] == [n for n in names if "_shape_" in n]
    assert "original_firstorder_Mean" in names
    assert "original_glcm_Contrast" in names
    assert "wavelet-LLH_glszm_ZoneEntropy" in names
    families = {n.split("_")[1] for n in names}
    assert families == {"shape", "firstorder", "glcm", "gldm", "glrlm", "glszm", "ngtdm"}
    more = radiomics_feature_names(2200)
    assert len(set(more)) == 2200 and more[-1].endswith("_2")


def test_constant_features_are_removed_by_variance_threshold():
    X, _ = make_radiomics_cohort(constant_fraction=0.05, n_features=400, random_state=0)
    kept = VarianceThreshold().fit(X).get_support()
    assert (~kept).sum() == 20
    dropped = X.loc[:, ~kept].to_numpy()
    assert (dropped == dropped[0]).all()


def test_features_are_correlated_heavy_tailed_and_on_different_scales():
    X, _ = make_radiomics_cohort(n_features=300, constant_fraction=0.0, random_state=0)
    ranks = X.rank().to_numpy()
    corr = np.corrcoef(ranks, rowvar=False)[np.triu_indices(300, 1)]
    assert np.mean(np.abs(corr) > 0.3) > 0.05  # independent columns would give ~0.0004
    std = X.std()
    assert std.max() / std.min() > 1e6
    kurtosis = X.kurt()
    assert (kurtosis > 3).sum() > 30  # many heavy-tailed features


def test_only_a_few_features_carry_signal():
    X, y = make_radiomics_cohort(n_informative=4, effect_size=3.0, random_state=0)
    pvalues = np.nan_to_num(mannwhitneyu(X[y == 1], X[y == 0]).pvalue, nan=1.0)
    assert (pvalues < 1e-8).sum() == 4
    X0, y0 = make_radiomics_cohort(effect_size=0.0, random_state=0)
    pvalues0 = np.nan_to_num(mannwhitneyu(X0[y0 == 1], X0[y0 == 0]).pvalue, nan=1.0)
    assert (pvalues0 < 1e-6).sum() == 0


@settings(max_examples=40, deadline=None)
@given(n_patients=st.integers(4, 400), seed=st.integers(0, 2**31 - 1))
def test_prevalences_scale_with_cohort_size(n_patients, seed):
    _, _, manifest = make_radiomics_cohort(
        n_patients, 10, n_informative=1, return_manifest=True, random_state=seed
    )
    assert len(manifest) == n_patients
    for endpoint, per_site in TABLE_1.items():
        paper_prevalence = sum(per_site.values()) / 137
        observed = manifest[endpoint].mean()
        assert abs(observed - paper_prevalence) <= 2 / n_patients + 0.01
        assert 0 < manifest[endpoint].sum() < n_patients


def _cv_f1(estimator, X, y):
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    return f1_score(y, cross_val_predict(estimator, X, y, cv=cv))


def _forest():
    return RandomForestClassifier(
        50, max_depth=6, min_samples_leaf=3, class_weight="balanced", random_state=0
    )


def test_oversampling_before_split_inflates_f1():
    X, y = make_radiomics_cohort(n_features=300, random_state=0)
    X_over, y_over = RandomOverSampler(random_state=0).fit_resample(X, y)
    select = [VarianceThreshold(), SelectKBest(f_classif, k=10)]
    leaky = _cv_f1(make_pipeline(*select, _forest()), X_over, y_over)
    correct = _cv_f1(make_pipeline(*select, RandomOverSampler(random_state=0), _forest()), X, y)
    assert leaky > 0.7
    assert correct < 0.5
    assert leaky - correct > 0.3


def test_feature_selection_before_split_inflates_f1():
    X, y = make_radiomics_cohort(endpoint="survival_3y", random_state=0)
    selected = SelectKBest(f_classif, k=10).fit_transform(VarianceThreshold().fit_transform(X), y)
    leaky = _cv_f1(_forest(), selected, y)
    correct = _cv_f1(
        make_pipeline(VarianceThreshold(), SelectKBest(f_classif, k=10), _forest()), X, y
    )
    assert leaky > correct + 0.03


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"endpoint": "death"},
            "endpoint='death' is not supported; use one of 'survival_3y', 'local_recurrence'",
        ),
        ({"n_patients": 3}, r"n_patients=3 is too small; use n_patients >= 4\."),
        ({"n_features": 10, "n_informative": 4}, r"n_informative=4 is out of range"),
        ({"constant_fraction": 1.0}, r"constant_fraction=1.0 is out of range"),
        ({"effect_size": -1}, r"effect_size=-1 is negative; use effect_size >= 0\."),
    ],
)
def test_invalid_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_radiomics_cohort(**kwargs)
