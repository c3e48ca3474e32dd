"""The one algorithm behind every splitter here: put whole groups into weighted bins.

Every splitter of this module reduces to the same problem: given, for each group
(patient), how many of its samples fall in each stratum (class), assign every group
to one of ``k`` bins (folds, or train/val/test) so that each bin ``i`` receives the
fraction ``w_i`` of every stratum as closely as possible.

The cost minimised is the chi-square-like sum ``sum_{i,c} (P_ic - w_i)**2 / w_i``,
where ``P_ic`` is the fraction of stratum ``c`` held by bin ``i``. Adding a group
with stratum fractions ``q`` to bin ``i`` changes the cost by
``(2 * P_i . q + |q|**2) / w_i`` plus a constant, which is *linear* in the bin's
state. Two consequences make the greedy fast:

* groups are placed largest first (by ``|q|**2``, the group's weight in the cost;
  the longest-processing-time-first rule of scheduling), so the last, smallest
  groups fill the remaining gaps;
* groups with an identical count vector are interchangeable, and placing ``m`` of
  them one at a time is water-filling on the scalar score of each bin: done in one
  vectorised step, exactly as the one-at-a-time greedy would.

The Python loop therefore runs once per *distinct* count vector, not once per group.
A short local search then applies the best single move or pairwise swap of groups
between bins while it lowers the cost (this is what fixes the small data sets where
any greedy order leaves a visible imbalance).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

__all__ = ["assign_groups_to_bins", "encode", "group_stratum_counts"]

# With shuffle, groups whose weight |q|**2 is within this factor of each other are
# placed in random order: enough to vary the partition, not enough to spoil balance.
_SHUFFLE_BUCKET_RATIO = 1.5


def encode(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (in order of first appearance) and the distinct values.

    Hash-based (``pandas.factorize``), so it is linear time and accepts mixed types.

    Examples
    --------
    >>> from pitfalls.model_selection._assign import encode
    >>> codes, uniques = encode(["p2", "p1", "p2"])
    >>> codes.tolist(), uniques.tolist()
    ([0, 1, 0], ['p2', 'p1'])
    """
    codes, uniques = pd.factorize(np.asarray(values), sort=False)
    return codes.astype(np.intp, copy=False), np.asarray(uniques)


def group_stratum_counts(group_codes: np.ndarray, stratum_codes: np.ndarray) -> np.ndarray:
    """Matrix of shape (n_groups, n_strata) counting each group's samples per stratum.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.model_selection._assign import group_stratum_counts
    >>> group_stratum_counts(np.array([0, 0, 1]), np.array([0, 1, 1])).tolist()
    [[1, 1], [0, 1]]
    """
    n_groups = int(group_codes.max()) + 1
    n_strata = int(stratum_codes.max()) + 1
    flat = group_codes * n_strata + stratum_codes
    counts = np.bincount(flat, minlength=n_groups * n_strata)
    return counts.reshape(n_groups, n_strata)


def _best_bins(score: np.ndarray, tiebreak: np.ndarray, n_best: int) -> np.ndarray:
    """Indices of the ``n_best`` lowest scores, ties broken by ``tiebreak`` then index."""
    # Round away float noise so that equal scores reached by different sums tie.
    rounded = np.round(score, 12)
    return np.lexsort((tiebreak, rounded))[:n_best]


def _fill_level(score: np.ndarray, step: np.ndarray, n_items: float) -> float:
    """The level ``lam`` with ``sum_i max(0, (lam - score_i) / step_i) == n_items``."""
    order = np.argsort(score, kind="stable")
    s_sorted = score[order]
    inv_step = 1.0 / step[order]
    levels = (n_items + np.cumsum(s_sorted * inv_step)) / np.cumsum(inv_step)
    next_score = np.append(s_sorted[1:], np.inf)
    return float(levels[int(np.argmax(levels <= next_score))])


def _water_fill(
    score: np.ndarray, step: np.ndarray, n_items: int, tiebreak: np.ndarray
) -> np.ndarray:
    """How many of ``n_items`` identical groups the one-at-a-time greedy puts in each bin.

    Bin ``i`` costs ``score[i] + j * step[i]`` for its ``j``-th extra item; the greedy
    takes the ``n_items`` cheapest slots. With equal steps (k-fold), take the whole
    slots below the continuous fill level of ``n_items``: every other slot costs more,
    and the fewer than ``k`` items left go to the cheapest next slots at once. With
    unequal steps (train/val/test), take the slots below the level of
    ``n_items - k`` (all cheaper than any slot left), then place the at most ``k``
    items left one at a time.
    """
    n_bins = score.size
    counts = np.zeros(n_bins, dtype=np.int64)
    uniform = bool(np.all(step == step[0]))
    if uniform:
        lam = _fill_level(score, step, n_items)
        counts = np.floor(np.maximum(lam - score, 0.0) / step).astype(np.int64)
    elif n_items > n_bins:
        lam = _fill_level(score, step, n_items - n_bins)
        counts = np.ceil(np.maximum(lam - score, 0.0) / step).astype(np.int64)
    # Float noise can overshoot by one slot; give those back from the costliest bins.
    while counts.sum() > n_items:
        counts[np.argmax(np.where(counts > 0, score + (counts - 1) * step, -np.inf))] -= 1
    remaining = n_items - int(counts.sum())
    if uniform and remaining:
        counts[_best_bins(score + counts * step, tiebreak, remaining)] += 1
    else:
        for _ in range(remaining):
            counts[_best_bins(score + counts * step, tiebreak, 1)] += 1
    return counts


def _placement_order(
    self_weight: np.ndarray,
    vector_of_group: np.ndarray,
    multiplicity: np.ndarray,
    rng: np.random.RandomState | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order in which the distinct count vectors are placed, and their groups.

    Returns the vector order (heaviest first), the group indices sorted so that each
    vector's members are contiguous in that order, and the start of each run.
    """
    if rng is None:
        vector_order = np.argsort(-self_weight, kind="stable")
        member_key = np.arange(vector_of_group.size)
    else:
        bucket = np.floor(np.log(self_weight) / np.log(_SHUFFLE_BUCKET_RATIO))
        vector_order = np.lexsort((rng.random_sample(self_weight.size), -bucket))
        member_key = rng.permutation(vector_of_group.size)
    rank = np.empty_like(vector_order)
    rank[vector_order] = np.arange(vector_order.size)
    groups_sorted = np.lexsort((member_key, rank[vector_of_group]))
    starts = np.concatenate(([0], np.cumsum(multiplicity[vector_order])))
    return vector_order, groups_sorted, starts


def _fill_empty_bins(bin_of_group: np.ndarray, group_sizes: np.ndarray, n_bins: int) -> np.ndarray:
    """Move the smallest group of the most populated bin into each empty bin.

    The cost alone can leave a small bin empty (e.g. when each group holds its own
    class); an empty fold or split is never what the caller wants.
    """
    for empty in range(n_bins):
        n_per_bin = np.bincount(bin_of_group, minlength=n_bins)
        if n_per_bin[empty]:
            continue
        donor = int(np.argmax(n_per_bin))
        members = np.flatnonzero(bin_of_group == donor)
        bin_of_group[members[np.argmin(group_sizes[members])]] = empty
    return bin_of_group


def _refine(
    fractions: np.ndarray,
    vector_of_group: np.ndarray,
    bin_of_group: np.ndarray,
    weights: np.ndarray,
    max_steps: int = 100,
    max_candidates: int = 400,
) -> np.ndarray:
    """Local search after the greedy: best single move or pairwise swap, while it helps.

    Candidates are the occupied (count vector, bin) cells: moving or swapping two
    groups with the same vector between the same bins changes the cost identically,
    so one member per cell stands for all. Swaps are searched only when there are at
    most ``max_candidates`` cells (that search is quadratic in them).
    """
    n_vectors, n_bins = fractions.shape[0], weights.size
    held = np.zeros((n_bins, fractions.shape[1]))
    np.add.at(held, bin_of_group, fractions[vector_of_group])
    cell_size = np.bincount(vector_of_group * n_bins + bin_of_group, minlength=n_vectors * n_bins)
    cell_size = cell_size.reshape(n_vectors, n_bins)
    inv_w = 1.0 / weights
    for _ in range(max_steps):
        cost = float((((held - weights[:, None]) ** 2).sum(axis=1) * inv_w).sum())
        cand_vec, cand_bin = np.nonzero(cell_size)
        n_cand = cand_vec.size
        q = fractions[cand_vec]
        sq = (q**2).sum(axis=1)
        # excess[l, i]: bin i's weighted excess along candidate l's vector
        excess = q @ ((held - weights[:, None]) * inv_w[:, None]).T
        own = excess[np.arange(n_cand), cand_bin]
        move = 2.0 * (excess - own[:, None]) + sq[:, None] * (inv_w[cand_bin][:, None] + inv_w)
        move[np.arange(n_cand), cand_bin] = np.inf
        best = int(np.argmin(move))
        best_delta = move.flat[best]
        first, target = divmod(best, n_bins)
        second = -1
        if n_cand <= max_candidates:
            # Swapping l (in bin a) with m (in bin b) moves q_l - q_m from a to b.
            cross = excess[:, cand_bin]  # cross[l, m]: excess of m's bin along q_l
            swap = 2.0 * (cross + cross.T - own[:, None] - own[None, :])
            dist = sq[:, None] + sq[None, :] - 2.0 * (q @ q.T)
            swap += dist * (inv_w[cand_bin][:, None] + inv_w[cand_bin][None, :])
            swap[cand_bin[:, None] == cand_bin[None, :]] = np.inf
            best = int(np.argmin(swap))
            if swap.flat[best] < best_delta:
                best_delta = swap.flat[best]
                first, second = divmod(best, n_cand)
        # Stop when the best step gains under 0.01% of the cost: many such steps
        # would cost time (each is quadratic in the candidates) for nothing visible.
        if not best_delta < -1e-4 * cost:
            break
        moves = [(cand_vec[first], cand_bin[first], cand_bin[second] if second >= 0 else target)]
        if second >= 0:
            moves.append((cand_vec[second], cand_bin[second], cand_bin[first]))
        # Pick every member first: a swap must not move the same group back.
        members = [
            np.flatnonzero((vector_of_group == v) & (bin_of_group == src))[0] for v, src, _ in moves
        ]
        for g, (v, src, dst) in zip(members, moves, strict=True):
            bin_of_group[g] = dst
            held[src] -= fractions[v]
            held[dst] += fractions[v]
            cell_size[v, src] -= 1
            cell_size[v, dst] += 1
    return bin_of_group


def _distinct_rows(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct rows of a count matrix, the row index of each group, multiplicities.

    Rows are packed into one int64 key (mixed radix) when that cannot overflow:
    ``np.unique`` on a 1-D integer key is far faster than ``np.unique(axis=0)``.
    """
    radix = counts.max(axis=0).astype(np.float64) + 1
    # in log space: the product of hundreds of radices (a label powerset) overflows
    if np.log2(radix).sum() < 62:
        place = np.concatenate(([1.0], np.cumprod(radix[:-1]))).astype(np.int64)
        _, first, inverse, multiplicity = np.unique(
            counts.astype(np.int64) @ place,
            return_index=True,
            return_inverse=True,
            return_counts=True,
        )
        return counts[first], inverse.reshape(-1), multiplicity
    vectors, inverse, multiplicity = np.unique(
        counts, axis=0, return_inverse=True, return_counts=True
    )
    return vectors, inverse.reshape(-1), multiplicity


def assign_groups_to_bins(
    counts: np.ndarray,
    weights: np.ndarray,
    *,
    rng: np.random.RandomState | None = None,
) -> np.ndarray:
    """Assign each group to a bin so that every stratum is split by ``weights``.

    Parameters
    ----------
    counts : ndarray of shape (n_groups, n_strata)
        Samples of each group in each stratum; every stratum total must be positive.
    weights : ndarray of shape (n_bins,)
        Target fraction of every stratum per bin; positive, summing to 1.
    rng : RandomState, optional
        When given, interchangeable and near-equal groups are placed in random order,
        so that different seeds give different (equally balanced) partitions.

    Returns
    -------
    ndarray of shape (n_groups,)
        Bin index of each group. Every bin is non-empty when
        ``n_groups >= n_bins``.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.model_selection._assign import assign_groups_to_bins
    >>> counts = np.array([[2, 0], [2, 0], [0, 1], [0, 1]])  # two groups per class
    >>> assign_groups_to_bins(counts, np.array([0.5, 0.5])).tolist()
    [0, 1, 0, 1]
    """
    # The matrix products here are tiny; multithreaded BLAS only adds start-up and,
    # on a busy machine, waits of milliseconds per call (100x slower when measured).
    with threadpool_limits(limits=1, user_api="blas"):
        return _assign(counts, weights, rng)


def _assign(
    counts: np.ndarray, weights: np.ndarray, rng: np.random.RandomState | None
) -> np.ndarray:
    n_groups, n_strata = counts.shape
    n_bins = weights.size
    stratum_totals = counts.sum(axis=0).astype(float)
    vectors, vector_of_group, multiplicity = _distinct_rows(counts)
    fractions = vectors / stratum_totals  # q of each distinct vector
    self_weight = (fractions**2).sum(axis=1)  # |q|**2, the vector's weight in the cost
    vector_sizes = vectors.sum(axis=1)
    vector_order, groups_sorted, starts = _placement_order(
        self_weight, vector_of_group, multiplicity, rng
    )

    held = np.zeros((n_bins, n_strata))  # P: fraction of each stratum held by each bin
    load = np.zeros(n_bins)  # samples per bin, for ties: prefer the emptiest bin
    bin_of_group = np.empty(n_groups, dtype=np.intp)
    bins = np.arange(n_bins)
    for position, v in enumerate(vector_order):
        q = fractions[v]
        score = (2.0 * (held @ q) + self_weight[v]) / weights
        n_items = int(multiplicity[v])
        if n_items == 1:
            per_bin = np.zeros(n_bins, dtype=np.int64)
            per_bin[_best_bins(score, load / weights, 1)] = 1
        else:
            per_bin = _water_fill(score, 2.0 * self_weight[v] / weights, n_items, load / weights)
        held += per_bin[:, None] * q
        load += per_bin * vector_sizes[v]
        members = groups_sorted[starts[position] : starts[position + 1]]
        bin_of_group[members] = np.repeat(bins, per_bin)
    bin_of_group = _refine(fractions, vector_of_group, bin_of_group, weights)
    if n_groups >= n_bins:
        bin_of_group = _fill_empty_bins(bin_of_group, counts.sum(axis=1), n_bins)
    return bin_of_group
