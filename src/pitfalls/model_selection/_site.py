"""Site-held-out splitters: test on whole sites (hospitals, scanners) the model never saw.

The paper's third pitfall ends with "evaluate on an external batch". These splitters
make every site in turn that external batch, with the patients kept disjoint: a
patient seen at two sites cannot be both trained on (at one) and tested on (at the
other).
"""

from __future__ import annotations

import itertools
import numbers
import warnings
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator

from .._compat import num_samples as _num_samples
from .._validation import check_groups, check_sites, describe_values
from ..exceptions import GroupLeakageError, LeakageWarning
from ._assign import encode
from ._split import per_sample_repr

__all__ = ["LeaveOneSiteOut", "LeavePSitesOut"]

_ON_CONFLICT = ("raise", "drop")


def _sorted_codes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of ``values`` in sorted order (first appearance for unorderable mixes)."""
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:  # e.g. ints and strings mixed: no order, keep appearance
        return encode(values)
    return codes.astype(np.intp, copy=False), np.asarray(uniques)


def _check_min_site_size(min_site_size: Any) -> None:
    if isinstance(min_site_size, bool) or not isinstance(min_site_size, numbers.Integral):
        raise ValueError(
            f"min_site_size must be an integer >= 1; got {min_site_size!r} of type "
            f"{type(min_site_size).__name__}."
        )
    if min_site_size < 1:
        raise ValueError(f"min_site_size={min_site_size} is less than 1; use min_site_size >= 1.")


def _conflicts(group_codes: np.ndarray, site_codes: np.ndarray) -> np.ndarray:
    """Codes of the groups (patients) with samples at more than one site."""
    pairs = np.unique(np.stack([group_codes, site_codes]), axis=1)
    n_sites_of_group = np.bincount(pairs[0], minlength=int(group_codes.max()) + 1)
    return np.flatnonzero(n_sites_of_group > 1)


class _SiteHoldout(BaseCrossValidator):
    """Shared machinery: validate, find the testable sites, yield the held-out folds."""

    __metadata_request__split: ClassVar[dict[str, bool]] = {"groups": True}
    sites: Any
    on_conflict: str
    min_site_size: int
    n_sites: int

    def _n_test_sites(self) -> int:
        raise NotImplementedError

    def _check_common(self, sites: Any, on_conflict: Any, min_site_size: Any) -> None:
        check_sites(sites, name="sites")
        if on_conflict not in _ON_CONFLICT:
            raise ValueError(
                f"on_conflict={on_conflict!r} is not one of 'raise', 'drop'; 'raise' refuses "
                "a patient seen at two sites, 'drop' leaves such patients out of training."
            )
        _check_min_site_size(min_site_size)

    def _plan(self, X: Any, groups: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
        """Site code and group code of each sample, the site names, the test site sets."""
        sites = check_sites(self.sites, name="sites")
        n_samples = sites.shape[0]
        if X is not None and _num_samples(X) != n_samples:
            raise ValueError(
                f"sites has {n_samples} entries but X has {_num_samples(X)} samples: "
                f"{type(self).__name__}(sites) belongs to the data set whose order sites "
                "follows (as PredefinedSplit does); build it with that data's sites, and in "
                "a nested cross-validation use it for the outer loop only."
            )
        site_codes, site_names = _sorted_codes(sites)
        if site_names.size < 2:
            raise ValueError(
                f"sites has 1 distinct site ({describe_values(site_names)}); holding out a "
                "site needs at least 2 sites, one to test on and one to train on. For a "
                "single-site data set use StratifiedGroupKFold."
            )
        if groups is None:
            group_codes = np.arange(n_samples)
        else:
            groups = check_groups(groups, n_samples)
            group_codes = encode(groups)[0]
            self._check_conflicts(group_codes, site_codes, groups)
        testable = self._testable_sites(site_codes, group_codes, site_names, groups is not None)
        combos = list(itertools.combinations(testable, self._n_test_sites()))
        return site_codes, group_codes, site_names, combos

    def _check_conflicts(
        self, group_codes: np.ndarray, site_codes: np.ndarray, groups: np.ndarray
    ) -> None:
        crossing = _conflicts(group_codes, site_codes)
        if not crossing.size:
            return
        first_sample = np.unique(group_codes, return_index=True)[1]
        names = groups[first_sample[crossing]]
        if self.on_conflict == "raise":
            raise GroupLeakageError(
                f"{crossing.size} patient(s) have samples at more than one site: "
                f"{describe_values(names)}. Holding out one of their sites would test them "
                "while training on their other samples. Fix the site or patient column, or "
                "pass on_conflict='drop' to leave such patients out of the training set of "
                "every fold that tests one of their sites.",
                shared_groups=names.tolist(),
            )
        warnings.warn(
            f"{crossing.size} patient(s) have samples at more than one site "
            f"({describe_values(names)}); with on_conflict='drop' they are left out of the "
            "training set of every fold that tests one of their sites.",
            LeakageWarning,
            stacklevel=4,
        )

    def _testable_sites(
        self, site_codes: np.ndarray, group_codes: np.ndarray, names: np.ndarray, by_patient: bool
    ) -> list[int]:
        """Sites with at least ``min_site_size`` patients (samples without groups)."""
        pairs = np.unique(np.stack([site_codes, group_codes]), axis=1)
        size = np.bincount(pairs[0], minlength=names.size)
        testable = np.flatnonzero(size >= self.min_site_size)
        p = self._n_test_sites()
        unit = "patients" if by_patient else "samples"
        if p >= names.size:
            raise ValueError(
                f"n_sites={p} leaves no site to train on: sites has {names.size} distinct "
                f"sites; use n_sites <= {names.size - 1}."
            )
        if testable.size < p:
            largest = np.argsort(-size, kind="stable")[:10]
            sizes = ", ".join(f"{describe_values(names[i : i + 1])}: {size[i]}" for i in largest)
            raise ValueError(
                f"min_site_size={self.min_site_size} leaves {testable.size} site(s) large "
                f"enough to test on, fewer than the {p} held out per fold ({unit} per site: "
                f"{sizes}); lower min_site_size."
            )
        return testable.tolist()

    def split(self, X: Any = None, y: Any = None, groups: Any = None) -> Iterator[Any]:
        """Generate indices to split data into training and test set, one site set per fold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), default=None
            Only its length is checked against ``sites``.
        y : object
            Ignored, present for API compatibility.
        groups : array-like of shape (n_samples,), default=None
            Patient of each sample. With it, no patient is on both sides of a fold,
            and ``min_site_size`` counts patients.

        Yields
        ------
        train : ndarray
            Training set indices for that split.
        test : ndarray
            Test set indices for that split: the samples of the held-out site(s).

        Examples
        --------
        >>> from pitfalls.model_selection import LeaveOneSiteOut
        >>> cv = LeaveOneSiteOut(["a", "a", "b", "c"])
        >>> [test.tolist() for _, test in cv.split()]
        [[0, 1], [2], [3]]
        """
        site_codes, group_codes, _, combos = self._plan(X, groups)
        for combo in combos:
            test_mask = np.isin(site_codes, combo)
            tested_group = np.zeros(int(group_codes.max()) + 1, dtype=bool)
            tested_group[group_codes[test_mask]] = True
            # the patients of the test sites never train (only those seen at two sites
            # are affected, and only with on_conflict="drop")
            train_mask = ~tested_group[group_codes]
            yield np.flatnonzero(train_mask), np.flatnonzero(test_mask)

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Return the number of splitting iterations: the number of test site sets.

        Parameters
        ----------
        X, y : object
            Ignored, present for API compatibility.
        groups : array-like of shape (n_samples,), default=None
            Patient of each sample; counts the patients per site for ``min_site_size``.

        Returns
        -------
        int

        Examples
        --------
        >>> from pitfalls.model_selection import LeavePSitesOut
        >>> LeavePSitesOut(["a", "b", "c", "d"], n_sites=2).get_n_splits()
        6
        """
        with warnings.catch_warnings():  # on_conflict="drop" warns when split() runs
            warnings.simplefilter("ignore", LeakageWarning)
            return len(self._plan(None, groups)[3])

    def __repr__(self) -> str:
        return per_sample_repr(self, {"sites": "samples"})


class LeaveOneSiteOut(_SiteHoldout):
    """Leave-one-site-out cross-validator: each fold tests one whole site.

    The external validation the paper asks for, made systematic: fold ``i`` tests on
    every sample of site ``i`` and trains on the other sites. Sites are given per
    sample at construction, as :class:`~sklearn.model_selection.PredefinedSplit`
    takes its fold array, so ``cross_validate``, ``GridSearchCV`` and
    :func:`~pitfalls.model_selection.nested_cross_validate` use it like any
    splitter, with ``groups`` (patients) passed as usual.

    Parameters
    ----------
    sites : array-like of shape (n_samples,)
        Site (hospital, scanner, source) of each sample; no missing values. Folds
        follow the sites in sorted order.
    on_conflict : {"raise", "drop"}, default="raise"
        What to do, when ``groups`` are passed to ``split``, with a patient seen at
        more than one site. ``"raise"``: a :class:`~pitfalls.exceptions.GroupLeakageError`
        naming the patients. ``"drop"``: a
        :class:`~pitfalls.exceptions.LeakageWarning`, and the patient is left out of
        the training set of every fold that tests one of its sites (its samples at
        the test site are still tested).
    min_site_size : int, default=1
        Sites with fewer patients (samples, without ``groups``) are never tested on:
        too few to score, they stay in every training set.

    See Also
    --------
    LeavePSitesOut : Hold out several sites at once.
    StratifiedGroupKFold : Internal, patient-level cross-validation (``sites=`` to
        balance sites across folds).
    pitfalls.experiments.leakage_gap : ``pitfall="site"`` measures internal versus
        site-held-out scores.

    Notes
    -----
    The splitter belongs to the data set whose order ``sites`` follows; ``split``
    checks the length of ``X`` against it. In a nested cross-validation it can be
    the outer loop; the inner loop sees a subset and needs its own splitter.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.model_selection import LeaveOneSiteOut
    >>> sites = np.array(["A", "A", "B", "B", "C", "C"])
    >>> patients = np.array(["p1", "p1", "p2", "p3", "p4", "p5"])
    >>> cv = LeaveOneSiteOut(sites)
    >>> cv.get_n_splits()
    3
    >>> for train, test in cv.split(np.zeros((6, 1)), groups=patients):
    ...     print(sites[test][0], train.tolist(), test.tolist())
    A [2, 3, 4, 5] [0, 1]
    B [0, 1, 4, 5] [2, 3]
    C [0, 1, 2, 3] [4, 5]

    A patient seen at two sites is refused, or left out of training:

    >>> patients[2] = "p1"
    >>> next(cv.split(groups=patients))
    Traceback (most recent call last):
    ...
    pitfalls.exceptions.GroupLeakageError: 1 patient(s) have samples at more than one site: 'p1'. ...
    """

    def __init__(self, sites: Any, *, on_conflict: str = "raise", min_site_size: int = 1) -> None:
        self._check_common(sites, on_conflict, min_site_size)
        self.sites = sites
        self.on_conflict = on_conflict
        self.min_site_size = min_site_size

    def _n_test_sites(self) -> int:
        return 1


class LeavePSitesOut(_SiteHoldout):
    """Leave-P-sites-out cross-validator: each fold tests one combination of ``n_sites`` sites.

    For many small sites, where a single one is too small to score, or to test how a
    model trained on fewer sites carries over. Every combination of ``n_sites``
    testable sites is tested once (there are ``comb(n_testable, n_sites)`` folds), so a
    sample is tested in several folds.

    Parameters
    ----------
    sites : array-like of shape (n_samples,)
        Site of each sample; no missing values.
    n_sites : int
        Sites held out per fold; at least 1 and fewer than the number of sites.
    on_conflict : {"raise", "drop"}, default="raise"
        A patient seen at two sites: refused, or left out of training (see
        :class:`LeaveOneSiteOut`).
    min_site_size : int, default=1
        Sites with fewer patients (samples, without ``groups``) are never tested on.

    See Also
    --------
    LeaveOneSiteOut : ``n_sites=1``.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.model_selection import LeavePSitesOut
    >>> sites = np.array(["A", "B", "B", "C", "D"])
    >>> cv = LeavePSitesOut(sites, n_sites=2, min_site_size=1)
    >>> [np.unique(sites[test]).tolist() for _, test in cv.split()]
    [['A', 'B'], ['A', 'C'], ['A', 'D'], ['B', 'C'], ['B', 'D'], ['C', 'D']]
    >>> LeavePSitesOut(sites, n_sites=4).get_n_splits()
    Traceback (most recent call last):
    ...
    ValueError: n_sites=4 leaves no site to train on: sites has 4 distinct sites; use n_sites <= 3.
    """

    def __init__(
        self,
        sites: Any,
        n_sites: int,
        *,
        on_conflict: str = "raise",
        min_site_size: int = 1,
    ) -> None:
        self._check_common(sites, on_conflict, min_site_size)
        if isinstance(n_sites, bool) or not isinstance(n_sites, numbers.Integral) or n_sites < 1:
            raise ValueError(f"n_sites must be an integer >= 1; got {n_sites!r}.")
        self.sites = sites
        self.n_sites = n_sites
        self.on_conflict = on_conflict
        self.min_site_size = min_site_size

    def _n_test_sites(self) -> int:
        return int(self.n_sites)
