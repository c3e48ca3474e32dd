"""Benchmark: ``nested_cross_validate`` against the plain scikit-learn nested loop.

The protocol is the paper's Appendix A: 137 samples x 1652 radiomics-like features,
VarianceThreshold -> SelectKBest(f_classif, k=100) -> RandomOverSampler -> RFE (or
RFECV) with a linear SVC down to 10 features -> RandomForest(class_weight="balanced"),
grid max_depth [6, 7] x min_samples_leaf [3, 4, 5], 3 outer x 3 inner folds.

Both run in the same process on the same splits; the script checks that the outer
test scores are identical and prints the times and the speed-up ratio. Run::

    .venv/bin/python benchmarks/bench_nested_cv.py                      # quick: 100 trees
    .venv/bin/python benchmarks/bench_nested_cv.py --n-estimators 1000  # paper setting
    .venv/bin/python benchmarks/bench_nested_cv.py --rf-n-jobs -1       # forest asks for all cores
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-estimators", type=int, default=100)
    parser.add_argument("--n-jobs", type=int, default=2, help="workers for both methods")
    parser.add_argument("--rf-n-jobs", type=int, default=None, help="the forest's own n_jobs")
    parser.add_argument("--rfecv", action="store_true", help="RFECV instead of RFE")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    X, y = make_classification(
        n_samples=137, n_features=1652, n_informative=10, n_redundant=10, weights=[0.75],
        class_sep=1.5, flip_y=0.02,
        random_state=args.seed,
    )  # fmt: skip
    pipe = paper_pipeline(args.n_estimators, args.rf_n_jobs, args.rfecv)
    outer = StratifiedKFold(3, shuffle=True, random_state=args.seed)
    inner = StratifiedKFold(3, shuffle=True, random_state=args.seed)

    start = time.perf_counter()
    reference = plain_loop(pipe, X, y, outer, inner, args.n_jobs)
    t_plain = time.perf_counter() - start

    start = time.perf_counter()
    ours = nested_cross_validate(
        pipe, X, y, param_grid=PARAM_GRID, outer_cv=outer, inner_cv=inner,
        scoring="f1", n_jobs=args.n_jobs,
    )["test_score"]  # fmt: skip
    t_ours = time.perf_counter() - start

    print(
        f"n_estimators={args.n_estimators} n_jobs={args.n_jobs} rf_n_jobs={args.rf_n_jobs} "
        f"eliminator={'RFECV' if args.rfecv else 'RFE'}"
    )
    print(f"plain GridSearchCV loop : {t_plain:8.2f} s  scores {np.round(reference, 6).tolist()}")
    print(f"nested_cross_validate   : {t_ours:8.2f} s  scores {np.round(ours, 6).tolist()}")
    print(
        f"identical scores: {np.array_equal(reference, ours)}   speed-up: {t_plain / t_ours:.2f}x"
    )


if __name__ == "__main__":
    main()
