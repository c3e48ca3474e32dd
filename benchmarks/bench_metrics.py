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
  version (``scipy.ndimage.label`` then ``np.isin`` on the border labels);
* the patient-level (cluster) bootstrap of ``classification_summary(groups=...)``,
  100k samples from 10k patients, 1000 replicates, ROC AUC and AP included (goal: under
  1 s), versus a plain loop that draws patients with replacement (within the patient's
  class), gathers their samples and calls scikit-learn's metrics per replicate;
* ``compare_auc`` (DeLong) on 100k samples versus a plain numpy implementation of the
  fast DeLong algorithm (Sun and Xu 2014, midranks with ``scipy.stats.rankdata``); the
  covariances are checked equal;
* ``hausdorff_distance(percentile=95)`` on a 150 x 512 x 512 pair (the phantom's lung
  mask and the air-in-body baseline) versus the plain scipy reference (surfaces by
  erosion, then ``distance_transform_edt`` of the whole volume, once per direction);
  the values are checked equal;
* ``calibration_summary(groups=...)``, 371k samples from 37k patients (the study
  report's evaluated rows at 1M samples), 1000 replicates, versus the previous
  implementation kept here as the reference: the same replicates (same random
  stream), each recalibration fitted by Newton's method on all samples from the
  full-data fit (``fit_recalibration``, unchanged). Prints the ratio and the largest
  difference of the replicates' slopes / intercepts and of the tables (goal: a few
  seconds; the report's 30 s budget).

The loops are slow, so they run ``--loop-replicates`` replicates and the time is scaled
to ``--n-bootstraps`` (the cost per replicate is constant).

Run: ``python benchmarks/bench_metrics.py [--n-samples 100000] [--n-bootstraps 1000]
[--n-patients 10000] [--shape 150 512 512] [--cal-samples 371000] [--cal-patients 37000]
[--only summary ranking air cluster delong hd95 calibration]``
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from scipy import ndimage, stats
from sklearn import metrics as skm

from pitfalls.baselines import air_in_body_mask
from pitfalls.datasets._ct_phantom import make_ct_phantom
from pitfalls.exceptions import MetricWarning
from pitfalls.metrics import (
    _calibration,
    calibration_summary,
    classification_summary,
    compare_auc,
    hausdorff_distance,
)
from pitfalls.metrics._cluster import as_generator, replicate_chunks
from pitfalls.metrics._rankboot import bootstrap_ranking
from pitfalls.metrics._recalibration import fit_recalibration

_SECTIONS = ("summary", "ranking", "air", "cluster", "delong", "hd95", "calibration")


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


def _loop_cluster(y, pred, score, groups, n_replicates, seed):
    """Reference: draw patients within their class, gather their samples, sklearn metrics."""
    rng = np.random.default_rng(seed)
    codes, _ = pd.factorize(groups)
    order = np.argsort(codes, kind="stable")
    starts = np.r_[0, np.cumsum(np.bincount(codes))]
    patient_class = y[order][starts[:-1]]  # one label per patient in this benchmark
    strata = [np.flatnonzero(patient_class == c) for c in np.unique(patient_class)]
    for _ in range(n_replicates):
        drawn = np.concatenate([s[rng.integers(0, s.size, s.size)] for s in strata])
        idx = np.concatenate([order[starts[g] : starts[g + 1]] for g in drawn])
        yt, yp = y[idx], pred[idx]
        skm.accuracy_score(yt, yp)
        skm.balanced_accuracy_score(yt, yp)
        skm.precision_score(yt, yp, zero_division=np.nan)
        skm.recall_score(yt, yp)
        skm.recall_score(yt, yp, pos_label=0)
        skm.f1_score(yt, yp)
        skm.matthews_corrcoef(yt, yp)
        skm.roc_auc_score(yt, score[idx])
        skm.average_precision_score(yt, score[idx])


def _numpy_fast_delong(y, a, b):
    """Sun and Xu (2014): midranks of positives, negatives and both; covariance of the AUCs."""
    order = np.argsort(-y, kind="stable")
    m = int(y.sum())
    preds = np.vstack([a, b])[:, order]
    n = preds.shape[1] - m
    tx = np.vstack([stats.rankdata(p[:m]) for p in preds])
    ty = np.vstack([stats.rankdata(p[m:]) for p in preds])
    tz = np.vstack([stats.rankdata(p) for p in preds])
    v01 = (tz[:, :m] - tx) / n
    v10 = 1.0 - (tz[:, m:] - ty) / m
    return np.cov(v01) / m + np.cov(v10) / n


def _reference_hd95(a, b):
    structure = ndimage.generate_binary_structure(3, 1)
    surface_a = a & ~ndimage.binary_erosion(a, structure=structure, border_value=0)
    surface_b = b & ~ndimage.binary_erosion(b, structure=structure, border_value=0)
    d_ab = ndimage.distance_transform_edt(~surface_b, sampling=_SPACING)[surface_a]
    d_ba = ndimage.distance_transform_edt(~surface_a, sampling=_SPACING)[surface_b]
    return max(np.percentile(d_ab, 95), np.percentile(d_ba, 95))


_SPACING = (2.5, 0.7, 0.7)


def _bench_summary(args, y, pred, score):
    scale = args.n_bootstraps / args.loop_replicates
    print(f"classification_summary, {len(y)} samples, {args.n_bootstraps} stratified bootstraps")
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


def _bench_ranking(args, y, score):
    scale = args.n_bootstraps / args.loop_replicates
    print(f"ROC AUC + AP bootstrap alone, {len(y)} samples, {args.n_bootstraps} replicates")
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


def _bench_air(args, ct):
    ours, mask = _timed(lambda: air_in_body_mask(ct), repeat=3)
    ref, ref_mask = _timed(lambda: _reference_air_in_body(ct), repeat=3)
    assert np.array_equal(mask, ref_mask)
    print(f"air_in_body_mask, {ct.shape} {ct.dtype} volume")
    print(f"  ours {ours:.3f} s   label + np.isin {ref:.3f} s   ratio x{ref / ours:.2f}")


def _bench_cluster(args):
    rng = np.random.default_rng(1)
    n, n_patients = args.n_samples, args.n_patients
    patient_y = (rng.random(n_patients) < 0.3).astype(int)
    groups = np.sort(rng.integers(0, n_patients, n))
    y = patient_y[groups]
    effect = rng.normal(size=n_patients)[groups]
    score = 0.8 * y + effect + rng.normal(size=n)
    pred = (score > 0.8).astype(int)
    ids = np.char.add("p", groups.astype(str))  # patient ids are text
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        ours, summary = _timed(
            lambda: classification_summary(
                y, pred, y_score=score, groups=ids, n_bootstraps=args.n_bootstraps, random_state=0
            ),
            repeat=args.repeat,
        )
    loop, _ = _timed(lambda: _loop_cluster(y, pred, score, ids, args.loop_replicates, 0))
    loop *= args.n_bootstraps / args.loop_replicates
    print(
        f"patient-level bootstrap, {n} samples from {summary.n_groups} patients, "
        f"{args.n_bootstraps} replicates, confusion metrics + ROC AUC + AP (goal < 1 s)"
    )
    print(
        f"  ours {ours:8.3f} s   sklearn loop {loop:8.2f} s (from {args.loop_replicates} "
        f"replicates)   speed-up x{loop / ours:,.0f}"
    )


def _bench_delong(args):
    rng = np.random.default_rng(2)
    n = args.n_samples
    y = (rng.random(n) < 0.3).astype(int)
    a = y + rng.normal(size=n)
    b = 0.8 * y + 0.5 * a + rng.normal(size=n)
    ours, result = _timed(lambda: compare_auc(y, a, b), repeat=args.repeat)
    ref, cov = _timed(lambda: _numpy_fast_delong(y, a, b), repeat=args.repeat)
    assert np.allclose(result.covariance, cov, rtol=0, atol=1e-12)
    print(f"compare_auc (DeLong), {n} samples, p = {result.pvalue:.3g}")
    print(
        f"  ours {ours:.3f} s   numpy fast DeLong (rankdata) {ref:.3f} s   ratio x{ref / ours:.2f}"
    )


def _bench_hd95(args, truth, ct):
    baseline = air_in_body_mask(ct)
    ours, value = _timed(
        lambda: hausdorff_distance(truth, baseline, spacing=_SPACING, percentile=95), repeat=3
    )
    ref, ref_value = _timed(lambda: _reference_hd95(truth, baseline))
    assert np.isclose(value, ref_value, rtol=0, atol=1e-9)
    print(
        f"HD95 of two {truth.shape} masks (lungs vs air-in-body), spacing {_SPACING} mm: {value:.2f} mm"
    )
    print(f"  ours {ours:.3f} s   scipy EDT reference {ref:.3f} s   speed-up x{ref / ours:.1f}")


def _previous_calibration(y, prob, groups, n_bootstraps, seed):
    """Reference: calibration_summary before the Taylor starts, same replicates.

    Every replicate's recalibration is fitted by ``fit_recalibration`` (Newton with
    step halving, unchanged) on the dense per-sample weights, from the full-data fit.
    Returns the table, the bins and the replicates.
    """
    data = _calibration._validate(y, prob, groups, 10, "uniform", 1)
    yf = data.is_pos.astype(float)
    point = _calibration._scores(np.ones((1, data.plan.n_patients)) @ data.per_patient(), 10)
    a, b = fit_recalibration(data.x, yf, np.ones((1, len(yf))))
    point.update(a=a, b=b)
    start = (0.0, 1.0) if np.isnan(b[0]) else (float(a[0]), float(b[0]))
    per_patient = data.per_patient()
    parts = {k: [] for k in ("brier", "ece", "observed", "a", "b")}
    rng = as_generator(seed)
    for weights in replicate_chunks(data.plan, n_bootstraps, rng, width=2 * len(yf)):
        scores = _calibration._scores(weights.astype(np.float64) @ per_patient, 10)
        dense = np.take(weights, data.plan.codes, axis=1)
        scores["a"], scores["b"] = fit_recalibration(data.x, yf, dense, start)
        for key in parts:
            parts[key].append(scores[key])
    reps = {key: np.concatenate(values) for key, values in parts.items()}
    table, bins = _calibration._tables(data, point, reps, 0.95)
    return table, bins, reps


def _bench_calibration(args):
    rng = np.random.default_rng(3)
    n, n_patients = args.cal_samples, args.cal_patients
    patient = np.sort(rng.integers(0, n_patients, n))
    patient[:n_patients] = np.arange(n_patients)
    patient.sort()
    y = (rng.random(n_patients) < 0.3).astype(int)[patient]
    signal = 1.2 * y - 0.6 + 0.5 * rng.normal(size=n_patients)[patient]
    prob = np.round(1.0 / (1.0 + np.exp(-(signal + rng.normal(size=n)))), 6)  # as bench_report
    ids = np.char.add("p", patient.astype(str))
    boot = {"n_bootstraps": args.n_bootstraps, "random_state": 0}
    ours, summary = _timed(
        lambda: calibration_summary(y, prob, groups=ids, **boot), repeat=min(args.repeat, 3)
    )
    ref, (table, bins, reps) = _timed(
        lambda: _previous_calibration(y, prob, ids, args.n_bootstraps, 0)
    )
    data = _calibration._validate(y, prob, ids, 10, "uniform", 1)
    full_fit = (summary.intercept, summary.slope)
    new = _calibration._bootstrap(data, full_fit, args.n_bootstraps, as_generator(0))
    same_nan = all(np.array_equal(np.isnan(new[k]), np.isnan(reps[k])) for k in ("a", "b"))
    fit_gap = max(float(np.nanmax(np.abs(new[k] - reps[k]))) for k in ("a", "b"))
    table_gap = float(np.nanmax(np.abs((summary.table - table).to_numpy())))
    bins_gap = float(np.nanmax(np.abs((summary.bins - bins).to_numpy())))
    assert same_nan and fit_gap < 1e-8 and table_gap < 1e-8 and bins_gap < 1e-8
    print(
        f"calibration_summary, {n} samples from {summary.n_groups} patients, "
        f"{args.n_bootstraps} patient-level replicates (slope CI "
        f"[{summary.table.loc['slope', 'ci_low']:.4f}, {summary.table.loc['slope', 'ci_high']:.4f}])"
    )
    print(
        f"  ours {ours:7.2f} s   previous implementation {ref:7.2f} s   speed-up x{ref / ours:.1f}"
    )
    print(
        f"  largest difference: replicate slopes / intercepts {fit_gap:.1e} "
        f"(NaN for the same replicates: {same_nan}), tables {max(table_gap, bins_gap):.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=100_000)
    parser.add_argument("--n-patients", type=int, default=10_000)
    parser.add_argument("--n-bootstraps", type=int, default=1000)
    parser.add_argument("--loop-replicates", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--shape", type=int, nargs=3, default=(150, 512, 512))
    parser.add_argument("--cal-samples", type=int, default=371_000)
    parser.add_argument("--cal-patients", type=int, default=37_000)
    parser.add_argument("--only", nargs="+", choices=_SECTIONS, default=list(_SECTIONS))
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    n = args.n_samples
    y = (rng.random(n) < 0.2).astype(int)
    pred = np.where(rng.random(n) < 0.85, y, 1 - y)
    score = 0.5 * y + rng.random(n)
    if "summary" in args.only:
        _bench_summary(args, y, pred, score)
    if "ranking" in args.only:
        _bench_ranking(args, y, score)
    if "cluster" in args.only:
        _bench_cluster(args)
    if "delong" in args.only:
        _bench_delong(args)
    if "calibration" in args.only:
        _bench_calibration(args)
    if "air" in args.only or "hd95" in args.only:
        images, masks = make_ct_phantom(n_cases=1, shape=tuple(args.shape), random_state=0)
        if "air" in args.only:
            _bench_air(args, images[0])
        if "hd95" in args.only:
            _bench_hd95(args, np.asarray(masks[0], dtype=bool), images[0])


if __name__ == "__main__":
    main()
