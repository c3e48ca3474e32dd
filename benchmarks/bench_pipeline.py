"""Benchmark: what ``pitfalls.pipeline.Pipeline`` costs over imbalanced-learn's Pipeline.

Both fit the same sampler + LogisticRegression on the same data in the same run
(alternating, medians of ``--repeats`` runs, one BLAS thread), ours twice:

* without metadata: nothing has to follow the rows, so no sampler's rows are traced
  (SMOTE's synthetic rows are not searched for their sources); the fit should cost what
  imbalanced-learn's does;
* with groups passed to the final step (per-sample metadata): every row a sampler
  returns is traced to its source row, so that its patient follows it.
  ``RandomOverSampler`` reports where its rows come from (free); for ``SMOTE`` the
  original rows are found by their fingerprints and each synthetic row's source by an
  exact nearest-row search among the rows of its class. With an integer
  ``random_state`` (as here) SMOTE's draws are replayed and each search starts from the
  row the synthetic row was grown from (less than SMOTE's own neighbour search);
  on SciPy sparse rows the search uses the rows' overlaps, without densifying them.

Printed: imbalanced-learn's time, ours in both cases, the ratios to imbalanced-learn's
time of the same run (wall-clock, then CPU time, which a loaded machine disturbs less),
and whether the three fitted models are identical (same coefficients). Run::

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


class GroupedLogisticRegression(LogisticRegression):
    """LogisticRegression that takes (and ignores) ``groups``, as a group-aware search would."""

    def fit(self, X, y, groups=None):
        return super().fit(X, y)


def fit_seconds(pipeline, X, y, **params) -> tuple[float, float, np.ndarray]:
    """Wall-clock and CPU seconds of one fit, and the fitted coefficients."""
    start, start_cpu = time.perf_counter(), time.process_time()
    pipeline.fit(X, y, **params)
    return time.perf_counter() - start, time.process_time() - start_cpu, pipeline[-1].coef_


def compare(name: str, sampler, X, y, repeats: int) -> None:
    groups = np.arange(y.shape[0]) // 2  # two rows per patient
    runs: dict[str, list[float]] = {"imblearn": [], "no metadata": [], "groups": []}
    cpu: dict[str, list[float]] = {key: [] for key in runs}
    coefs: dict[str, np.ndarray] = {}

    def run(key: str, pipeline, **params) -> None:
        seconds, cpu_seconds, coefs[key] = fit_seconds(pipeline, X, y, **params)
        runs[key].append(seconds)
        cpu[key].append(cpu_seconds)

    for _ in range(repeats):  # alternate so that machine load hits all three alike
        run("imblearn", imblearn_make_pipeline(sampler, LogisticRegression(max_iter=300)))
        run("no metadata", make_pipeline(sampler, LogisticRegression(max_iter=300)))
        run("groups", make_pipeline(sampler, GroupedLogisticRegression(max_iter=300)),
            groupedlogisticregression__groups=groups)  # fmt: skip
    reference, bare, grouped = (statistics.median(runs[key]) for key in runs)
    cpu_reference, cpu_bare, cpu_grouped = (statistics.median(cpu[key]) for key in cpu)
    same = all(np.array_equal(coefs[key], coefs["imblearn"]) for key in coefs)
    print(
        f"{name:<42} imblearn {reference:6.3f} s | no metadata {bare:6.3f} s "
        f"{bare / reference:5.2f}x | groups passed {grouped:6.3f} s {grouped / reference:5.2f}x"
        f" | CPU {cpu_bare / cpu_reference:5.2f}x / {cpu_grouped / cpu_reference:5.2f}x"
        f" | same model: {same}"
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
    print(
        f"fit of sampler + LogisticRegression, medians of {args.repeats}, 1 BLAS thread; "
        "ratios: ours / imbalanced-learn's in the same run"
    )
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
