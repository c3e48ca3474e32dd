"""leakage_gap(pitfall="site"): internal (sites mixed) versus site-held-out evaluation."""

from __future__ import annotations

import re

import matplotlib
import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state

from pitfalls.datasets import make_multisite_cohort
from pitfalls.exceptions import GroupLeakageError, LeakageWarning
from pitfalls.experiments import LeakageGapResult, leakage_gap
from pitfalls.experiments._site import site_protocol
from pitfalls.model_selection import LeaveOneSiteOut, LeavePSitesOut, StratifiedGroupKFold

matplotlib.use("Agg")


def cohort_arrays(**kwargs):
    cohort = make_multisite_cohort(**kwargs)
    X = cohort.filter(like="feature_").to_numpy()
    return X, cohort["label"].to_numpy(), cohort["patient"].to_numpy(), cohort["site"].to_numpy()


def forest():
    return RandomForestClassifier(n_estimators=50, min_samples_leaf=3, n_jobs=1)


@pytest.fixture(scope="module")
def confounded_gap():
    X, y, groups, sites = cohort_arrays(n_patients=400, random_state=0)
    return leakage_gap(forest(), X, y, pitfall="site", groups=groups, sites=sites,
                       scoring="roc_auc", n_repeats=8, random_state=0,
                       verbose=False)  # fmt: skip


def test_a_confounded_scanner_artefact_gives_a_large_significant_gap(confounded_gap):
    res = confounded_gap
    assert isinstance(res, LeakageGapResult) and res.pitfall == "site"
    assert res.inflation > 0.05
    assert res.pvalue < 0.01 and res.statistic > 0
    per_site = res.site_scores.groupby("site")["roc_auc"].mean()
    assert list(per_site.index) == ["A", "B", "C", "D"]
    assert (per_site < res.leaky_scores.mean()).all()  # no site reaches the internal score
    # the honest score of a repeat is the mean of its held-out sites' scores
    by_repeat = res.site_scores.groupby("repeat")["roc_auc"].mean().to_numpy()
    np.testing.assert_allclose(by_repeat, res.correct_scores)


def test_without_the_artefact_there_is_no_gap():
    X, y, groups, sites = cohort_arrays(
        n_patients=400, confounded=False, site_effect=0.0, random_state=0
    )
    res = leakage_gap(forest(), X, y, pitfall="site", groups=groups, sites=sites,
                      scoring="roc_auc", n_repeats=8, random_state=0,
                      verbose=False)  # fmt: skip
    assert abs(res.inflation) < 0.03
    # no significant inflation; with many repeats a small systematic difference either
    # way becomes "significant" (the p-value's caveat in leakage_gap's Notes)
    assert not (res.pvalue < 0.05 and res.inflation > 0)


def test_both_protocols_equal_a_plain_scikit_learn_loop():
    X, y, groups, sites = cohort_arrays(n_patients=120, random_state=1)
    model = make_pipeline(StandardScaler(), LogisticRegression())
    res = leakage_gap(model, X, y, pitfall="site", groups=groups, sites=sites,
                      scoring="roc_auc", n_repeats=3, random_state=5,
                      verbose=False)  # fmt: skip
    seeds = check_random_state(5).randint(np.iinfo(np.int32).max, size=3)

    def mean_auc(folds):
        return np.mean([
            roc_auc_score(y[test], model.fit(X[train], y[train]).predict_proba(X[test])[:, 1])
            for train, test in folds
        ])  # fmt: skip

    # the held-out sites: LeaveOneGroupOut on the sites, the same every repeat
    expected_site = mean_auc(LeaveOneGroupOut().split(X, y, sites))
    np.testing.assert_allclose(res.correct_scores, expected_site)
    # the internal folds: 4 stratified group folds (as many as sites), reshuffled
    internal = [
        mean_auc(StratifiedGroupKFold(4, shuffle=True, random_state=int(s)).split(X, y, groups))
        for s in seeds
    ]
    np.testing.assert_allclose(res.leaky_scores, internal)


def test_leave_p_sites_out_and_a_given_internal_cv():
    X, y, groups, sites = cohort_arrays(n_patients=120, random_state=2)
    model = make_pipeline(StandardScaler(), LogisticRegression())
    res = leakage_gap(model, X, y, pitfall="site", groups=groups,
                      sites=LeavePSitesOut(sites, n_sites=2), cv=StratifiedGroupKFold(2),
                      scoring="roc_auc", n_repeats=2, random_state=0,
                      verbose=False)  # fmt: skip
    assert sorted(res.site_scores["site"].unique()) == ["A+B", "A+C", "A+D", "B+C", "B+D", "C+D"]
    assert len(res.site_scores) == 2 * 6


def test_internal_folds_match_the_held_out_share():
    X, y, groups, sites = cohort_arrays(n_patients=120, random_state=2)
    assert site_protocol(sites, None, X, y, groups).n_internal_folds == 4
    assert site_protocol(LeavePSitesOut(sites, 2), None, X, y, groups).n_internal_folds == 2


def test_frame_summary_and_plot_show_every_site(confounded_gap):
    res = confounded_gap
    frame = res.to_frame()
    assert frame["protocol"].value_counts().to_dict() == {
        "held_out_site": 32, "leaky": 8, "correct": 8}  # fmt: skip
    assert frame.loc[frame["protocol"] == "held_out_site", "site"].nunique() == 4
    assert frame.loc[frame["protocol"] != "held_out_site", "site"].isna().all()
    assert list(res.summary().index) == ["Internal CV (sites mixed)", "Site held out"]
    ax = res.plot()
    labels = [tick.get_text() for tick in ax.get_xticklabels()]
    assert labels == ["Internal\nCV (sites mixed)"] + [f"Site {s}\nheld out" for s in "ABCD"]
    assert ax.get_title().startswith(f"Inflation {res.inflation:+.2f} (Wilcoxon")
    import matplotlib.pyplot as plt

    plt.close("all")


def test_on_conflict_drop_is_honoured_with_a_warning():
    X, y, groups, sites = cohort_arrays(n_patients=80, random_state=3)
    groups = groups.copy()
    groups[np.flatnonzero(sites == "B")[0]] = groups[np.flatnonzero(sites == "A")[0]]
    model = make_pipeline(StandardScaler(), LogisticRegression())
    kwargs = dict(pitfall="site", groups=groups, scoring="roc_auc", n_repeats=2,
                  random_state=0, verbose=False)  # fmt: skip
    with pytest.raises(GroupLeakageError, match=r"1 patient\(s\) have samples at more than one"):
        leakage_gap(model, X, y, sites=sites, **kwargs)
    with pytest.warns(LeakageWarning, match="on_conflict='drop'"):
        res = leakage_gap(model, X, y, sites=LeaveOneSiteOut(sites, on_conflict="drop"), **kwargs)
    assert len(res.correct_scores) == 2


@pytest.mark.parametrize(
    ("kwargs", "error", "msg"),
    [
        ({"pitfall": "site", "sites": "SITES"}, ValueError, "pitfall='site' compares "
         "patient-level cross-validation with site-held-out evaluation: pass groups"),
        ({"pitfall": "site", "groups": "GROUPS"}, ValueError, "pitfall='site' needs sites"),
        ({"pitfall": "group_split", "groups": "GROUPS", "sites": "SITES"}, ValueError,
         "sites is only used with pitfall='site'"),
        ({"pitfall": "site", "groups": "GROUPS", "sites": "SITES", "cv": "LOSO"}, ValueError,
         "holds sites out, but with pitfall='site' cv is the internal (sites mixed) protocol"),
        ({"pitfall": "site", "groups": "GROUPS", "sites": LeaveOneGroupOut()}, TypeError,
         "sites=LeaveOneGroupOut() is a splitter that does not say which site each sample"),
        ({"pitfall": "site", "groups": "GROUPS", "sites": "ONE_SITE"}, ValueError,
         "sites has 1 distinct site ('A')"),
        ({"pitfall": "site", "groups": "GROUPS", "sites": "SITES", "steps": ["x"]}, ValueError,
         "steps is not used with pitfall='site'"),
    ],
)  # fmt: skip
def test_refusals_before_any_fit(kwargs, error, msg):
    X, y, groups, sites = cohort_arrays(n_patients=40, random_state=4)
    values = {"SITES": sites, "GROUPS": groups, "LOSO": LeaveOneSiteOut(sites),
              "ONE_SITE": np.full(len(y), "A")}  # fmt: skip
    kwargs = {k: values.get(v, v) if isinstance(v, str) else v for k, v in kwargs.items()}
    with pytest.raises(error, match=re.escape(msg)):
        leakage_gap(LogisticRegression(), X, y, n_repeats=2, verbose=False, **kwargs)
