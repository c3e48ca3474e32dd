"""pitfall="site" of leakage_gap: internal (sites mixed) versus site-held-out evaluation.

The batch-effect gap measured like the leakage pitfalls. The optimistic protocol is
the patient-level cross-validation most papers report, whose folds mix the sites;
the honest one tests every site in turn on a model that never saw it
(:class:`~pitfalls.model_selection.LeaveOneSiteOut`, patients disjoint). Only the
internal folds change between repeats: the sites to hold out are the study's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._compat import num_samples as _num_samples
from .._validation import check_sites
from ..model_selection import LeaveOneSiteOut
from ..model_selection._check import describe_splitter, split_by_group_checked
from ..model_selection._site import _SiteHoldout

__all__ = ["SiteProtocol", "site_protocol", "site_scores_frame"]


class SiteProtocol:
    """The site-held-out splitter, the name of each of its folds, the internal fold count."""

    def __init__(self, splitter: Any, fold_sites: list[str], n_internal_folds: int) -> None:
        self.splitter = splitter
        self.fold_sites = fold_sites
        self.n_internal_folds = n_internal_folds


def site_protocol(sites: Any, cv: Any, X: Any, y: Any, groups: Any) -> SiteProtocol:
    """Validate ``sites`` (labels or a site-held-out splitter) and plan the honest protocol.

    The folds are checked patient-disjoint before any fit (a patient at two sites is
    refused by name, unless the splitter was built with ``on_conflict="drop"``).
    ``cv=None`` becomes as many internal folds as make the internal test folds as
    large as the held-out ones on average, so both protocols train on similar amounts
    of data and the gap is not a learning-curve effect.
    """
    n_samples = _num_samples(X)
    if groups is None:
        raise ValueError(
            "pitfall='site' compares patient-level cross-validation with site-held-out "
            "evaluation: pass groups (one patient id per sample)."
        )
    if sites is None:
        raise ValueError(
            "pitfall='site' needs sites: one site per sample, or a site-held-out splitter "
            "such as LeaveOneSiteOut(sites) or LeavePSitesOut(sites, 2)."
        )
    if isinstance(cv, _SiteHoldout):
        raise ValueError(
            f"{describe_splitter('cv', cv)} holds sites out, but with pitfall='site' cv is "
            "the internal (sites mixed) protocol; pass the site-held-out splitter as "
            "sites=... and leave cv=None (or a patient-level splitter)."
        )
    if not isinstance(sites, _SiteHoldout) and hasattr(sites, "split"):
        raise TypeError(
            f"{describe_splitter('sites', sites)} is a splitter that does not say which "
            "site each sample comes from; pass the sites themselves, or LeaveOneSiteOut("
            "sites) or LeavePSitesOut(sites, n_sites)."
        )
    splitter = sites if isinstance(sites, _SiteHoldout) else LeaveOneSiteOut(sites)
    labels = check_sites(splitter.sites, n_samples, name="sites")
    folds = split_by_group_checked(
        splitter,
        X,
        y,
        groups,
        described=describe_splitter("sites", splitter),
        where="the site-held-out protocol",
    )
    fold_sites = ["+".join(str(s) for s in pd.unique(labels[test])) for _, test in folds]
    mean_test = np.mean([test.size for _, test in folds])
    n_internal = max(2, round(n_samples / mean_test))
    return SiteProtocol(splitter, fold_sites, n_internal)


def site_scores_frame(
    fold_scores: list[tuple[dict[str, float], ...]], fold_sites: list[str], metrics: list[str]
) -> pd.DataFrame:
    """Long table of the held-out sites' scores: ``repeat``, ``site``, one column per metric.

    Examples
    --------
    >>> from pitfalls.experiments._site import site_scores_frame
    >>> site_scores_frame([({"f1": 0.5}, {"f1": 0.7})], ["A", "B"], ["f1"])
       repeat site   f1
    0       0    A  0.5
    1       0    B  0.7
    """
    rows = [
        {"repeat": repeat, "site": site, **{metric: folds[i][metric] for metric in metrics}}
        for repeat, folds in enumerate(fold_scores)
        for i, site in enumerate(fold_sites)
    ]
    return pd.DataFrame(rows, columns=["repeat", "site", *metrics])
