"""Benchmark: the CPU cost of ``LeakageGuard`` on a 100 000 x 50 data set.

For each model, fit on 100 000 rows and predict 100 000 other rows, bare and wrapped in
``LeakageGuard``, alternating runs in the same process, every model on one thread
(threadpoolctl: one BLAS / OpenMP thread). Printed for each model: the medians of the
bare and guarded CPU times (``time.process_time``), the guard's CPU cost in percent of
the bare model's (guarded minus bare), and the guard's own work timed alone
(fingerprinting the fit rows, then checking the predict rows: the fastest of 9 runs) in
percent of the same bare median, which is free of the run-to-run noise of the
difference. The targets (issue 12): at most 5% for LogisticRegression, under 1% for the
random forest and gradient boosting. The guard starts no thread: it does its work in
the caller's thread, before the model's. Run::

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
from pitfalls.pipeline._guard import _fingerprint_training_rows
from pitfalls.pipeline._hashing import row_hashes


def fit_predict_cpu(model, X_train, y_train, X_test) -> float:
    """CPU seconds of one fit and one predict."""
    start = time.process_time()
    model.fit(X_train, y_train)
    model.predict(X_test)
    return time.process_time() - start


def guard_work_cpu(X_train, y_train, X_test) -> float:
    """CPU seconds of the guard's own work alone: the fastest of 9 runs."""
    guard = LeakageGuard(DummyClassifier()).fit(X_train, y_train)
    runs = []
    for _ in range(9):
        start = time.process_time()
        _fingerprint_training_rows(X_train)
        guard.find_leaks(X_test)
        runs.append(time.process_time() - start)
    return min(runs)


def fastest_cpu(function, *args) -> float:
    """CPU seconds of ``function(*args)``: the fastest of 9 runs."""
    runs = []
    for _ in range(9):
        start = time.process_time()
        function(*args)
        runs.append(time.process_time() - start)
    return min(runs)


def compare(make, data, repeats) -> tuple[float, float]:
    """Median CPU seconds of the bare and the guarded model, alternating runs."""
    bare, guarded = [], []
    for _ in range(repeats):  # alternate so that machine load hits both alike
        bare.append(fit_predict_cpu(make(), *data))
        guarded.append(fit_predict_cpu(LeakageGuard(make()), *data))
    return statistics.median(bare), statistics.median(guarded)


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

    work = guard_work_cpu(*data)
    print(
        f"fingerprint {args.rows} x {args.features} float64 rows: "
        f"{fastest_cpu(row_hashes, data[0]) * 1e3:.1f} ms"
    )
    # What no fingerprint of every fit row can go under on this machine: reading the rows
    # once, and one 64-bit multiply-add per 8 bytes (a keyed sum of the words, itself
    # blind to rows that differ only in the high halves of their words, such as signs)
    words, keys = data[0].view(np.uint64), np.arange(1, 2 * args.features, 2, dtype=np.uint64)
    print(
        f"  floors: reading the fit rows once {fastest_cpu(np.sum, data[0]) * 1e3:.1f} ms, "
        f"one multiply-add per word {fastest_cpu(np.einsum, 'ij,j->i', words, keys) * 1e3:.1f} ms"
    )
    print(
        f"guard's own work (fingerprint the fit rows, check the predict rows): {work * 1e3:.1f} ms"
    )

    models = {
        "LogisticRegression": (lambda: LogisticRegression(max_iter=200), 5.0),
        "HistGradientBoosting": (lambda: HistGradientBoostingClassifier(random_state=0), 1.0),
        "RandomForest(20 trees, depth 8)": (
            lambda: RandomForestClassifier(n_estimators=20, max_depth=8, random_state=0),
            1.0,
        ),
    }
    slow_repeats = max(1, args.repeats // 3)  # these take seconds: fewer runs suffice
    print(
        f"CPU time of fit + predict, one thread; medians of {args.repeats} (LR) or {slow_repeats}"
    )
    warnings.simplefilter("error")  # a warning here would mean the guard saw a leak
    with threadpool_limits(1):
        for name, (make, target) in models.items():
            repeats = args.repeats if name == "LogisticRegression" else slow_repeats
            bare, guarded = compare(make, data, repeats)
            print(
                f"{name + ' (1 thread)':42s} bare {bare:7.3f} s  guarded {guarded:7.3f} s  "
                f"CPU cost {100 * (guarded - bare) / bare:+6.1f}%  "
                f"guard's work {100 * work / bare:5.1f}%  (target {target:.0f}%)"
            )


if __name__ == "__main__":
    main()
