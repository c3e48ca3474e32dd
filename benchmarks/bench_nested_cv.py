"""Benchmark: ``nested_cross_validate`` against the plain scikit-learn nested loop.

The protocol is the paper's Appendix A: 137 samples x 1652 radiomics-like features,
VarianceThreshold -> SelectKBest(f_classif, k=100) -> RandomOverSampler -> RFE (or
RFECV) with a linear SVC down to 10 features -> RandomForest(class_weight="balanced"),
grid max_depth [6, 7] x min_samples_leaf [3, 4, 5], 3 outer x 3 inner folds.

Three variants run in the same process on the same splits, interleaved (each round
runs them in a rotated order, and the medians over rounds are reported, so that a
load that comes and goes hits them alike): the plain GridSearchCV-in-a-loop,
``nested_cross_validate`` as it is by default, and with ``lean_forests=True``. The
script prints, per forest size, the median times, the speed-up of each variant over
the plain loop, what the lean forest alone buys, and whether the outer test scores
are identical; it exits with status 1 if they are not. Run::

    .venv/bin/python benchmarks/bench_nested_cv.py                        # 100, 300, 1000 trees
    .venv/bin/python benchmarks/bench_nested_cv.py --n-estimators 300     # the issue-12 target
    .venv/bin/python benchmarks/bench_nested_cv.py --rf-n-jobs -1         # forest asks for all cores
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from imblearn.over_sampling import RandomOverSampler
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import RFE, RFECV, SelectKBest, VarianceThreshold, f_classif
from sklearn.metrics import check_scoring
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.svm import SVC

from pitfalls.model_selection import nested_cross_validate
from pitfalls.pipeline import Pipeline

PARAM_GRID = {"rf__max_depth": [6, 7], "rf__min_samples_leaf": [3, 4, 5]}


def paper_pipeline(n_estimators: int, rf_n_jobs: int | None, rfecv: bool) -> Pipeline:
    svc = SVC(kernel="linear")
    eliminate = (
        RFECV(svc, min_features_to_select=10, cv=3) if rfecv else RFE(svc, n_features_to_select=10)
    )
    return Pipeline(
        [
            ("variance", VarianceThreshold()),
            ("kbest", SelectKBest(f_classif, k=100)),
            ("oversample", RandomOverSampler(random_state=0)),
            ("rfe", eliminate),
            (
                "rf",
                RandomForestClassifier(
                    n_estimators=n_estimators,
                    bootstrap=True,
                    class_weight="balanced",
                    random_state=0,
                    n_jobs=rf_n_jobs,
                ),
            ),
        ]
    )


def plain_loop(pipe, X, y, outer, inner, n_jobs):
    scorer = check_scoring(pipe, scoring="f1")
    scores = []
    for train, test in outer.split(X, y):
        search = GridSearchCV(pipe, PARAM_GRID, cv=inner, scoring="f1", n_jobs=n_jobs)
        search.fit(X[train], y[train])
        scores.append(scorer(search, X[test], y[test]))
    return np.array(scores)


def nested(pipe, X, y, outer, inner, n_jobs, lean):
    return nested_cross_validate(
        pipe, X, y, param_grid=PARAM_GRID, outer_cv=outer, inner_cv=inner,
        scoring="f1", n_jobs=n_jobs, lean_forests=lean,
    )["test_score"]  # fmt: skip


def compare(X, y, n_estimators: int, args: argparse.Namespace) -> bool:
    """Time the three variants at one forest size; print the table rows; scores equal?"""
    pipe = paper_pipeline(n_estimators, args.rf_n_jobs, args.rfecv)
    outer = StratifiedKFold(3, shuffle=True, random_state=args.seed)
    inner = StratifiedKFold(3, shuffle=True, random_state=args.seed)
    variants = {
        "plain GridSearchCV loop": lambda: plain_loop(pipe, X, y, outer, inner, args.n_jobs),
        "nested_cross_validate": lambda: nested(pipe, X, y, outer, inner, args.n_jobs, False),
        "  lean_forests=True": lambda: nested(pipe, X, y, outer, inner, args.n_jobs, True),
    }
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    scores: dict[str, np.ndarray] = {}
    for round_ in range(args.rounds):
        for name in names[round_ % 3 :] + names[: round_ % 3]:
            start = time.perf_counter()
            scores[name] = variants[name]()
            times[name].append(time.perf_counter() - start)
    median = {name: float(np.median(times[name])) for name in names}
    plain = median[names[0]]
    print(f"\nn_estimators={n_estimators}  (medians of {args.rounds} interleaved rounds)")
    for name in names:
        print(
            f"{name:<24}: {median[name]:8.2f} s  speed-up {plain / median[name]:5.2f}x  "
            f"scores {np.round(scores[name], 6).tolist()}"
        )
    identical = all(np.array_equal(scores[names[0]], scores[name]) for name in names)
    print(
        f"lean forest alone buys {median[names[1]] / median[names[2]]:.2f}x; "
        f"identical scores: {identical}"
    )
    return identical


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-estimators", type=int, nargs="+", default=[100, 300, 1000])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per size")
    parser.add_argument("--n-jobs", type=int, default=2, help="workers for all methods")
    parser.add_argument("--rf-n-jobs", type=int, default=None, help="the forest's own n_jobs")
    parser.add_argument("--rfecv", action="store_true", help="RFECV instead of RFE")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    X, y = make_classification(
        n_samples=137, n_features=1652, n_informative=10, n_redundant=10, weights=[0.75],
        class_sep=1.5, flip_y=0.02,
        random_state=args.seed,
    )  # fmt: skip
    print(
        f"n_jobs={args.n_jobs} rf_n_jobs={args.rf_n_jobs} "
        f"eliminator={'RFECV' if args.rfecv else 'RFE'}"
    )
    identical = [compare(X, y, n, args) for n in args.n_estimators]
    if not all(identical):
        raise SystemExit("nested_cross_validate's scores differ from the plain loop's")


if __name__ == "__main__":
    main()
