"""Time and class balance of StratifiedGroupKFold: pitfalls versus scikit-learn.

Both splitters run on the same synthetic data in the same process. Balance is the
largest deviation, over folds and classes, of a class's share of the test fold
from its share of the whole data set (0 is perfect stratification).

The data mimic a medical imaging cohort: groups (patients) of 1 + Poisson samples,
each patient with a dominant class drawn from an imbalanced class distribution, and
a fraction of samples (slices, lesions) carrying another label.

A second table measures MultilabelStratifiedGroupKFold (several binary labels per
sample, e.g. findings on a chest X-ray) against StratifiedGroupKFold on the label
powerset (each combination of labels one class; ours and scikit-learn's) and
GroupKFold. Its balance is the deviation of each label's prevalence in a test fold
from its overall prevalence: the largest over folds and labels, and the mean over
labels of the largest over folds.

Usage::

    python benchmarks/bench_splitters.py            # 200k/20k/3 and 1M/100k/5; 200k/20k/10 labels
    python benchmarks/bench_splitters.py --quick    # small sizes, for a smoke test
    python benchmarks/bench_splitters.py --relabel 0  # one label per patient
    python benchmarks/bench_splitters.py --only multilabel
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
from sklearn.model_selection import GroupKFold
from sklearn.model_selection import StratifiedGroupKFold as SklearnStratifiedGroupKFold

from pitfalls.model_selection import MultilabelStratifiedGroupKFold, StratifiedGroupKFold

FULL_CASES = ((200_000, 20_000, 3), (1_000_000, 100_000, 5))
QUICK_CASES = ((20_000, 2_000, 3), (50_000, 5_000, 5))
FULL_MULTILABEL = ((200_000, 20_000, 10),)
QUICK_MULTILABEL = ((20_000, 2_000, 10),)


def make_cohort(
    n_samples: int, n_groups: int, n_classes: int, seed: int = 0, relabel_fraction: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """Labels and groups: one class per patient, ``relabel_fraction`` of samples relabelled."""
    rng = np.random.default_rng(seed)
    sizes = 1 + rng.poisson(n_samples / n_groups - 1, n_groups)
    groups = rng.permutation(np.repeat(np.arange(n_groups), sizes))
    class_share = rng.dirichlet(np.full(n_classes, 2.0))
    patient_class = rng.choice(n_classes, n_groups, p=class_share)
    y = patient_class[groups]
    relabel = rng.random(y.size) < relabel_fraction
    y[relabel] = rng.choice(n_classes, int(relabel.sum()), p=class_share)
    return y, groups


def make_multilabel_cohort(
    n_samples: int, n_groups: int, n_labels: int, seed: int = 0, relabel_fraction: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """0/1 labels (n_samples, n_labels) and groups: patient-level findings of prevalence
    2-40%, ``relabel_fraction`` of the entries flipped (a finding seen on some images)."""
    rng = np.random.default_rng(seed)
    sizes = 1 + rng.poisson(n_samples / n_groups - 1, n_groups)
    groups = rng.permutation(np.repeat(np.arange(n_groups), sizes))
    prevalence = rng.uniform(0.02, 0.4, n_labels)
    y = (rng.random((n_groups, n_labels)) < prevalence)[groups].astype(np.int8)
    flip = rng.random(y.shape) < relabel_fraction
    y[flip] = 1 - y[flip]
    return y, groups


def label_deviation(fold_of_sample: np.ndarray, y: np.ndarray, n_splits: int) -> np.ndarray:
    """Per label: max over folds of |prevalence in the fold - overall prevalence|."""
    overall = y.mean(axis=0)
    return np.max(
        [np.abs(y[fold_of_sample == f].mean(axis=0) - overall) for f in range(n_splits)], axis=0
    )


def balance_deviation(fold_of_sample: np.ndarray, y: np.ndarray, n_splits: int) -> float:
    """max over folds f and classes c of |share of c in fold f - share of c overall|."""
    n_classes = int(y.max()) + 1
    table = np.zeros((n_splits, n_classes))
    np.add.at(table, (fold_of_sample, y), 1)
    fold_share = table / table.sum(axis=1, keepdims=True)
    overall = np.bincount(y, minlength=n_classes) / y.size
    return float(np.abs(fold_share - overall).max())


def fold_of_sample(cv: Any, X: np.ndarray, y: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Run ``cv.split`` to the end and return the test fold of every sample."""
    fold = np.full(len(groups), -1)
    for i, (_, test) in enumerate(cv.split(X, y, groups)):
        fold[test] = i
    return fold


def timed(run: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    """Best wall time of ``repeats`` runs, and the last result."""
    best = np.inf
    result = np.empty(0)
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def multilabel_table(cases: tuple, k: int, repeats: int) -> None:
    """MultilabelStratifiedGroupKFold against the powerset splitters and GroupKFold."""
    header = (
        f"{'samples':>9} {'groups':>8} {'lab':>3} {'combos':>6} | {'splitter':<38} "
        f"{'s':>7} {'time/ours':>9} | {'max dev':>8} {'mean dev':>8}"
    )
    print(header)
    print("-" * len(header))
    for n_samples, n_groups, n_labels in cases:
        y, groups = make_multilabel_cohort(n_samples, n_groups, n_labels)
        powerset = (y.astype(np.int64) << np.arange(n_labels)).sum(axis=1)
        X = np.empty((y.shape[0], 0))
        contenders: list[tuple[str, Any, np.ndarray]] = [
            ("MultilabelStratifiedGroupKFold", MultilabelStratifiedGroupKFold(k), y),
            ("StratifiedGroupKFold, powerset", StratifiedGroupKFold(k), powerset),
            ("sklearn StratifiedGroupKFold, powerset", SklearnStratifiedGroupKFold(k), powerset),
            ("GroupKFold", GroupKFold(k), powerset),
            # the single-label splitter on the same samples: the speed to match
            ("StratifiedGroupKFold, label 0 only", StratifiedGroupKFold(k), y[:, 0]),
        ]
        ours_time = np.nan
        for name, cv, target in contenders:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # rare label combinations
                seconds, fold = timed(partial(fold_of_sample, cv, X, target, groups), repeats)
            ours_time = seconds if np.isnan(ours_time) else ours_time
            deviation = label_deviation(fold, y, k)
            print(
                f"{y.shape[0]:>9} {n_groups:>8} {n_labels:>3} {np.unique(powerset).size:>6} | "
                f"{name:<38} {seconds:>7.3f} {seconds / ours_time:>8.1f}x | "
                f"{deviation.max():>8.2e} {deviation.mean():>8.2e}"
            )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--n-splits", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1, help="timing repeats (best of)")
    parser.add_argument(
        "--relabel",
        type=float,
        default=0.2,
        help="fraction of samples whose label differs from their patient's (0: one label "
        "per patient)",
    )
    parser.add_argument(
        "--only", choices=("stratified", "multilabel"), help="run one of the two tables"
    )
    args = parser.parse_args(argv)
    cases = QUICK_CASES if args.quick else FULL_CASES
    k = args.n_splits
    # Warm both up on tiny data: first-call costs (lazy imports, BLAS discovery) are
    # not what this benchmark measures.
    y_small, groups_small = make_cohort(500, 50, 2, seed=1)
    for cv in (SklearnStratifiedGroupKFold(k), StratifiedGroupKFold(k)):
        fold_of_sample(cv, np.empty((y_small.size, 0)), y_small, groups_small)
    fold_of_sample(
        MultilabelStratifiedGroupKFold(k), y_small, np.c_[y_small, y_small], groups_small
    )

    if args.only != "multilabel":
        stratified_table(cases, k, args)
    if args.only is None:
        print()
    if args.only != "stratified":
        multilabel_table(QUICK_MULTILABEL if args.quick else FULL_MULTILABEL, k, args.repeats)


def stratified_table(cases: tuple, k: int, args: argparse.Namespace) -> None:
    """Our StratifiedGroupKFold against scikit-learn's, single-label."""
    header = (
        f"{'samples':>9} {'groups':>8} {'cls':>3} {'shuffle':>7} | {'sklearn s':>9} "
        f"{'ours s':>7} {'speed-up':>8} | {'sklearn dev':>11} {'ours dev':>9}"
    )
    print(header)
    print("-" * len(header))
    for n_samples, n_groups, n_classes in cases:
        y, groups = make_cohort(n_samples, n_groups, n_classes, relabel_fraction=args.relabel)
        n_samples = y.size  # group sizes are random: the realised count
        X = np.empty((n_samples, 0))
        for shuffle in (False, True):
            seed = 0 if shuffle else None
            theirs = SklearnStratifiedGroupKFold(k, shuffle=shuffle, random_state=seed)
            ours = StratifiedGroupKFold(k, shuffle=shuffle, random_state=seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                t_sk, f_sk = timed(partial(fold_of_sample, theirs, X, y, groups), args.repeats)
                t_ours, f_ours = timed(partial(fold_of_sample, ours, X, y, groups), args.repeats)
            print(
                f"{n_samples:>9} {n_groups:>8} {n_classes:>3} {shuffle!s:>7} | "
                f"{t_sk:>9.3f} {t_ours:>7.3f} {t_sk / t_ours:>7.1f}x | "
                f"{balance_deviation(f_sk, y, k):>11.2e} {balance_deviation(f_ours, y, k):>9.2e}"
            )


if __name__ == "__main__":
    main()
