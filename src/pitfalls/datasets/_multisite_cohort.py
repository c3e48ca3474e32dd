"""A synthetic multi-site imaging-feature cohort where one site's scanner artefact tracks the label.

The paper's third pitfall (batch effect): when the data source is confounded with the
label, a model can learn the source instead of the disease. Here that happens the way
it does between hospitals: a referral centre sees mostly sick patients, and its
scanner (another vendor, another reconstruction kernel) leaves an artefact on the
image features of *every* patient it scans, sick or not. Pooled patient-level
cross-validation rewards a model for recognising that scanner; a site it never saw
does not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

__all__ = ["make_multisite_cohort"]

_SITE_NAMES = ("A", "B", "C", "D", "E", "F", "G", "H")
_BASE_PREVALENCE = 0.2  # of the community hospitals
_REFERRAL_PREVALENCE = 0.75  # of the referral centre, whose scanner leaves the artefact


def _check(n_patients: int, n_sites: int, n_features: int, n_informative: int) -> None:
    if not 2 <= n_sites <= len(_SITE_NAMES):
        raise ValueError(f"n_sites={n_sites} must be between 2 and {len(_SITE_NAMES)}.")
    if n_patients < 4 * n_sites:
        raise ValueError(
            f"n_patients={n_patients} is too few for {n_sites} sites; use n_patients >= "
            f"{4 * n_sites} so that every site has patients of both classes."
        )
    if not 1 <= n_informative < n_features:
        raise ValueError(
            f"n_informative={n_informative} must be at least 1 and less than "
            f"n_features={n_features} (the artefact needs features of its own)."
        )


def make_multisite_cohort(
    n_patients: int = 400,
    *,
    n_sites: int = 4,
    n_features: int = 30,
    n_informative: int = 5,
    disease_signal: float = 0.5,
    site_effect: float = 1.5,
    confounded: bool = True,
    random_state: int | np.random.RandomState | None = None,
) -> pd.DataFrame:
    """Simulate image features of patients from several hospitals, one with a confounded scanner.

    What it simulates: radiomics-like features of 1 to 3 exams per patient at
    ``n_sites`` hospitals (``"A"``, ``"B"``, ...; the first the largest). The last
    site is a referral centre: with ``confounded=True`` 75% of its patients have the
    disease against 20% elsewhere, and its scanner adds ``site_effect`` standard
    deviations to a block of texture-like features of every exam it acquires, sick
    or healthy (a source artefact, not a disease sign). The disease moves
    ``n_informative`` features by ``disease_signal`` standard deviations at every
    site; a patient's exams share a patient-specific signature; every scanner has
    small offsets of its own.

    Why internal scores inflate: in pooled patient-level cross-validation the
    artefact says "referral centre", and the referral centre says "sick", so a model
    that recognises the scanner ranks sick patients higher without looking at the
    disease features. Tested on a site it never saw, the scanner tells it nothing
    (and it has learned to trust it), so it scores what the disease features allow.
    ``confounded=False`` gives every site the same prevalence: the artefact stays
    but carries no information about the label, and internal and site-held-out
    scores agree. ``site_effect=0`` removes the artefact.

    Parameters
    ----------
    n_patients : int, default=400
        Patients (each with 1 to 3 exams).
    n_sites : int, default=4
        Hospitals, 2 to 8; the last is the referral centre with the artefact.
    n_features : int, default=30
        Feature columns ``feature_00``, ... .
    n_informative : int, default=5
        Features the disease moves (the first ones); the artefact moves the last
        third of the others.
    disease_signal : float, default=0.5
        Shift of the informative features in sick patients, in standard deviations.
    site_effect : float, default=1.5
        Shift of the artefact features at the referral centre, in standard deviations.
    confounded : bool, default=True
        Whether the referral centre's prevalence differs (75% against 20%). When
        False, every site has the same prevalence (that of the confounded cohort
        as a whole).
    random_state : int, RandomState instance or None, default=None
        Seed for a reproducible cohort.

    Returns
    -------
    DataFrame
        One row per exam: ``patient`` (text ids such as ``"P0007"``), ``site``,
        ``label`` (1 = disease, the patient's), ``exam_date`` (first exams spread
        over 2016-2021, follow-ups within a year), then the feature columns. This
        is the layout ``pitfalls reproduce site-gap --data`` reads.

    See Also
    --------
    make_batch_xray : The paper's own batch-effect set (two sources, images).
    pitfalls.experiments.leakage_gap : ``pitfall="site"`` measures the gap.

    Examples
    --------
    >>> from pitfalls.datasets import make_multisite_cohort
    >>> cohort = make_multisite_cohort(200, random_state=0)
    >>> cohort.columns[:5].tolist()
    ['patient', 'site', 'label', 'exam_date', 'feature_00']
    >>> patients = cohort.drop_duplicates("patient")
    >>> patients.groupby("site")["label"].mean().round(2).to_dict()  # prevalence per site
    {'A': 0.19, 'B': 0.18, 'C': 0.27, 'D': 0.65}
    >>> int(cohort.groupby("patient")["site"].nunique().max())  # one site per patient
    1
    """
    _check(n_patients, n_sites, n_features, n_informative)
    rng = check_random_state(random_state)
    sites = np.array(_SITE_NAMES[:n_sites])
    site_share = np.linspace(1.5, 1.0, n_sites)
    site_of_patient = rng.choice(n_sites, n_patients, p=site_share / site_share.sum())
    site_of_patient[: 4 * n_sites] = np.repeat(np.arange(n_sites), 4)  # no site left empty
    referral = n_sites - 1
    prevalence = np.full(n_sites, _BASE_PREVALENCE)
    prevalence[referral] = _REFERRAL_PREVALENCE
    if not confounded:
        prevalence[:] = prevalence[site_of_patient].mean()
    label = (rng.random_sample(n_patients) < prevalence[site_of_patient]).astype(int)
    label[0 : 4 * n_sites : 4], label[1 : 4 * n_sites : 4] = 1, 0  # both classes at every site

    n_exams = 1 + np.minimum(rng.poisson(0.7, n_patients), 2)
    patient_of_exam = np.repeat(np.arange(n_patients), n_exams)
    features = _exam_features(
        rng, patient_of_exam, site_of_patient, label, n_features, n_informative,
        disease_signal, site_effect, referral,
    )  # fmt: skip
    first_exam = pd.Timestamp("2016-01-01") + pd.to_timedelta(
        rng.randint(0, 6 * 365, n_patients), unit="D"
    )
    follow_up = np.where(
        np.r_[True, patient_of_exam[1:] != patient_of_exam[:-1]],
        0,
        rng.randint(30, 365, patient_of_exam.size),
    )
    frame = pd.DataFrame(
        {
            "patient": [f"P{p:04d}" for p in patient_of_exam],
            "site": sites[site_of_patient][patient_of_exam],
            "label": label[patient_of_exam],
            "exam_date": first_exam[patient_of_exam] + pd.to_timedelta(follow_up, unit="D"),
        }
    )
    names = [f"feature_{j:02d}" for j in range(n_features)]
    return pd.concat([frame, pd.DataFrame(features, columns=names)], axis=1)


def _exam_features(
    rng: np.random.RandomState,
    patient_of_exam: np.ndarray,
    site_of_patient: np.ndarray,
    label: np.ndarray,
    n_features: int,
    n_informative: int,
    disease_signal: float,
    site_effect: float,
    referral: int,
) -> np.ndarray:
    """Patient signature + exam noise + disease shift + scanner offsets + the artefact."""
    n_patients, n_exams = label.size, patient_of_exam.size
    signature = rng.normal(0.0, 0.7, (n_patients, n_features))
    features = signature[patient_of_exam] + rng.normal(0.0, 0.7, (n_exams, n_features))
    features[:, :n_informative] += disease_signal * label[patient_of_exam, None]
    site_of_exam = site_of_patient[patient_of_exam]
    scanner_offset = rng.normal(0.0, 0.15, (site_of_patient.max() + 1, n_features))
    features += scanner_offset[site_of_exam]
    n_artefact = max(1, (n_features - n_informative) // 3)
    artefact = slice(n_features - n_artefact, n_features)
    features[site_of_exam == referral, artefact] += site_effect
    return features
