"""Exact, vectorised stratified bootstrap of ROC AUC and average precision.

A stratified bootstrap replicate is a vector of multiplicities: class ``c`` (``m``
samples) is resampled ``m`` times with replacement, so its multiplicities are
Multinomial(``m``, uniform). AUC and average precision only depend on how many
resampled positives sit at each distinct positive score and how many negatives sit
between (or tie with) consecutive positive scores, so each class is first grouped
into score *bins* (:func:`column_layout`) and a replicate is a count per bin,
Multinomial(``m``, bin sizes / ``m``).

Drawing those counts (:func:`draw_class_counts`) costs about one table look-up per
bin, not one random index per sample: every bin gets an independent
Poisson(``lam * size``) count with ``lam = 1 - 3 / sqrt(m)`` (a 12-bit table
inversion per distinct size, refined with a float64 uniform in the rare table cells
that straddle two values). Given their total ``S``, independent Poisson counts are
Multinomial(``S``, sizes / ``m``); since ``S <= m`` almost surely, the remaining
``m - S`` samples are drawn as plain indices and added, which makes the replicate
exactly Multinomial(``m``). The rare replicate with ``S > m`` is redrawn with plain
indices instead, so the mixture is exact too. Exact here means: the same
distribution as resampling indices, up to the float64 rounding of the Poisson
probabilities (relative 1e-16, the precision of numpy's own samplers).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy.special import gammaln

# Cells (replicates x bins) processed at once: small enough to stay in cache (and for
# the temporaries not to be fresh pages from the OS every chunk).
_CHUNK_CELLS = 1 << 16
# Classes smaller than this are resampled by drawing indices (cheap anyway).
_MIN_POISSON_CLASS = 400
# lam = 1 - _SLACK_SD / sqrt(m): P(S > m) is about Phi(-_SLACK_SD).
_SLACK_SD = 3.0
# Poisson means up to this use a look-up table; larger ones numpy's poisson sampler.
_MAX_TABLE_MEAN = 40.0
# A table costs about as much to build as this many numpy Poisson draws.
_MIN_TABLE_USES = 20_000
_BITS = 12
_RAW64 = (np.random.PCG64, np.random.PCG64DXSM, np.random.SFC64, np.random.Philox)
_AMBIGUOUS = 255


@dataclass(frozen=True)
class ColumnLayout:
    """Score bins of one one-vs-rest score column, in ascending score order.

    ``pos_bin[i]`` / ``neg_bin[i]`` give the bin of the ``i``-th positive / negative
    sample (in the order of ``pos_members`` / ``neg_members``). Negative bins are the
    negatives tied with a positive score and the runs of negatives between two
    consecutive positive scores. ``below[p]`` is the number of negative bins
    entirely below positive bin ``p``; ``below_or_tied[p]`` adds its tie bin.
    """

    pos_sizes: np.ndarray
    neg_sizes: np.ndarray
    pos_bin: np.ndarray
    neg_bin: np.ndarray
    below: np.ndarray
    below_or_tied: np.ndarray
    has_ties: bool


def column_layout(score: np.ndarray, is_pos: np.ndarray) -> ColumnLayout:
    """Group the samples of one score column into the bins AUC and AP depend on.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.metrics._rankboot import column_layout
    >>> lay = column_layout(np.array([0.1, 0.2, 0.3, 0.3, 0.9]), np.array([0, 0, 1, 0, 1]) == 1)
    >>> lay.pos_sizes.tolist(), lay.neg_sizes.tolist(), lay.below.tolist(), lay.below_or_tied.tolist()
    ([1, 1], [2, 1], [1, 2], [2, 2])
    """
    levels, codes = np.unique(score, return_inverse=True)
    codes = codes.ravel()
    n_levels = len(levels)
    pos_codes, neg_codes = codes[is_pos], codes[~is_pos]
    has_pos = np.bincount(pos_codes, minlength=n_levels) > 0
    # positive bin of each positive level; positive levels strictly below each level
    pos_level_bin = np.cumsum(has_pos) - 1
    n_pos_below = pos_level_bin + 1 - has_pos  # positive levels strictly below
    # negative key: tie with positive level p -> 2p + 1; gap below positive level p -> 2p
    neg_key = np.where(has_pos, 2 * pos_level_bin + 1, 2 * n_pos_below)[neg_codes]
    keys, neg_bin = np.unique(neg_key, return_inverse=True)
    n_pos_bins = int(has_pos.sum())
    p = np.arange(n_pos_bins)
    below = np.searchsorted(keys, 2 * p + 1, side="left")
    below_or_tied = np.searchsorted(keys, 2 * p + 1, side="right")
    return ColumnLayout(
        pos_sizes=np.bincount(pos_level_bin[pos_codes], minlength=n_pos_bins),
        neg_sizes=np.bincount(neg_bin.ravel(), minlength=len(keys)),
        pos_bin=pos_level_bin[pos_codes].astype(np.intp),
        neg_bin=neg_bin.ravel().astype(np.intp),
        below=below.astype(np.intp),
        below_or_tied=below_or_tied.astype(np.intp),
        has_ties=bool(np.any(below != below_or_tied)),
    )


def metrics_from_counts(
    pos: np.ndarray, neg: np.ndarray, layout: ColumnLayout
) -> tuple[np.ndarray, np.ndarray]:
    """ROC AUC and average precision of weighted samples, one row per replicate.

    ``pos`` (``(..., n_pos_bins)``) and ``neg`` (``(..., n_neg_bins)``) hold the total
    weight of each bin of ``layout`` (integer multiplicities in the bootstrap). Equals
    scikit-learn's ``roc_auc_score`` / ``average_precision_score`` with
    ``sample_weight``.
    """
    pos = np.atleast_2d(pos)
    neg = np.atleast_2d(neg)
    exact = pos.dtype.kind in "iu" and neg.dtype.kind in "iu"
    # integer counts: int32 cumulative sums are exact (fewer than 2**31 samples)
    work: type = np.int32 if exact else np.float64
    cneg = np.zeros((neg.shape[0], neg.shape[1] + 1), dtype=work)
    np.cumsum(neg, axis=1, dtype=work, out=cneg[:, 1:])
    return metrics_from_cumulative(pos, cneg, layout)


def metrics_from_cumulative(
    pos: np.ndarray, cneg: np.ndarray, layout: ColumnLayout
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`metrics_from_counts` given the running total of the negative bins.

    ``cneg[..., b]`` is the weight of the negatives in bins ``0 .. b - 1`` (so
    ``cneg[..., 0] == 0`` and ``cneg[..., -1]`` is the total): callers that obtain the
    running total directly skip one pass.
    """
    pos = np.atleast_2d(pos)
    cneg = np.atleast_2d(cneg)
    exact = pos.dtype.kind in "iu" and cneg.dtype.kind in "iu"
    work: type = np.int32 if exact else np.float64
    n_neg = cneg[:, -1:]
    below = np.take(cneg, layout.below, axis=1)
    # 2 * AUC * P * N = sum_p pos_p * (2 * negatives below + negatives tied)
    if layout.has_ties:
        below_twice, factor = below + np.take(cneg, layout.below_or_tied, axis=1), 1.0
    else:
        below_twice, factor = below, 2.0
    cpos: np.ndarray = np.cumsum(pos, axis=1, dtype=work)
    n_pos = cpos[:, -1:] if pos.shape[1] else np.zeros((pos.shape[0], 1), dtype=work)
    # positives / all samples scored at or above each positive level
    tp = pos - cpos
    tp += n_pos
    ge = n_neg - below
    ge += tp
    if pos.shape[1] and np.any(ge[:, -1] <= 0):  # nothing drawn that high: tp = pos = 0
        np.maximum(ge, 1 if exact else np.finfo(float).tiny, out=ge)
    with np.errstate(divide="ignore", invalid="ignore"):
        if exact and 2 * int(n_pos.max(initial=0)) * int(n_neg.max(initial=0)) < 2**31:
            auc2 = np.einsum("ij,ij->i", pos, below_twice)  # exact in int32, and faster
        else:
            auc2 = np.einsum("ij,ij->i", pos, below_twice, dtype=np.float64)
        auc = factor * auc2 / (2.0 * n_pos[:, 0] * n_neg[:, 0])
        ap = np.einsum("ij,ij->i", pos, tp / ge) / n_pos[:, 0]
    return auc, ap


# --------------------------------------------------------------------------- drawing
def _poisson_cdf(mean: float) -> np.ndarray:
    if mean <= 0.0:
        return np.ones(1)
    k = np.arange(int(mean + 15.0 * np.sqrt(mean) + 25.0))
    cdf = np.cumsum(np.exp(k * np.log(mean) - mean - gammaln(k + 1.0)))
    cdf[-1] = 1.0  # the tail beyond is under 1e-20
    return np.minimum(cdf, 1.0)


def _poisson_table(cdf: np.ndarray) -> np.ndarray:
    """Value of the Poisson inverse CDF for each ``_BITS``-bit prefix of the uniform, or 255."""
    edges = np.arange(2**_BITS + 1, dtype=np.float64) / 2**_BITS
    low = np.searchsorted(cdf, edges[:-1], side="right")  # value at the cell's left edge
    high = np.searchsorted(cdf, edges[1:], side="left")  # largest value inside the cell
    return np.where(low == high, low, _AMBIGUOUS).astype(np.uint8)


@dataclass(frozen=True)
class _ClassSampler:
    m: int
    sizes: np.ndarray
    member_bin: np.ndarray
    poisson: bool
    means: np.ndarray | None = None
    offsets: np.ndarray | None = None  # per bin: (table index + 1) * 2**_BITS (intp)
    tables: np.ndarray | None = None  # concatenated uint8 tables
    cdfs: tuple[np.ndarray, ...] = ()
    table_of_bin: np.ndarray | None = None  # -1: numpy poisson
    big_bins: np.ndarray | None = None
    single_table: bool = False  # every bin uses table 1


def class_sampler(sizes: np.ndarray, n_draws: int) -> _ClassSampler:
    """Prepare drawing Multinomial(sum(sizes), sizes / sum(sizes)) count vectors."""
    sizes = np.asarray(sizes, dtype=np.int64)
    m = int(sizes.sum())
    member_bin = np.repeat(np.arange(len(sizes), dtype=np.intp), sizes)
    if m < _MIN_POISSON_CLASS or len(sizes) == 0:
        return _ClassSampler(m, sizes, member_bin, poisson=False)
    lam = 1.0 - _SLACK_SD / np.sqrt(m)
    means = lam * sizes
    distinct, inverse, uses = np.unique(sizes, return_inverse=True, return_counts=True)
    table_of_size = np.full(len(distinct), -1)
    cdfs: list[np.ndarray] = []
    tables = [np.zeros(2**_BITS, dtype=np.uint8)]  # table 0: bins drawn by numpy (value 0)
    for i, (size, count) in enumerate(zip(distinct.tolist(), uses.tolist(), strict=True)):
        if lam * size <= _MAX_TABLE_MEAN and count * n_draws >= _MIN_TABLE_USES:
            table_of_size[i] = len(cdfs)
            cdfs.append(_poisson_cdf(lam * size))
            tables.append(_poisson_table(cdfs[-1]))
    table_of_bin = table_of_size[inverse.ravel()]
    return _ClassSampler(
        m,
        sizes,
        member_bin,
        poisson=True,
        means=means,
        offsets=((table_of_bin + 1) * 2**_BITS).astype(np.intp),
        tables=np.concatenate(tables),
        cdfs=tuple(cdfs),
        table_of_bin=table_of_bin,
        big_bins=np.flatnonzero(table_of_bin < 0),
        single_table=bool(np.all(table_of_bin == 0)),
    )


def _uniform_bits(rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` independent uniform ``_BITS``-bit integers (uint16).

    Bit generators whose raw output is 64 uniform bits are read directly (four values
    per output, about 4x faster than ``integers``); others (MT19937 gives 32 bits per
    raw output) go through ``Generator.integers``.
    """
    if isinstance(rng.bit_generator, _RAW64):
        raw = rng.bit_generator.random_raw(-(-size // 4)).view(np.uint16)[:size]
        return np.right_shift(raw, 16 - _BITS)
    return rng.integers(0, 2**_BITS, size=size, dtype=np.uint16)


def _index_counts(s: _ClassSampler, n_rep: int, rng: np.random.Generator) -> np.ndarray:
    """Plain stratified resampling: draw ``m`` indices per replicate and count per bin."""
    n_bins = len(s.sizes)
    draws = rng.integers(0, s.m, size=(n_rep, s.m))
    flat = s.member_bin[draws] + (np.arange(n_rep, dtype=np.intp) * n_bins)[:, None]
    counts = np.bincount(flat.ravel(), minlength=n_rep * n_bins)
    return counts.reshape(n_rep, n_bins).astype(np.int32)


def draw_class_counts(s: _ClassSampler, n_rep: int, rng: np.random.Generator) -> np.ndarray:
    """``n_rep`` independent count vectors, each exactly Multinomial(m, sizes / m)."""
    if not s.poisson:
        return _index_counts(s, n_rep, rng)
    assert s.offsets is not None and s.tables is not None and s.table_of_bin is not None
    assert s.means is not None and s.big_bins is not None
    n_bins = len(s.sizes)
    u = _uniform_bits(rng, n_rep * n_bins).reshape(n_rep, n_bins)
    if s.single_table:
        x = np.take(s.tables[2**_BITS :], u)
    else:
        x = np.take(s.tables, u + s.offsets)
    ambiguous = np.flatnonzero(x == _AMBIGUOUS)
    if ambiguous.size:
        # finish the inversion with the remaining bits of a float64 uniform
        uniform = (u.ravel()[ambiguous] + rng.random(ambiguous.size)) / 2**_BITS
        which = s.table_of_bin[ambiguous % n_bins]
        values = np.empty(ambiguous.size, dtype=np.uint8)
        for t in np.unique(which).tolist():
            sel = which == t
            values[sel] = np.searchsorted(s.cdfs[t], uniform[sel], side="right")
        x.ravel()[ambiguous] = values
    counts = x.astype(np.int32)
    if s.big_bins.size:
        counts[:, s.big_bins] = rng.poisson(s.means[s.big_bins], size=(n_rep, s.big_bins.size))
    missing = s.m - counts.sum(axis=1, dtype=np.int64)
    over = np.flatnonzero(missing < 0)
    if over.size:  # S > m: redraw these replicates by plain resampling (exact mixture)
        counts[over] = _index_counts(s, over.size, rng)
        missing[over] = 0
    if missing.any():
        rows = np.repeat(np.arange(n_rep, dtype=np.intp) * n_bins, missing)
        extra = s.member_bin[rng.integers(0, s.m, size=rows.size)]
        counts.reshape(-1)[...] += np.bincount(rows + extra, minlength=counts.size)
    return counts


def _chunks(total: int, size: int) -> Iterator[int]:
    done = 0
    while done < total:
        yield min(size, total - done)
        done += size


def bootstrap_ranking(
    scores: np.ndarray,
    y_idx: np.ndarray,
    positive_columns: list[int],
    n_bootstraps: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """AUC and AP per replicate (rows) and one-vs-rest score column, stratified by class.

    With one score column each class is drawn directly as counts per score bin. With
    several columns a replicate must be the same resample for every column, so each
    class is drawn as counts per sample and binned per column.
    """
    classes = np.unique(y_idx).tolist()
    n_cols = len(positive_columns)
    aucs = np.full((n_bootstraps, n_cols), np.nan)
    aps = np.full((n_bootstraps, n_cols), np.nan)
    if n_cols == 1:
        pos_class = positive_columns[0]
        is_pos = y_idx == pos_class
        layout = column_layout(scores[:, 0], is_pos)
        if not len(layout.pos_sizes):
            return aucs, aps
        pos_s = class_sampler(layout.pos_sizes, n_bootstraps)
        # negatives of several classes: one sampler per class over the same bins
        neg_s = []
        neg_members = np.flatnonzero(~is_pos)
        neg_class = y_idx[neg_members]
        for c in classes:
            if c == pos_class:
                continue
            sizes = np.bincount(layout.neg_bin[neg_class == c], minlength=len(layout.neg_sizes))
            neg_s.append(class_sampler(sizes, n_bootstraps))
        chunk = max(1, _CHUNK_CELLS // max(1, len(layout.pos_sizes) + len(layout.neg_sizes)))
        done = 0
        for size in _chunks(n_bootstraps, chunk):
            pos = draw_class_counts(pos_s, size, rng)
            neg = np.zeros((size, len(layout.neg_sizes)), dtype=np.int32)
            for s in neg_s:
                neg += draw_class_counts(s, size, rng)
            auc, ap = metrics_from_counts(pos, neg, layout)
            aucs[done : done + size, 0] = auc
            aps[done : done + size, 0] = ap
            done += size
        return aucs, aps

    # several columns: counts per sample (class by class), binned per column
    members = {c: np.flatnonzero(y_idx == c) for c in classes}
    order = np.concatenate([members[c] for c in classes])
    position = np.empty(len(y_idx), dtype=np.intp)
    position[order] = np.arange(len(order))
    samplers = [
        class_sampler(np.ones(len(members[c]), dtype=np.int64), n_bootstraps) for c in classes
    ]
    columns = []
    for j, pos_class in enumerate(positive_columns):
        is_pos = y_idx == pos_class
        if not is_pos.any():
            continue
        layout = column_layout(scores[:, j], is_pos)
        pos_idx = position[np.flatnonzero(is_pos)]
        neg_idx = position[np.flatnonzero(~is_pos)]
        columns.append(
            (j, layout, bin_columns(pos_idx, layout.pos_bin), bin_columns(neg_idx, layout.neg_bin))
        )
    chunk = max(1, _CHUNK_CELLS // max(1, len(y_idx)))
    done = 0
    for size in _chunks(n_bootstraps, chunk):
        weights = np.concatenate([draw_class_counts(s, size, rng) for s in samplers], axis=1)
        for j, layout, (pos_cols, pos_starts), (neg_cols, neg_starts) in columns:
            pos = bin_sums(weights, pos_cols, pos_starts)
            neg = bin_sums(weights, neg_cols, neg_starts)
            aucs[done : done + size, j], aps[done : done + size, j] = metrics_from_counts(
                pos, neg, layout
            )
        done += size
    return aucs, aps


def bin_columns(columns: np.ndarray, bins: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Columns sorted by bin, and where each bin starts (every bin is non-empty).

    ``columns[i]`` is the column of the weight matrix that holds member ``i``'s weight
    (its sample, or its patient in the cluster bootstrap); ``bins[i]`` its bin.

    ``None`` instead of the starts when every bin holds one column (distinct scores).
    """
    order = np.argsort(bins, kind="stable")
    starts = np.searchsorted(bins[order], np.arange(int(bins.max()) + 1))
    return columns[order], None if len(starts) == len(columns) else starts


def bin_cumulative(
    weights: np.ndarray, columns: np.ndarray, starts: np.ndarray | None
) -> np.ndarray:
    """Running total of the bin weights with a leading 0 (``cneg`` of :func:`metrics_from_cumulative`)."""
    running = np.zeros((weights.shape[0], len(columns) + 1), dtype=weights.dtype)
    np.cumsum(np.take(weights, columns, axis=1), axis=1, dtype=weights.dtype, out=running[:, 1:])
    return (
        running if starts is None else np.take(running, np.r_[0, starts[1:], len(columns)], axis=1)
    )


def bin_sums(weights: np.ndarray, columns: np.ndarray, starts: np.ndarray | None) -> np.ndarray:
    """Total weight of every bin, one row per replicate (rows of ``weights``)."""
    gathered = np.take(weights, columns, axis=1)
    if starts is None:
        return gathered
    # segment sums as differences of a running sum: one pass, several times faster than
    # np.add.reduceat along the last axis (exact: int32 totals stay below 2**31)
    running = np.cumsum(gathered, axis=1, dtype=gathered.dtype)
    totals = np.take(running, np.r_[starts[1:], gathered.shape[1]] - 1, axis=1)
    totals[:, 1:] -= totals[:, :-1].copy()
    return totals
