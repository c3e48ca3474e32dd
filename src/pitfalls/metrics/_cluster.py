"""Patient-level (cluster) bootstrap: resample patients, not samples, all replicates at once.

A patient's images (lesions, patches, slices) are not independent: resampling them one
by one pretends there is more information than there is and gives intervals that are
too narrow. The cluster bootstrap resamples whole patients with replacement. A replicate
is then a vector of patient multiplicities ``w`` (how many times each patient is drawn),
and every statistic we need is linear in ``w`` once the samples are summarised per
patient:

* a confusion matrix is ``w @ C`` where ``C[g]`` is patient ``g``'s confusion counts;
* ROC AUC and average precision only need the resampled weight of each score bin (see
  :mod:`pitfalls.metrics._rankboot`): the sum of ``w[patient of s]`` over the samples
  ``s`` of the bin, one gather and one segment sum per replicate chunk;
* Brier score, calibration bins, per-sample weights for curves: ``w @ (sums per patient)``
  or ``w[codes]``.

Resampling is stratified by the patient's class where that is defined (every sample of
the patient has the same true class), which keeps the number of positive and negative
*patients* fixed, as the sample-level bootstrap keeps the number of positive and negative
samples fixed. Patients with samples of several classes form a stratum of their own.
Multiplicities inside a stratum are exactly Multinomial(``n_patients``, uniform), drawn
with the fast exact sampler of :mod:`pitfalls.metrics._rankboot`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .._validation import check_groups
from ._rankboot import (
    ColumnLayout,
    bin_columns,
    bin_cumulative,
    bin_sums,
    class_sampler,
    column_layout,
    draw_class_counts,
    metrics_from_cumulative,
)

__all__ = [
    "PatientPlan",
    "RankingColumn",
    "as_generator",
    "cluster_bootstrap",
    "plan_patients",
    "ranking_column",
    "replicate_chunks",
    "sample_plan",
]

# Cells (replicates x (patients + bins)) processed at once: a few MB of int32 per chunk.
_CHUNK_CELLS = 1 << 21


@dataclass(frozen=True)
class PatientPlan:
    """Which patient each sample belongs to, and how patients are resampled.

    Attributes
    ----------
    codes : ndarray of shape (n_samples,)
        Patient index (0 .. n_patients - 1) of each sample, in order of first appearance.
    ids : ndarray of shape (n_patients,)
        The patient ids, as given (text stays text: ``"007"`` is not ``7``).
    strata : tuple of ndarray
        Patient indices resampled together: one stratum per patient class, then one for
        patients whose samples have several classes (if any).
    stratum_names : tuple of str
        What each stratum is (``"class 1"``, ``"several classes"``).
    """

    codes: np.ndarray
    ids: np.ndarray
    strata: tuple[np.ndarray, ...]
    stratum_names: tuple[str, ...]

    @property
    def n_patients(self) -> int:
        """Number of distinct patients."""
        return len(self.ids)

    @property
    def n_mixed(self) -> int:
        """Patients whose samples have several true classes."""
        if self.stratum_names and self.stratum_names[-1] == "several classes":
            return len(self.strata[-1])
        return 0


def as_generator(random_state: Any) -> np.random.Generator:
    """A numpy Generator from an int, None, a Generator or a legacy RandomState."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**32, dtype=np.uint64))
    return np.random.default_rng(random_state)


def plan_patients(
    groups: Any, classes: np.ndarray | None, *, n_samples: int, labels: Any = None
) -> PatientPlan:
    """Encode the patient of each sample and stratify patients by their class.

    Parameters
    ----------
    groups : array-like of shape (n_samples,)
        Patient id of each sample (validated like every ``groups`` argument).
    classes : ndarray of int of shape (n_samples,), optional
        Class index of each sample (0 .. n_classes - 1); ``None`` for one stratum.
    n_samples : int
        Expected number of samples.
    labels : sequence, optional
        Class names used in ``stratum_names`` (default: the class indices).

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.metrics._cluster import plan_patients
    >>> plan = plan_patients(["a", "a", "b", "c"], np.array([1, 1, 0, 1]), n_samples=4)
    >>> plan.codes.tolist(), [s.tolist() for s in plan.strata], plan.stratum_names
    ([0, 0, 1, 2], [[1], [0, 2]], ('class 0', 'class 1'))
    """
    group_arr = check_groups(groups, None, name="groups")
    if len(group_arr) != n_samples:
        raise ValueError(
            f"groups has {len(group_arr)} entries but y_true has {n_samples} samples; "
            "pass one patient id per sample."
        )
    codes, ids = pd.factorize(pd.Series(group_arr, dtype=object), sort=False)
    codes = codes.astype(np.intp)
    n_patients = len(ids)
    if classes is None:
        return PatientPlan(codes, np.asarray(ids, dtype=object), (np.arange(n_patients),), ("all",))
    low = np.full(n_patients, np.iinfo(np.intp).max)
    high = np.full(n_patients, -1)
    np.minimum.at(low, codes, classes)
    np.maximum.at(high, codes, classes)
    strata, names = [], []
    for c in np.unique(low[low == high]).tolist():
        strata.append(np.flatnonzero((low == c) & (high == c)))
        names.append(f"class {labels[c] if labels is not None else c}")
    mixed = np.flatnonzero(low != high)
    if mixed.size:
        strata.append(mixed)
        names.append("several classes")
    return PatientPlan(codes, np.asarray(ids, dtype=object), tuple(strata), tuple(names))


def sample_plan(classes: np.ndarray) -> PatientPlan:
    """Every sample its own "patient": the plan of the sample-level stratified bootstrap.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.metrics._cluster import sample_plan
    >>> [s.tolist() for s in sample_plan(np.array([1, 0, 1])).strata]
    [[1], [0, 2]]
    """
    n = len(classes)
    strata = tuple(np.flatnonzero(classes == c) for c in np.unique(classes).tolist())
    names = tuple(f"class {c}" for c in np.unique(classes).tolist())
    return PatientPlan(np.arange(n, dtype=np.intp), np.arange(n).astype(object), strata, names)


class _WeightSampler:
    """Draw patient multiplicities: Multinomial(n_s, uniform) inside each stratum."""

    def __init__(self, plan: PatientPlan, n_bootstraps: int) -> None:
        self.plan = plan
        self.samplers = [
            class_sampler(np.ones(len(members), dtype=np.int64), n_bootstraps)
            for members in plan.strata
        ]
        # the strata partition the patients; drawing them side by side then scattering
        # once is cheaper than writing each stratum into strided columns
        self.order = np.argsort(np.concatenate(plan.strata), kind="stable")

    def draw(self, n_rep: int, rng: np.random.Generator) -> np.ndarray:
        blocks = [draw_class_counts(s, n_rep, rng) for s in self.samplers]
        side_by_side = np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]
        return np.ascontiguousarray(side_by_side[:, self.order])


def _chunk_size(n_bootstraps: int, width: int) -> int:
    return max(1, min(n_bootstraps, _CHUNK_CELLS // max(1, width)))


def replicate_chunks(
    plan: PatientPlan, n_bootstraps: int, rng: np.random.Generator, *, width: int = 0
) -> Iterator[np.ndarray]:
    """Patient multiplicities of ``n_bootstraps`` replicates, in chunks of rows.

    ``width`` is the number of extra cells per replicate the caller will build from a
    chunk (bins, samples); chunks are sized so that the whole stays a few MB.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.metrics._cluster import plan_patients, replicate_chunks
    >>> plan = plan_patients(["a", "a", "b", "c"], np.array([1, 1, 0, 1]), n_samples=4)
    >>> w = np.concatenate(list(replicate_chunks(plan, 5, np.random.default_rng(0))))
    >>> w.shape, w[:, [0, 2]].sum(axis=1).tolist(), w[:, 1].tolist()
    ((5, 3), [2, 2, 2, 2, 2], [1, 1, 1, 1, 1])
    """
    sampler = _WeightSampler(plan, n_bootstraps)
    chunk = _chunk_size(n_bootstraps, plan.n_patients + width)
    done = 0
    while done < n_bootstraps:
        size = min(chunk, n_bootstraps - done)
        yield sampler.draw(size, rng)
        done += size


@dataclass(frozen=True)
class RankingColumn:
    """One one-vs-rest score column: its score bins and the patient of each bin member.

    ``pos_columns`` lists the patient of every positive sample, sorted by score bin, and
    ``pos_starts`` where each bin starts (``None`` when every bin has one sample); the
    resampled weight of a bin is then a gather and a segment sum of the patient weights.
    """

    layout: ColumnLayout
    pos_columns: np.ndarray
    pos_starts: np.ndarray | None
    neg_columns: np.ndarray
    neg_starts: np.ndarray | None

    @property
    def n_bins(self) -> int:
        return len(self.layout.pos_sizes) + len(self.layout.neg_sizes)


def ranking_column(score: np.ndarray, is_pos: np.ndarray, codes: np.ndarray) -> RankingColumn:
    """Score bins of one column and the patient of every sample in each bin.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.metrics._cluster import ranking_column
    >>> col = ranking_column(np.array([0.1, 0.9, 0.8, 0.8]), np.array([False, True, True, True]),
    ...                      np.array([0, 0, 1, 2]))
    >>> col.pos_columns.tolist(), col.pos_starts.tolist(), col.neg_columns.tolist()
    ([1, 2, 0], [0, 2], [0])
    """
    layout = column_layout(score, is_pos)
    pos_columns, pos_starts = bin_columns(codes[is_pos], layout.pos_bin)
    neg_columns, neg_starts = bin_columns(codes[~is_pos], layout.neg_bin)
    return RankingColumn(layout, pos_columns, pos_starts, neg_columns, neg_starts)


@dataclass(frozen=True)
class ClusterReplicates:
    """Per-replicate confusion matrices and ranking metrics of the cluster bootstrap."""

    confusions: np.ndarray  # (n_bootstraps, k, k)
    auc: np.ndarray  # (n_bootstraps, n_columns)
    ap: np.ndarray  # (n_bootstraps, n_columns)


def cluster_bootstrap(
    plan: PatientPlan,
    confusion_by_patient: np.ndarray,
    columns: list[RankingColumn | None],
    n_bootstraps: int,
    rng: np.random.Generator,
) -> ClusterReplicates:
    """Resample patients; score every replicate's confusion matrix and ranking columns.

    ``confusion_by_patient`` has shape ``(n_patients, k, k)``; ``columns`` holds one
    :class:`RankingColumn` per one-vs-rest score column (``None`` for a column whose
    class is absent, which stays NaN). The same patient multiplicities serve every
    metric of a replicate.
    """
    n_patients, k, _ = confusion_by_patient.shape
    flat = confusion_by_patient.reshape(n_patients, k * k)
    n_cols = len(columns)
    confusions = np.empty((n_bootstraps, k, k))
    auc = np.full((n_bootstraps, n_cols), np.nan)
    ap = np.full((n_bootstraps, n_cols), np.nan)
    width = sum(column.n_bins for column in columns if column is not None)
    done = 0
    for weights in replicate_chunks(plan, n_bootstraps, rng, width=width):
        rows = slice(done, done + len(weights))
        with threadpool_limits(limits=1, user_api="blas"):
            # a thin product (k * k columns): BLAS threads only contend, even when idle
            confusions[rows] = (weights.astype(np.float64) @ flat).reshape(-1, k, k)
        for j, column in enumerate(columns):
            if column is None or not len(column.layout.pos_sizes):
                continue
            pos = bin_sums(weights, column.pos_columns, column.pos_starts)
            cneg = bin_cumulative(weights, column.neg_columns, column.neg_starts)
            auc[rows, j], ap[rows, j] = metrics_from_cumulative(pos, cneg, column.layout)
        done += len(weights)
    return ClusterReplicates(confusions, auc, ap)
