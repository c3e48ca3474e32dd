"""Forward-chaining splits over patients ordered in time (temporal validation).

Patients with follow-up exams make scikit-learn's ``TimeSeriesSplit`` leak twice: it
cuts a patient's exams across the boundary, and a training patient's later exams can
lie after the test period begins. Here the unit is the patient: patients are ordered
by their first exam, a patient's later exams stay with the patient, and a training
patient whose exams reach the test period (plus ``gap``) is left out of that fold.
"""

from __future__ import annotations

import datetime
import numbers
from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator

from .._compat import num_samples as _num_samples
from .._validation import check_groups, check_per_sample
from ._assign import encode
from ._split import _check_n_splits, per_sample_repr

__all__ = ["GroupTimeSeriesSplit", "as_time_axis"]

_DURATION_TYPES = (datetime.timedelta, np.timedelta64, pd.Timedelta)


def as_time_axis(times: Any, *, name: str = "times") -> tuple[np.ndarray, bool]:
    """Exam times as numbers on one axis, and whether they are dates.

    Dates (``datetime64``, pandas timestamps, ISO strings) become nanoseconds since
    the epoch (time-zone-aware ones in UTC); numbers (days since baseline, visit
    numbers) stay numbers. Missing values are an error naming their positions.

    Examples
    --------
    >>> from pitfalls.model_selection._time import as_time_axis
    >>> as_time_axis([3, 1.5])
    (array([3. , 1.5]), False)
    >>> values, is_date = as_time_axis(["2020-01-02", "2020-01-01"])
    >>> int(values[0] - values[1]) // 86_400_000_000_000, is_date
    (1, True)
    """
    values = check_per_sample(
        times,
        name=name,
        unit="exam time",
        fix="every sample needs its exam time (date or number). Fill them in or drop those samples.",
    )
    if values.dtype.kind in "iuf":
        return values.astype(np.float64), False
    if values.dtype.kind == "b":
        raise ValueError(f"{name} holds booleans; pass exam dates or numbers (e.g. days).")
    try:
        dates = pd.to_datetime(pd.Series(values), utc=True)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{name} holds values that are neither numbers nor dates ({error}); pass exam "
            "dates (datetime64, pandas timestamps or ISO strings) or numbers (e.g. days)."
        ) from None
    nanoseconds = dates.dt.tz_localize(None).to_numpy("datetime64[ns]").astype(np.int64)
    return nanoseconds.astype(np.float64), True


def as_duration(gap: Any, is_date: bool, *, name: str = "gap") -> float:
    """``gap`` on the axis of :func:`as_time_axis`: nanoseconds for dates, else the number.

    Examples
    --------
    >>> import datetime
    >>> from pitfalls.model_selection._time import as_duration
    >>> as_duration(datetime.timedelta(microseconds=1), is_date=True)
    1000.0
    >>> as_duration(30, is_date=True)
    Traceback (most recent call last):
    ...
    ValueError: gap=30 is a number but the exam times are dates; pass a duration such as pd.Timedelta(days=30) or '30D'.
    """
    if isinstance(gap, bool):
        raise ValueError(f"{name}={gap!r} must be a duration or a number >= 0.")
    if isinstance(gap, numbers.Real) and not isinstance(gap, np.timedelta64):
        if gap != 0 and is_date:
            raise ValueError(
                f"{name}={gap!r} is a number but the exam times are dates; pass a duration "
                f"such as pd.Timedelta(days={gap}) or '{gap}D'."
            )
        value = float(gap)
    elif isinstance(gap, (*_DURATION_TYPES, str)):
        if not is_date:
            raise ValueError(
                f"{name}={gap!r} is a duration but the exam times are numbers; pass a "
                "number in the same unit as the times."
            )
        try:
            value = float(pd.Timedelta(gap).value)
        except ValueError:
            raise ValueError(
                f"{name}={gap!r} is not a duration; pass e.g. '30D' or pd.Timedelta(days=30)."
            ) from None
    else:
        raise ValueError(f"{name}={gap!r} must be a duration or a number >= 0.")
    if not value >= 0:  # also refuses NaN
        raise ValueError(f"{name}={gap!r} is negative; use a gap >= 0.")
    return value


def _first_and_last(times: np.ndarray, group_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each patient's first and last exam time (patients in code order)."""
    order = np.lexsort((times, group_codes))
    sorted_codes = group_codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    ends = np.r_[starts[1:], sorted_codes.size] - 1
    return times[order][starts], times[order][ends]


class GroupTimeSeriesSplit(BaseCrossValidator):
    """Forward-chaining cross-validator over patients ordered by their first exam.

    The patient-level counterpart of :class:`~sklearn.model_selection.TimeSeriesSplit`
    (scikit-learn issue #14257): patients are sorted by their first exam and cut into
    ``n_splits + 1`` consecutive blocks; fold ``i`` tests block ``i + 1`` and trains on
    the patients before it. Every test patient's first exam comes after every training
    exam plus ``gap``: a patient's later exams stay with the patient, so an earlier
    patient whose follow-up reaches into the test period (less than ``gap`` before it)
    is left out of that fold's training set (purged). Patients never cross.

    Parameters
    ----------
    times : array-like of shape (n_samples,)
        Exam time of each sample: dates (``datetime64``, pandas timestamps, ISO
        strings) or numbers (days since a baseline). Given here, as
        :class:`~sklearn.model_selection.PredefinedSplit` takes its folds, so that
        ``cross_validate`` and ``GridSearchCV`` need not route it. No missing values.
    n_splits : int, default=5
        Number of folds; at least 2, at most the number of patients minus 1.
    gap : timedelta, str or number, default=0
        Minimum time between a training exam and a test patient's first exam, for an
        outcome that shows only later (a duration such as ``pd.Timedelta(days=90)``
        or ``"90D"`` for dates; a number in the unit of numeric times).
    max_train_size : int, default=None
        Train on at most this many patients: the most recent (by first exam) of those
        allowed. Default: all of them.

    See Also
    --------
    LeaveOneSiteOut : External validation on held-out sites.
    assign_splits : ``time=`` and ``test_after=`` write a temporal test split.

    Notes
    -----
    Blocks hold ``n_patients // (n_splits + 1)`` patients, the first block the rest,
    as scikit-learn's ``TimeSeriesSplit`` does with samples. Patients with the same
    first exam time keep the order in which they first appear. Test folds are disjoint
    and cover every patient after the first block; training sets grow with the folds.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.model_selection import GroupTimeSeriesSplit
    >>> times = np.array([1, 2, 3, 4, 5, 6, 7, 8])
    >>> patients = np.array(["a", "b", "c", "d", "a", "e", "f", "g"])
    >>> cv = GroupTimeSeriesSplit(times, n_splits=2)
    >>> for train, test in cv.split(groups=patients):
    ...     print(np.unique(patients[train]).tolist(), np.unique(patients[test]).tolist())
    ['b', 'c'] ['d', 'e']
    ['a', 'b', 'c', 'd', 'e'] ['f', 'g']

    Patient ``a``, first seen at time 1, returned at time 5: its follow-up lies after
    the first test block begins (``d`` at time 4), so it is left out of that fold's
    training set. A ``gap`` leaves out every patient seen too shortly before:

    >>> cv = GroupTimeSeriesSplit(times, n_splits=2, gap=1)
    >>> [np.unique(patients[train]).tolist() for train, _ in cv.split(groups=patients)]
    [['b'], ['a', 'b', 'c', 'd']]
    """

    __metadata_request__split: ClassVar[dict[str, bool]] = {"groups": True}

    def __init__(
        self,
        times: Any,
        *,
        n_splits: int = 5,
        gap: Any = 0,
        max_train_size: int | None = None,
    ) -> None:
        _check_n_splits(n_splits)
        is_date = as_time_axis(times)[1]
        as_duration(gap, is_date)
        if max_train_size is not None and (
            isinstance(max_train_size, bool)
            or not isinstance(max_train_size, numbers.Integral)
            or max_train_size < 1
        ):
            raise ValueError(
                f"max_train_size={max_train_size!r} must be None or an integer >= 1 (patients)."
            )
        self.times = times
        self.n_splits = n_splits
        self.gap = gap
        self.max_train_size = max_train_size

    def split(self, X: Any = None, y: Any = None, groups: Any = None) -> Iterator[Any]:
        """Generate indices to split data into training and test set, forward in time.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), default=None
            Only its length is checked against ``times``.
        y : object
            Ignored, present for API compatibility.
        groups : array-like of shape (n_samples,), default=None
            Patient of each sample; without it every sample is its own patient.

        Yields
        ------
        train : ndarray
            Training set indices for that split.
        test : ndarray
            Test set indices for that split.

        Examples
        --------
        >>> from pitfalls.model_selection import GroupTimeSeriesSplit
        >>> cv = GroupTimeSeriesSplit([5, 1, 2, 3, 4, 6], n_splits=2)
        >>> [(train.tolist(), test.tolist()) for train, test in cv.split()]
        [([1, 2], [3, 4]), ([1, 2, 3, 4], [0, 5])]
        """
        times, is_date = as_time_axis(self.times)
        gap = as_duration(self.gap, is_date)
        group_codes = self._group_codes(X, groups, times.size)
        first, last = _first_and_last(times, group_codes)
        n_patients = first.size
        n_folds = self.n_splits + 1
        if n_folds > n_patients:
            raise ValueError(
                f"n_splits={self.n_splits} needs at least {n_folds} patients (n_splits + 1: "
                f"a block to train on before the first test block), but there are "
                f"{n_patients}; use n_splits <= {n_patients - 1}."
            )
        order = np.argsort(first, kind="stable")
        test_size = n_patients // n_folds
        for fold, start in enumerate(
            range(n_patients - self.n_splits * test_size, n_patients, test_size)
        ):
            test_patients = order[start : start + test_size]
            candidates = order[:start]
            # strictly before the test block's first exam, by at least the gap
            train_patients = candidates[last[candidates] + gap < first[order[start]]]
            if self.max_train_size is not None:
                train_patients = train_patients[-self.max_train_size :]
            if not train_patients.size:
                raise ValueError(
                    f"Fold {fold + 1} of GroupTimeSeriesSplit has no training patient: each of "
                    f"the {start} patients first seen before its test block has an exam less "
                    f"than gap={self.gap!r} before the block's first exam. Use a smaller gap "
                    "or fewer splits."
                )
            yield _samples_of(train_patients, group_codes), _samples_of(test_patients, group_codes)

    def _group_codes(self, X: Any, groups: Any, n_samples: int) -> np.ndarray:
        if X is not None and _num_samples(X) != n_samples:
            raise ValueError(
                f"times has {n_samples} entries but X has {_num_samples(X)} samples: "
                "GroupTimeSeriesSplit(times) belongs to the data set whose order times "
                "follows (as PredefinedSplit does); build it with that data's exam times."
            )
        if groups is None:
            return np.arange(n_samples)
        return encode(check_groups(groups, n_samples))[0]

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Return the number of splitting iterations, ``n_splits``.

        Parameters
        ----------
        X, y, groups : object
            Ignored, present for API compatibility.

        Returns
        -------
        int

        Examples
        --------
        >>> from pitfalls.model_selection import GroupTimeSeriesSplit
        >>> GroupTimeSeriesSplit([1, 2, 3], n_splits=2).get_n_splits()
        2
        """
        return int(self.n_splits)

    def __repr__(self) -> str:
        return per_sample_repr(self, {"times": "exam times"})


def _samples_of(patients: np.ndarray, group_codes: np.ndarray) -> np.ndarray:
    """Sample indices (ascending) of the given patient codes."""
    chosen = np.zeros(int(group_codes.max()) + 1, dtype=bool)
    chosen[patients] = True
    return np.flatnonzero(chosen[group_codes])
