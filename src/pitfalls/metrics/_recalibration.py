"""Logistic recalibration ``P(y) = expit(a + b x)``: Newton's method, and its bootstrap.

:func:`fit_recalibration` fits one weighted logistic regression per row of weights,
all rows at once (Newton-Raphson with step halving). A bootstrap needs one fit per
replicate on all samples; :class:`RecalibrationBootstrap` makes that cheap without
changing what is computed:

1. Every replicate's maximum-likelihood fit lies close to the full-data fit
   ``(a0, b0)``. Around it, the logistic function of each sample has a Taylor series in
   ``t = da + db (x - center)`` whose coefficients do not depend on the replicate, so
   the replicate's score equations become polynomials in ``(da, db)`` whose
   coefficients are the per-patient sums of ``c_k(a0 + b0 x) (x - center)^q`` weighted
   by the replicate's patient multiplicities: one matrix product for all replicates.
   Solving these puts each replicate's start within about 1e-12 of its fit.
2. From that start, exact Newton steps on all samples (cache-sized blocks) run until
   the step meets the convergence criterion of :func:`fit_recalibration`; usually the
   first one does. The log-likelihood is strictly concave, so that point is the same
   maximum-likelihood fit: the start only saves iterations.
3. A replicate that does not converge so within a few steps (separation, a start too
   far off) is fitted by :func:`fit_recalibration` from ``(a0, b0)``, as every
   replicate was before, so it ends as it did then (NaN where that did not converge).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import comb, expit

__all__ = ["RecalibrationBootstrap", "RecalibrationData", "fit_recalibration"]

_MAX_NEWTON = 50
_MAX_HALVINGS = 30  # of a Newton step that would lower the likelihood
_TOLERANCE = 1e-10
# Replicate x sample cells evaluated at once: the temporaries stay in the CPU cache.
_BLOCK_CELLS = 1 << 16
# Order of the Taylor series of the starts; its error shrinks as (|t| / pi) ** (order + 1).
# Order 8 puts a start within 1e-14 of the fit for 37k patients; smaller data sets (wider
# replicates) take order 10, which costs little there.
_TAYLOR_ORDER = 8
_SMALL_ORDER = 10
_SMALL_SAMPLES = 1 << 17
# Units x moment columns kept (64 MB): many units (a sample-level bootstrap of a large
# set) get a lower order; their starts are then a step or two further off.
_MOMENT_CELLS = 1 << 23
# The series of the logistic function converges for |t| < pi; beyond |t| = 1 a start is
# not worth the polynomial solve.
_TRUST_RADIUS = 1.0
_MAX_POLISH = 30  # Newton steps on the polynomial score equations
# Plain Newton steps from a Taylor start: one usually meets the tolerance, more follow a
# start a little further off; a row that needs more goes the full way.
_LOCAL_STEPS = 3
# Replicate x sample cells of the dense weights of :func:`fit_recalibration`.
_DENSE_CELLS = 1 << 21


@dataclass(frozen=True)
class RecalibrationData:
    """The samples of a recalibration fit and the unit (patient) that weights each.

    ``codes[i]`` is the unit of sample ``i`` (``None``: every sample its own unit).
    Weights come as one column per replicate and one row per unit: gathering the rows
    of a block of samples then copies contiguous memory.
    """

    x: np.ndarray
    y: np.ndarray
    codes: np.ndarray | None
    basis: np.ndarray  # (n_samples, 2): 1, x
    powers: np.ndarray  # (3, n_samples): 1, x, x**2
    unit_y: np.ndarray  # (n_units, 2): sum of y and of y x per unit

    @classmethod
    def build(cls, x: np.ndarray, y: np.ndarray, codes: np.ndarray | None = None) -> Any:
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        basis = np.column_stack([np.ones_like(x), x])
        powers = np.vstack([np.ones_like(x), x, x * x])
        unit_y = basis * y[:, None]
        if codes is not None:
            n_units = int(codes.max()) + 1 if len(codes) else 0
            unit_y = np.column_stack(
                [np.bincount(codes, weights=v, minlength=n_units) for v in unit_y.T]
            )
        return cls(x, y, codes, basis, powers, unit_y)

    @property
    def n_units(self) -> int:
        return len(self.unit_y)

    def blocks(self, weights_t: np.ndarray) -> Any:
        """Slices of samples and their weights (samples x replicates), cache-sized blocks."""
        n = len(self.x)
        size = max(64, _BLOCK_CELLS // max(1, weights_t.shape[1]))
        for start in range(0, n, size):
            cols = slice(start, min(n, start + size))
            if self.codes is None:
                yield cols, weights_t[cols]
            else:
                yield cols, np.take(weights_t, self.codes[cols], axis=0)


# --------------------------------------------------------------------------- Newton
def fit_recalibration(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray, start: tuple[float, float] = (0.0, 1.0)
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted logistic regression ``P(y) = expit(a + b x)``, one fit per row of ``weights``.

    Newton-Raphson with step halving (each step raises the likelihood), all rows at
    once; a row that does not converge (separation, a singular Hessian) gives NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.metrics._recalibration import fit_recalibration
    >>> x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0, 0.5])
    >>> y = np.array([0.0, 1.0, 0.0, 1.0, 1.0, 0.0])
    >>> a, b = fit_recalibration(x, y, np.ones((1, 6)))
    >>> round(float(a[0]), 4), round(float(b[0]), 4)
    (-0.0827, 0.8028)
    """
    rows = len(weights)
    a, b = np.full(rows, start[0]), np.full(rows, start[1])
    active = np.ones(rows, dtype=bool)
    converged = np.zeros(rows, dtype=bool)
    x2 = x * x
    with np.errstate(all="ignore"):  # a diverging (separated) row turns inf / nan: dropped
        _newton(a, b, active, converged, (x, x2, y, weights))
    a[~converged] = np.nan
    b[~converged] = np.nan
    return a, b


def _newton(
    a: np.ndarray, b: np.ndarray, active: np.ndarray, converged: np.ndarray, data: tuple
) -> None:
    x, x2, y, weights = data
    # The log-likelihood at each active row's (a, b): the last step's accepted value is the
    # next step's starting one, so it is computed once per step, not twice.
    before = None
    for _ in range(_MAX_NEWTON):
        w = weights[active]
        mu = expit(a[active, None] + b[active, None] * x)
        resid, curvature = w * (y - mu), w * (mu * (1.0 - mu))
        g0, g1 = resid.sum(axis=1), resid @ x
        h00, h01, h11 = curvature.sum(axis=1), curvature @ x, curvature @ x2
        det = h00 * h11 - h01 * h01
        step_a = (h11 * g0 - h01 * g1) / det
        step_b = (h00 * g1 - h01 * g0) / det
        # A full Newton step from far away can overshoot and diverge on data whose
        # maximum-likelihood fit exists: shorten it until the likelihood does not drop.
        if before is None:
            before = _log_likelihood(a[active], b[active], x, y, w)
        scale, after = _ascent_scale(a[active], b[active], step_a, step_b, (x, y, w), before)
        step_a, step_b = scale * step_a, scale * step_b
        a[active] += step_a
        b[active] += step_b
        index = np.flatnonzero(active)
        finished = np.abs(step_a) + np.abs(step_b) < _TOLERANCE * (1.0 + np.abs(b[index]))
        broken = ~np.isfinite(step_a + step_b)
        converged[index[finished & ~broken]] = True
        active[index[finished | broken]] = False
        before = None if after is None else after[~(finished | broken)]
        if not active.any():
            break


def _log_likelihood(
    a: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray, w: np.ndarray
) -> Any:
    z = a[:, None] + b[:, None] * x
    return (w * (y * z - np.logaddexp(0.0, z))).sum(axis=1)


def _ascent_scale(
    a: np.ndarray,
    b: np.ndarray,
    step_a: np.ndarray,
    step_b: np.ndarray,
    data: tuple,
    before: np.ndarray,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per row, the largest of 1, 1/2, 1/4... whose step does not lower the likelihood.

    Returns the scales and the log-likelihood after the scaled steps (None when some
    row still lowered it after every halving: its last scale was not evaluated).
    """
    x, y, w = data
    scale = np.ones_like(a)
    for _ in range(_MAX_HALVINGS):
        after = _log_likelihood(a + scale * step_a, b + scale * step_b, x, y, w)
        worse = after < before - 1e-12 * np.abs(before)
        if not worse.any():
            return scale, after
        scale[worse] *= 0.5
    return scale, None


def _local_newton(
    a: np.ndarray, b: np.ndarray, weights_t: np.ndarray, data: RecalibrationData
) -> np.ndarray:
    """Plain Newton steps from starts next to the fit; True where a row converged.

    ``weights_t`` has one column per replicate. At most :data:`_LOCAL_STEPS` full
    steps, no halving: from a start this close the iteration converges quadratically,
    and a row that converges by the criterion of :func:`fit_recalibration` is at the
    same maximum (the log-likelihood is strictly concave: its only stationary point).
    Rows that do not are left to :func:`fit_recalibration`.
    """
    converged = np.zeros(len(a), dtype=bool)
    index = np.arange(len(a))
    for _ in range(_LOCAL_STEPS):
        w = weights_t if index.size == len(a) else weights_t[:, index]
        g0, g1, h00, h01, h11 = _score_and_information(a[index], b[index], w, data)
        det = h00 * h11 - h01 * h01
        step_a = (h11 * g0 - h01 * g1) / det
        step_b = (h00 * g1 - h01 * g0) / det
        a[index] += step_a
        b[index] += step_b
        done = np.abs(step_a) + np.abs(step_b) < _TOLERANCE * (1.0 + np.abs(b[index]))
        converged[index[done]] = True
        index = index[~done & np.isfinite(step_a + step_b)]
        if not index.size:
            break
    return converged


def _score_and_information(
    a: np.ndarray, b: np.ndarray, weights_t: np.ndarray, data: RecalibrationData
) -> tuple[np.ndarray, ...]:
    """Gradient (2) and Hessian (3 distinct) of each replicate's weighted log-likelihood."""
    sums = np.zeros((5, len(a)))  # sum of w mu, w mu x, w v, w v x, w v x^2; v = mu (1 - mu)
    minus_coef = -np.vstack([a, b])
    for cols, w in data.blocks(weights_t):
        mu = data.basis[cols] @ minus_coef  # -(a + b x): samples x replicates
        np.exp(mu, out=mu)
        mu += 1.0
        np.reciprocal(mu, out=mu)  # expit(a + b x); overflow of exp gives 0, as it should
        v = 1.0 - mu
        v *= mu
        mu *= w
        v *= w
        sums[:2] += data.powers[:2, cols] @ mu
        sums[2:] += data.powers[:, cols] @ v
    # sum of w y and w y x from the per-unit sums: one small product, not a pass
    y_sums = data.unit_y.T @ weights_t
    return y_sums[0] - sums[0], y_sums[1] - sums[1], sums[2], sums[3], sums[4]


# --------------------------------------------------------------------------- bootstrap
def _taylor_coefficients(eta: np.ndarray, order: int) -> np.ndarray:
    """``c[:, k]``: the k-th Taylor coefficient of expit at ``eta`` (k = 0 .. order).

    From ``expit' = expit - expit**2``: ``(k + 1) c[k + 1] = c[k] - sum_j c[j] c[k - j]``.
    """
    c = np.empty((len(eta), order + 1))
    c[:, 0] = expit(eta)
    for k in range(order):
        square = np.einsum("ij,ij->i", c[:, : k + 1], c[:, k::-1])
        c[:, k + 1] = (c[:, k] - square) / (k + 1)
    return c


def _taylor_order(n_samples: int, n_units: int) -> int:
    """The series' order: higher for small data sets, lower where the moments would not fit.

    0 where not even order 1 fits: no Taylor starts.
    """
    order = _SMALL_ORDER if n_samples <= _SMALL_SAMPLES else _TAYLOR_ORDER
    while order > 0 and n_units * (len(_layout(order)[0]) + 2) > _MOMENT_CELLS:
        order -= 1
    return order


def _layout(order: int) -> tuple[np.ndarray, np.ndarray]:
    """(k, q) of the moment columns: q = 0 .. k + 1 for every order k."""
    k = np.concatenate([np.full(j + 2, j) for j in range(order + 1)])
    q = np.concatenate([np.arange(j + 2) for j in range(order + 1)])
    return k, q


@dataclass(frozen=True)
class _Polynomial:
    """Index tables of the score polynomials (see :meth:`RecalibrationBootstrap.starts`)."""

    value_k: np.ndarray  # (pairs,) k of each term c_k C(k, j) da^(k - j) db^j
    value_j: np.ndarray
    value_coef: np.ndarray
    value_cols: np.ndarray  # (2, pairs): moment column of (k, j + m), m = 0, 1
    slope_k: np.ndarray  # terms of the derivative: k C(k - 1, j) da^(k - 1 - j) db^j
    slope_j: np.ndarray
    slope_coef: np.ndarray
    slope_cols: np.ndarray  # (3, pairs): moment column of (k, j + s), s = 0, 1, 2

    @classmethod
    def build(cls, order: int) -> Any:
        k_of, q_of = _layout(order)
        column = {(int(k), int(q)): i for i, (k, q) in enumerate(zip(k_of, q_of, strict=True))}
        vk = np.array([k for k in range(order + 1) for _ in range(k + 1)])
        vj = np.array([j for k in range(order + 1) for j in range(k + 1)])
        sk = np.array([k for k in range(1, order + 1) for _ in range(k)])
        sj = np.array([j for k in range(1, order + 1) for j in range(k)])

        def columns(ks: np.ndarray, js: np.ndarray, shifts: tuple[int, ...]) -> np.ndarray:
            pairs = list(zip(ks.tolist(), js.tolist(), strict=True))
            return np.array([[column[k, j + m] for k, j in pairs] for m in shifts])

        return cls(
            vk, vj, comb(vk, vj), columns(vk, vj, (0, 1)),
            sk, sj, sk * comb(sk - 1, sj), columns(sk, sj, (0, 1, 2)),
        )  # fmt: skip


class RecalibrationBootstrap:
    """Recalibration fits of bootstrap replicates, given as rows of unit multiplicities.

    Parameters
    ----------
    data : RecalibrationData
        The samples; ``data.codes`` gives the unit (patient) of each.
    full_fit : tuple of float
        The fit of all samples ``(a0, b0)``, where every replicate's fit starts. NaN
        when it did not converge: no Taylor starts then, and the replicates start from
        ``(0, 1)`` (the identity recalibration, :func:`fit_recalibration`'s default).

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.metrics._recalibration import (
    ...     RecalibrationBootstrap, RecalibrationData, fit_recalibration)
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=300)
    >>> y = (rng.random(300) < 1 / (1 + np.exp(-x))).astype(float)
    >>> codes = np.arange(300) // 3  # 100 patients
    >>> a0, b0 = fit_recalibration(x, y, np.ones((1, 300)))
    >>> boot = RecalibrationBootstrap(RecalibrationData.build(x, y, codes), (a0[0], b0[0]))
    >>> w = rng.multinomial(100, np.full(100, 0.01), size=4)
    >>> a, b = boot.fit(w)
    >>> a_ref, b_ref = fit_recalibration(x, y, w[:, codes], start=(a0[0], b0[0]))
    >>> bool(np.allclose(b, b_ref, rtol=0, atol=1e-9))
    True
    """

    def __init__(self, data: RecalibrationData, full_fit: tuple[float, float]) -> None:
        self.data = data
        converged = bool(np.isfinite(full_fit).all())
        self.start = (float(full_fit[0]), float(full_fit[1])) if converged else (0.0, 1.0)
        order = _taylor_order(len(data.x), data.n_units)
        self.taylor = converged and len(data.x) > 0 and order > 0
        if self.taylor:
            x = data.x
            self.center = 0.5 * (float(x.min()) + float(x.max()))
            self.half_range = 0.5 * (float(x.max()) - float(x.min()))
            self.polynomial = _Polynomial.build(order)
            self.moments = self._moments(order)

    def _moments(self, order: int) -> np.ndarray:
        """Per unit: sum of c_k(a0 + b0 x) (x - center)^q, then of y and y (x - center)."""
        data, (a0, b0) = self.data, self.start
        coef = _taylor_coefficients(a0 + b0 * data.x, order)
        powers = np.ones((len(data.x), order + 2))
        for q in range(1, order + 2):
            powers[:, q] = powers[:, q - 1] * (data.x - self.center)
        pairs = [(coef[:, k], powers[:, q]) for k, q in zip(*_layout(order), strict=True)]
        pairs += [(data.y, powers[:, 0]), (data.y, powers[:, 1])]
        moments = np.empty((data.n_units, len(pairs)))
        for column, (left, right) in enumerate(pairs):
            if data.codes is None:
                moments[:, column] = left * right
            else:
                moments[:, column] = np.bincount(
                    data.codes, weights=left * right, minlength=data.n_units
                )
        return moments

    def fit(
        self, weights: np.ndarray, batches: list[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Intercepts and slopes, one per row of ``weights`` (NaN where no fit converged).

        ``batches``: the number of rows of each batch the rows were fitted in before the
        Taylor starts (default: as many rows as :data:`_DENSE_CELLS` allows). A row that
        does not converge from its start is refitted with the rest of its batch.
        """
        weights = np.asarray(weights, dtype=np.float64)
        a, b, trusted = self.starts(weights)
        converged = np.zeros(len(a), dtype=bool)
        index = np.flatnonzero(trusted)
        if index.size:
            with np.errstate(all="ignore"):
                a_local, b_local = a[index], b[index]
                weights_t = np.ascontiguousarray(weights[index].T)
                converged[index] = _local_newton(a_local, b_local, weights_t, self.data)
                a[index], b[index] = a_local, b_local
        if batches is None:
            size = max(1, _DENSE_CELLS // max(1, len(self.data.x)))
            batches = [min(size, len(a) - done) for done in range(0, len(a), size)]
        self._refit(weights, ~converged, batches, (a, b))
        return a, b

    def _refit(
        self, weights: np.ndarray, rows: np.ndarray, batches: list[int], fits: tuple
    ) -> None:
        """Fit ``rows`` as every replicate was fitted before: fit_recalibration from the
        full-data fit (step halving, up to 50 steps), in the same batches of rows.

        On separated data the steps end in rounding, which depends on the other rows
        of the batch: refitting the whole batch ends each row as it did then.
        """
        ends = np.cumsum(batches)
        for end, size in zip(ends.tolist(), batches, strict=True):
            batch = slice(end - size, end)
            if not rows[batch].any():
                continue
            dense = weights[batch]
            if self.data.codes is not None:
                dense = np.take(dense, self.data.codes, axis=1)
            a, b = fit_recalibration(self.data.x, self.data.y, dense, self.start)
            redo = rows[batch]
            fits[0][batch][redo], fits[1][batch][redo] = a[redo], b[redo]

    def starts(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each row's start: the root of its Taylor-expanded score equations near ``start``.

        ``(a0, b0)`` itself where the root is not trusted (outside the radius, or the
        polynomial Newton did not converge); the third array is True where trusted.
        """
        rows = len(weights)
        a = np.full(rows, self.start[0])
        b = np.full(rows, self.start[1])
        if not self.taylor or not rows:
            return a, b, np.zeros(rows, dtype=bool)
        sums = weights @ self.moments
        with np.errstate(all="ignore"):
            da, db = _polynomial_roots(sums, self.polynomial)
        radius = np.abs(da) + np.abs(db) * self.half_range  # the largest |da + db (x - center)|
        trusted = np.isfinite(radius) & (radius < _TRUST_RADIUS)
        # back from x - center to x: a + b x = (a0 + da - db center) + (b0 + db) x
        a[trusted] += da[trusted] - db[trusted] * self.center
        b[trusted] += db[trusted]
        return a, b, trusted


def _polynomial_roots(sums: np.ndarray, poly: _Polynomial) -> tuple[np.ndarray, np.ndarray]:
    """Newton's method on each row's polynomial score equations, from (0, 0).

    Score: ``Y_m - sum_{k, j} C(k, j) da^(k-j) db^j M[k, j + m]`` for m = 0, 1, where
    ``M[k, q]`` is the weighted sum of ``c_k (x - center)^q`` and ``Y_m`` of
    ``y (x - center)^m``; its Jacobian uses the derivative of the series.
    """
    rows = len(sums)
    target = sums[:, -2:]
    moments = sums[:, :-2]
    da, db = np.zeros(rows), np.zeros(rows)
    order = int(poly.value_k.max())
    exponents = np.arange(order + 1)
    value_terms = [moments[:, cols] * poly.value_coef for cols in poly.value_cols]
    slope_terms = [moments[:, cols] * poly.slope_coef for cols in poly.slope_cols]
    active = np.ones(rows, dtype=bool)
    for _ in range(_MAX_POLISH):
        pa = da[:, None] ** exponents
        pb = db[:, None] ** exponents
        value = pa[:, poly.value_k - poly.value_j] * pb[:, poly.value_j]
        slope = pa[:, poly.slope_k - 1 - poly.slope_j] * pb[:, poly.slope_j]
        g0, g1 = (target[:, m] - (value * value_terms[m]).sum(axis=1) for m in (0, 1))
        h00, h01, h11 = ((slope * terms).sum(axis=1) for terms in slope_terms)
        det = h00 * h11 - h01 * h01
        step_a = np.where(active, (h11 * g0 - h01 * g1) / det, 0.0)
        step_b = np.where(active, (h00 * g1 - h01 * g0) / det, 0.0)
        da += step_a
        db += step_b
        active &= ~(np.abs(step_a) + np.abs(step_b) < 1e-3 * _TOLERANCE * (1.0 + np.abs(db)))
        if not active.any():
            return da, db
    return np.where(active, np.nan, da), np.where(active, np.nan, db)
