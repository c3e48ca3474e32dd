"""Benchmark: what ``pitfalls.pipeline.Pipeline`` costs over imbalanced-learn's Pipeline.

Both fit the same sampler + LogisticRegression on the same data in the same run
(alternating, medians of ``--repeats`` runs); the difference is the bookkeeping that
lets groups and per-sample metadata follow resampling (``sample_indices_``):

* ``RandomOverSampler`` says where each row came from (``sample_indices_``): nothing to
  compute.
* ``SMOTE`` does not: the original rows are found by their fingerprints, and each
  synthetic row's source by a nearest-row search among its class, which costs about
  SMOTE's own neighbour search times the imbalance ratio (one search per synthetic row).
* SMOTE on a SciPy sparse matrix: the same, without densifying the rows.

The fitted models are checked to be identical (same coefficients). Run::

    .venv/bin/python benchmarks/bench_pipeline.py
    .venv/bin/python benchmarks/bench_pipeline.py --rows 20000 --repeats 1   # quick
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import make_pipeline as imblearn_make_pipeline
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from pitfalls.pipeline import make_pipeline


def fit_seconds(make_pipeline_, sampler, X, y) -> tuple[float, np.ndarray]:
    pipe = make_pipeline_(sampler, LogisticRegression(max_iter=300))
    start = time.perf_counter()
    pipe.fit(X, y)
    return time.perf_counter() - start, pipe[-1].coef_


def compare(name: str, sampler, X, y, repeats: int) -> None:
    ours, theirs = [], []
    for _ in range(repeats):  # alternate so that machine load hits both alike
        seconds, reference = fit_seconds(imblearn_make_pipeline, sampler, X, y)
        theirs.append(seconds)
        seconds, coef = fit_seconds(make_pipeline, sampler, X, y)
        ours.append(seconds)
    same = np.array_equal(coef, reference)
    mine, ref = statistics.median(ours), statistics.median(theirs)
    print(
        f"{name:<44} imblearn {ref:7.3f} s  pitfalls {mine:7.3f} s  "
        f"ratio {mine / ref:5.2f}x  same model: {same}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.rows, args.features))
    y = (rng.random(args.rows) < 0.1).astype(int)  # 1 in 10 positive
    X_sparse = sparse.random(
        args.rows // 5, 20_000, density=0.001, format="csr", random_state=0, dtype=float
    )
    y_sparse = y[: args.rows // 5]
    cohort = rng.normal(size=(137, 100))  # the paper's head-and-neck cohort's shape
    y_cohort = np.r_[np.ones(8, int), np.zeros(129, int)]
    print(f"fit of sampler + LogisticRegression, medians of {args.repeats}, 1 BLAS thread")
    with threadpool_limits(1):
        compare(f"RandomOverSampler, {args.rows} x {args.features}",
                RandomOverSampler(random_state=0), X, y, args.repeats)  # fmt: skip
        compare(f"SMOTE, {args.rows} x {args.features}",
                SMOTE(random_state=0), X, y, args.repeats)  # fmt: skip
        compare(f"SMOTE, sparse {X_sparse.shape[0]} x {X_sparse.shape[1]}",
                SMOTE(random_state=0), X_sparse, y_sparse, args.repeats)  # fmt: skip
        compare("SMOTE(k_neighbors=3), 137 x 100 (8 events)",
                SMOTE(k_neighbors=3, random_state=0), cohort, y_cohort, 5 * args.repeats)  # fmt: skip


if __name__ == "__main__":
    main()
