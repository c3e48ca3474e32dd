"""Many binary L2 logistic regressions on one design at once (the default site probe).

A permutation test refits the same model on the same folds with permuted targets.
With the default probe (standardisation + ``LogisticRegression(C=1)``), the
standardisation depends on the training rows only, so it is computed once per fold,
and the permuted fits share the design matrix: Newton's method then solves all of
them together with batched matrix products, instead of one scikit-learn fit per
permutation and fold. The objective is scikit-learn's
(``0.5 * ||w||^2 + sum(log-loss)``, intercept not penalised), so the solutions agree
to solver tolerance; problems that do not converge are handed back as NaN for the
caller to refit with scikit-learn.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from scipy.stats import rankdata

# Newton builds a (features x features) Hessian per permutation: n * d^2 work per step,
# against n * d per quasi-Newton step. Beyond this many features scikit-learn's own fits
# (whose cost is mostly per-call overhead on small problems) win.
MAX_FEATURES = 64
# Elements of the (problems x samples x features) work array built at once.
_WORK_ELEMENTS = 4_000_000
_MAX_NEWTON_STEPS = 50
_STEP_TOL = 1e-9


def _standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = train.mean(axis=0)
    scale = train.std(axis=0)
    scale[scale == 0] = 1.0  # StandardScaler leaves constant features at zero
    with_bias = [np.c_[(part - mean) / scale, np.ones(len(part))] for part in (train, test)]
    return with_bias[0], with_bias[1]


def _upper_outer(design: np.ndarray) -> np.ndarray:
    """Each sample's outer product x x^T, upper triangle only, flattened."""
    upper_i, upper_j = np.triu_indices(design.shape[1])
    return design[:, upper_i] * design[:, upper_j]


def _hessians(design: np.ndarray, curvature: np.ndarray, outer: np.ndarray | None) -> np.ndarray:
    """``design.T @ diag(curvature[:, k]) @ design`` for every problem k.

    With ``outer`` (from :func:`_upper_outer`) all Hessians are one GEMM over the upper
    triangles, mirrored afterwards; without it, a stacked matmul per problem.
    """
    n_dims = design.shape[1]
    if outer is not None:
        upper_i, upper_j = np.triu_indices(n_dims)
        hessian = np.empty((curvature.shape[1], n_dims, n_dims))
        values = curvature.T @ outer
        hessian[:, upper_i, upper_j] = values
        hessian[:, upper_j, upper_i] = values
        return hessian
    # contiguous operands keep numpy's stacked matmul on BLAS
    weighted = np.ascontiguousarray(
        (curvature.T[:, :, None] * design[None, :, :]).transpose(0, 2, 1)
    )
    return np.matmul(weighted, design)


def _newton(design: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weights of shape (n_features + 1, n_problems) and a converged flag per problem."""
    n_dims = design.shape[1]
    penalty = np.ones(n_dims)
    penalty[-1] = 0.0  # the intercept is not penalised
    weights = np.zeros((n_dims, targets.shape[1]))
    converged = np.zeros(targets.shape[1], dtype=bool)
    n_samples = design.shape[0]
    outer = None
    if n_samples * n_dims * (n_dims + 1) // 2 <= _WORK_ELEMENTS:
        outer = _upper_outer(design)
    for _ in range(_MAX_NEWTON_STEPS):
        prob = expit(design @ weights)
        gradient = design.T @ (prob - targets) + penalty[:, None] * weights
        curvature = prob * (1.0 - prob)
        hessian = _hessians(design, curvature, outer)
        hessian[:, np.arange(n_dims), np.arange(n_dims)] += penalty
        step = np.linalg.solve(hessian, gradient.T[:, :, None])[:, :, 0].T
        weights -= step
        converged = np.max(np.abs(step), axis=0) < _STEP_TOL * (
            1.0 + np.max(np.abs(weights), axis=0)
        )
        if converged.all():
            break
    converged &= np.all(np.isfinite(weights), axis=0)
    return weights, converged


def _auc_columns(scores: np.ndarray, positive: np.ndarray) -> np.ndarray:
    """ROC AUC of every column (Mann-Whitney form, ties averaged like scikit-learn)."""
    ranks = rankdata(scores, axis=0)
    n_pos = positive.sum(axis=0)
    n_neg = positive.shape[0] - n_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = ((ranks * positive).sum(axis=0) - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    auc[(n_pos == 0) | (n_neg == 0)] = np.nan
    return auc


def batched_logistic_auc(
    data: np.ndarray,
    targets: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """Fold ROC AUC of standardised logistic regression for many binary targets.

    Parameters
    ----------
    data : ndarray of shape (n_samples, n_features)
    targets : ndarray of shape (n_problems, n_samples)
        0/1 targets (1 = the positive, larger, class).
    folds : list of (train, test) index arrays

    Returns
    -------
    auc : ndarray of shape (n_problems, n_folds)
        NaN where a fold's training or test part lacks a class.
    failed : ndarray of bool, shape (n_problems, n_folds)
        Problems whose Newton iterations did not converge (refit them another way).

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.batch_effects._fast_logistic import batched_logistic_auc
    >>> X = np.arange(8.0)[:, None]
    >>> targets = np.array([[0, 0, 0, 0, 1, 1, 1, 1]])
    >>> folds = [(np.array([0, 1, 4, 5]), np.array([2, 3, 6, 7]))]
    >>> batched_logistic_auc(X, targets, folds)[0]
    array([[1.]])
    """
    n_problems = targets.shape[0]
    auc = np.full((n_problems, len(folds)), np.nan)
    failed = np.zeros((n_problems, len(folds)), dtype=bool)
    for f, (train, test) in enumerate(folds):
        design_train, design_test = _standardise(data[train], data[test])
        chunk = max(1, _WORK_ELEMENTS // (design_train.shape[0] * design_train.shape[1]))
        for start in range(0, n_problems, chunk):
            rows = slice(start, min(start + chunk, n_problems))
            y_train = targets[rows, train].T.astype(float)
            fittable = (y_train.min(axis=0) == 0) & (y_train.max(axis=0) == 1)
            if not fittable.any():
                continue
            weights, converged = _newton(design_train, y_train[:, fittable])
            fold_auc = np.full(y_train.shape[1], np.nan)
            fold_auc[fittable] = _auc_columns(
                design_test @ weights, targets[rows, test].T[:, fittable] == 1
            )
            not_converged = np.zeros(y_train.shape[1], dtype=bool)
            not_converged[fittable] = ~converged
            fold_auc[not_converged] = np.nan
            auc[rows, f] = fold_auc
            failed[rows, f] = not_converged
    return auc, failed
