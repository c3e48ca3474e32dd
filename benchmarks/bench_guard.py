"""Benchmark: the cost of ``LeakageGuard`` on a 100 000 x 50 data set.

For each model, fit on 100 000 rows and predict 100 000 other rows, bare and wrapped
in ``LeakageGuard`` (which fingerprints both), alternating runs and keeping the best
of ``--repeats``; prints the difference as a percentage of the bare time, the raw
fingerprinting time, and the guard's own cost (guarded minus bare ``DummyClassifier``,
best of 5) as a percentage of each model's bare time. Run::

    .venv/bin/python benchmarks/bench_guard.py
    .venv/bin/python benchmarks/bench_guard.py --rows 20000 --repeats 2   # quick
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from pitfalls.pipeline import LeakageGuard
from pitfalls.pipeline._hashing import row_hashes


def timed(func, *args) -> float:
    start = time.perf_counter()
    func(*args)
    return time.perf_counter() - start


def fit_predict(model, X_train, y_train, X_test):
    model.fit(X_train, y_train)
    model.predict(X_test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    X = rng.normal(size=(2 * args.rows, args.features))
    y = (X[:, :5].sum(axis=1) + rng.normal(size=2 * args.rows) > 0).astype(int)
    X_train, y_train, X_test = X[: args.rows], y[: args.rows], X[args.rows :]

    hash_time = min(timed(row_hashes, X_train) for _ in range(5))
    print(f"fingerprint {args.rows} x {args.features} float64 rows: {hash_time * 1e3:.1f} ms")
    # The guard's own cost, isolated with a model that does (almost) nothing: on a busy
    # machine this is a steadier figure than the difference of two long, noisy runs.
    dummy = [
        timed(fit_predict, LeakageGuard(DummyClassifier()), X_train, y_train, X_test)
        - timed(fit_predict, DummyClassifier(), X_train, y_train, X_test)
        for _ in range(5)
    ]
    guard_cost = min(dummy)
    print(f"guard cost (fingerprint fit rows + check predict rows): {guard_cost * 1e3:.1f} ms")

    models = {
        "LogisticRegression": lambda: LogisticRegression(max_iter=200),
        "HistGradientBoosting": lambda: HistGradientBoostingClassifier(random_state=0),
        "RandomForest(20 trees, depth 8)": lambda: RandomForestClassifier(
            n_estimators=20, max_depth=8, random_state=0
        ),
    }
    warnings.simplefilter("error")  # a warning here would mean the guard saw a leak
    # one thread everywhere: on a shared 2-core machine OpenMP/BLAS spinning makes
    # timings meaningless; the guard itself is single-threaded numpy
    with threadpool_limits(1):
        run_models(models, X_train, y_train, X_test, args.repeats, guard_cost)


def run_models(models, X_train, y_train, X_test, repeats, guard_cost):
    for name, make in models.items():
        bare, guarded = [], []
        for _ in range(repeats):  # alternate so that machine load hits both alike
            bare.append(timed(fit_predict, make(), X_train, y_train, X_test))
            guarded.append(timed(fit_predict, LeakageGuard(make()), X_train, y_train, X_test))
        b, g = min(bare), min(guarded)
        print(
            f"{name:34s} bare {b:7.3f} s  guarded {g:7.3f} s  difference {100 * (g - b) / b:+6.1f}%"
            f"  guard cost / bare {100 * guard_cost / b:5.1f}%"
        )


if __name__ == "__main__":
    main()
