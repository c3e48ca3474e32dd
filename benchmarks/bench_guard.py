"""Benchmark: the cost of ``LeakageGuard`` on a 100 000 x 50 data set.

For each model, fit on 100 000 rows and predict 100 000 other rows, bare and wrapped in
``LeakageGuard``, alternating runs; prints the medians of ``--repeats`` runs of each and
the guard's overhead in wall-clock time (what the user waits; the guard fingerprints on
a second thread while the model works) and in CPU time (what it costs a machine whose
cores are all busy, as in a cross-validation with one worker per core). The models run
on one thread (threadpoolctl), leaving the guard a core; LogisticRegression is timed
once more with its default BLAS threads, which leave it none. Also printed: the time to fingerprint the rows and the guard's whole CPU
cost (guarded minus bare ``DummyClassifier``, whose fit and predict take no time, so
nothing hides the guard's work). Run::

    .venv/bin/python benchmarks/bench_guard.py
    .venv/bin/python benchmarks/bench_guard.py --rows 20000 --repeats 3   # quick
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from pitfalls.pipeline import LeakageGuard
from pitfalls.pipeline._hashing import row_hashes


def fit_predict(model, X_train, y_train, X_test) -> tuple[float, float]:
    """Wall-clock and CPU seconds of one fit and one predict."""
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(X_train, y_train)
    model.predict(X_test)
    return time.perf_counter() - wall, time.process_time() - cpu


def compare(make, data, repeats) -> dict[str, float]:
    bare, guarded = [], []
    for _ in range(repeats):  # alternate so that machine load hits both alike
        bare.append(fit_predict(make(), *data))
        guarded.append(fit_predict(LeakageGuard(make()), *data))
    (bare_wall, bare_cpu), (guarded_wall, guarded_cpu) = (
        tuple(statistics.median(column) for column in zip(*runs, strict=True))
        for runs in (bare, guarded)
    )
    return {
        "bare": bare_wall,
        "guarded": guarded_wall,
        "wall": 100 * (guarded_wall - bare_wall) / bare_wall,
        "cpu": 100 * (guarded_cpu - bare_cpu) / bare_cpu,
    }


def report(name: str, result: dict[str, float]) -> None:
    print(
        f"{name:40s} bare {result['bare']:7.3f} s  guarded {result['guarded']:7.3f} s  "
        f"wall {result['wall']:+6.1f}%  CPU {result['cpu']:+6.1f}%"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2 * args.rows, args.features))
    y = (X[:, :5].sum(axis=1) + rng.normal(size=2 * args.rows) > 0).astype(int)
    data = (X[: args.rows], y[: args.rows], X[args.rows :])

    hash_runs = []
    for _ in range(9):
        start = time.perf_counter()
        row_hashes(data[0])
        hash_runs.append(time.perf_counter() - start)
    print(f"fingerprint {args.rows} x {args.features} float64 rows: {min(hash_runs) * 1e3:.1f} ms")
    dummy = compare(DummyClassifier, data, 9)
    print(
        "guard CPU cost (fingerprint the fit rows, check the predict rows): "
        f"{(dummy['guarded'] - dummy['bare']) * 1e3:.1f} ms"
    )

    models = {
        "LogisticRegression": lambda: LogisticRegression(max_iter=200),
        "HistGradientBoosting": lambda: HistGradientBoostingClassifier(random_state=0),
        "RandomForest(20 trees, depth 8)": lambda: RandomForestClassifier(
            n_estimators=20, max_depth=8, random_state=0
        ),
    }
    slow_repeats = max(1, args.repeats // 3)  # these take seconds: fewer runs suffice
    warnings.simplefilter("error")  # a warning here would mean the guard saw a leak
    with threadpool_limits(1):
        for name, make in models.items():
            repeats = args.repeats if name == "LogisticRegression" else slow_repeats
            report(f"{name} (1 thread)", compare(make, data, repeats))
    report(
        "LogisticRegression (default BLAS threads)",
        compare(models["LogisticRegression"], data, args.repeats),
    )


if __name__ == "__main__":
    main()
