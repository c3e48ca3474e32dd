"""make_multisite_cohort: the referral centre's artefact and prevalence, for the paper's reason."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pitfalls.datasets import make_multisite_cohort


def test_layout_ids_dates_and_reproducibility():
    cohort = make_multisite_cohort(120, n_sites=3, n_features=12, random_state=4)
    assert cohort.columns.tolist() == ["patient", "site", "label", "exam_date"] + [
        f"feature_{j:02d}" for j in range(12)
    ]
    assert cohort["patient"].str.fullmatch(r"P\d{4}").all()  # ids are text
    assert cohort["patient"].nunique() == 120
    assert cohort.groupby("patient")[["site", "label"]].nunique().max().tolist() == [1, 1]
    assert cohort.groupby("patient").size().between(1, 3).all()
    first = cohort.groupby("patient")["exam_date"].transform("min")
    assert ((cohort["exam_date"] - first) < pd.Timedelta(days=365)).all()
    assert first.between(pd.Timestamp("2016-01-01"), pd.Timestamp("2022-01-01")).all()
    pd.testing.assert_frame_equal(cohort, make_multisite_cohort(120, n_sites=3, n_features=12,
                                                                random_state=4))  # fmt: skip


def test_every_site_has_both_classes():
    for seed in range(5):
        patients = make_multisite_cohort(32, n_sites=8, random_state=seed).drop_duplicates(
            "patient"
        )
        assert (patients.groupby("site")["label"].nunique() == 2).all()


def test_referral_centre_is_confounded_only_when_asked():
    confounded = make_multisite_cohort(2000, random_state=0).drop_duplicates("patient")
    prevalence = confounded.groupby("site")["label"].mean()
    assert prevalence["D"] == pytest.approx(0.75, abs=0.06)
    assert prevalence[["A", "B", "C"]].to_numpy() == pytest.approx(0.2, abs=0.05)
    fair = make_multisite_cohort(2000, confounded=False, random_state=0).drop_duplicates("patient")
    table = pd.crosstab(fair["site"], fair["label"])
    assert stats.chi2_contingency(table).pvalue > 0.01  # no association of site and label
    assert fair["label"].mean() == pytest.approx(confounded["label"].mean(), abs=0.05)


def test_the_artefact_marks_the_referral_scanner_whatever_the_label():
    cohort = make_multisite_cohort(3000, n_features=30, n_informative=5, site_effect=1.5,
                                   random_state=1)  # fmt: skip
    features = cohort.filter(like="feature_")
    referral = cohort["site"] == "D"
    shift = features[referral].mean() - features[~referral].mean()
    artefact = [f"feature_{j:02d}" for j in range(22, 30)]  # the last third of the others
    assert (shift[artefact] > 1.2).all()
    assert shift.drop(artefact).abs().max() < 0.6  # disease and scanner offsets only
    for label in (0, 1):  # a source artefact: sick and healthy alike
        same = cohort["label"] == label
        within = features[referral & same].mean() - features[~referral & same].mean()
        assert (within[artefact] > 1.2).all()
    # the disease moves the first five features at every site
    sick = cohort["label"] == 1
    disease = features[sick & ~referral].mean() - features[~sick & ~referral].mean()
    assert (disease.iloc[:5] > 0.3).all() and (disease.iloc[5:].abs() < 0.2).all()
    none = make_multisite_cohort(3000, site_effect=0.0, random_state=1).filter(like="feature_")
    assert (none[referral].mean() - none[~referral].mean())[artefact].abs().max() < 0.6


@pytest.mark.parametrize(
    ("kwargs", "msg"),
    [
        ({"n_sites": 1}, "n_sites=1 must be between 2 and 8."),
        ({"n_patients": 10}, "n_patients=10 is too few for 4 sites; use n_patients >= 16"),
        ({"n_informative": 30}, "n_informative=30 must be at least 1 and less than n_features=30"),
    ],
)
def test_errors(kwargs, msg):
    with pytest.raises(ValueError, match=re.escape(msg)):
        make_multisite_cohort(**kwargs)


def test_seeded_cohorts_differ():
    a = make_multisite_cohort(50, random_state=0)
    b = make_multisite_cohort(50, random_state=1)
    assert not np.allclose(a["feature_00"].to_numpy()[:10], b["feature_00"].to_numpy()[:10])
