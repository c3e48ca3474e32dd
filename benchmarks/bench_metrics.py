"""Benchmark: vectorised bootstrap of classification_summary and air_in_body_mask.

Prints our time, the time of a straightforward reference measured in the same run,
and their ratio:

* bootstrap CIs of the confusion-matrix metrics (accuracy, precision, recall, F1, MCC)
  versus a plain loop that resamples indices within each class and calls scikit-learn's
  metric functions once per replicate;
* the same with ROC AUC / average precision (``y_score`` given) versus a loop calling
  ``roc_auc_score`` and ``average_precision_score`` per replicate;
* the ROC AUC / average precision bootstrap alone (continuous scores, and scores
  rounded to 2 decimals) versus a loop calling only those two scikit-learn functions
  (median of ``--repeat`` runs);
* ``air_in_body_mask`` on a 150 x 512 x 512 int16 CT phantom versus the textbook
  version (``scipy.ndimage.label`` then ``np.isin`` on the border labels).

The loops are slow, so they run ``--loop-replicates`` replicates and the time is scaled
to ``--n-bootstraps`` (the cost per replicate is constant).

Run: ``python benchmarks/bench_metrics.py [--n-samples 100000] [--n-bootstraps 1000]``
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from scipy import ndimage
from sklearn import metrics as skm

from pitfalls.baselines import air_in_body_mask
from pitfalls.datasets._ct_phantom import make_ct_phantom
from pitfalls.exceptions import MetricWarning
from pitfalls.metrics import classification_summary
from pitfalls.metrics._rankboot import bootstrap_ranking


def _timed(func, repeat=1):
    """Median wall time of ``repeat`` runs (the machine may be shared) and the result."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def _loop_ranking(y, score, n_replicates, seed):
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(y == c) for c in np.unique(y)]
    for _ in range(n_replicates):
        idx = np.concatenate([m[rng.integers(0, m.size, m.size)] for m in members])
        skm.roc_auc_score(y[idx], score[idx])
        skm.average_precision_score(y[idx], score[idx])


def _loop_bootstrap(y, pred, score, n_replicates, seed):
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(y == c) for c in np.unique(y)]
    for _ in range(n_replicates):
        idx = np.concatenate([m[rng.integers(0, m.size, m.size)] for m in members])
        yt, yp = y[idx], pred[idx]
        skm.accuracy_score(yt, yp)
        skm.balanced_accuracy_score(yt, yp)
        skm.precision_score(yt, yp, zero_division=np.nan)
        skm.recall_score(yt, yp)
        skm.recall_score(yt, yp, pos_label=0)
        skm.f1_score(yt, yp)
        skm.matthews_corrcoef(yt, yp)
        if score is not None:
            skm.roc_auc_score(yt, score[idx])
            skm.average_precision_score(yt, score[idx])


def _reference_air_in_body(ct, threshold=-400):
    labels, _ = ndimage.label(ct < threshold)
    border = np.unique(
        np.concatenate(
            [
                labels[:, 0, :].ravel(),
                labels[:, -1, :].ravel(),
                labels[:, :, 0].ravel(),
                labels[:, :, -1].ravel(),
            ]
        )
    )
    return (labels > 0) & ~np.isin(labels, border)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=100_000)
    parser.add_argument("--n-bootstraps", type=int, default=1000)
    parser.add_argument("--loop-replicates", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--shape", type=int, nargs=3, default=(150, 512, 512))
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    n = args.n_samples
    y = (rng.random(n) < 0.2).astype(int)
    pred = np.where(rng.random(n) < 0.85, y, 1 - y)
    score = 0.5 * y + rng.random(n)
    scale = args.n_bootstraps / args.loop_replicates

    print(f"classification_summary, {n} samples, {args.n_bootstraps} stratified bootstraps")
    for label, s in (("confusion metrics", None), ("+ ROC AUC and AP", score)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MetricWarning)
            ours, _ = _timed(
                lambda s=s: classification_summary(
                    y, pred, y_score=s, n_bootstraps=args.n_bootstraps, random_state=0
                ),
                repeat=args.repeat,
            )
        loop, _ = _timed(lambda s=s: _loop_bootstrap(y, pred, s, args.loop_replicates, 0))
        loop *= scale
        print(
            f"  {label:<18} ours {ours:8.3f} s   sklearn loop {loop:8.2f} s "
            f"(from {args.loop_replicates} replicates)   speed-up x{loop / ours:,.0f}"
        )

    print(f"ROC AUC + AP bootstrap alone, {n} samples, {args.n_bootstraps} replicates")
    for label, s in (("continuous scores", score), ("2-decimal scores", np.round(score, 2))):
        ours, _ = _timed(
            lambda s=s: bootstrap_ranking(
                s[:, None], y, [1], args.n_bootstraps, np.random.default_rng(0)
            ),
            repeat=args.repeat,
        )
        loop, _ = _timed(lambda s=s: _loop_ranking(y, s, args.loop_replicates, 0))
        loop *= scale
        print(
            f"  {label:<18} ours {ours:8.3f} s   sklearn loop {loop:8.2f} s "
            f"(from {args.loop_replicates} replicates)   speed-up x{loop / ours:,.0f}"
        )

    shape = tuple(args.shape)
    images, _ = make_ct_phantom(n_cases=1, shape=shape, random_state=0)
    ct = images[0]
    ours, mask = _timed(lambda: air_in_body_mask(ct), repeat=3)
    ref, ref_mask = _timed(lambda: _reference_air_in_body(ct), repeat=3)
    assert np.array_equal(mask, ref_mask)
    print(f"air_in_body_mask, {shape} {ct.dtype} volume")
    print(f"  ours {ours:.3f} s   label + np.isin {ref:.3f} s   ratio x{ref / ours:.2f}")


if __name__ == "__main__":
    main()
