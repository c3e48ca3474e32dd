"""Benchmark: study_report on 1M samples / 100k patients with predictions.

Builds a synthetic study (``--samples`` rows from ``--patients`` patients at 4 sites;
patients split train / val / test at sites A-C, site D held out as ``external``; a
score for every row, as out-of-fold predictions would give; a ``sex`` subgroup) and
times :func:`pitfalls.report.study_report` with ``--n-bootstraps`` patient-level
replicates (goal: under 30 s on the project's 2-core machine).

The reference, measured in the same run on the same rows, is the library calls the
report is made of, alone: :func:`pitfalls.audit.audit` on the manifest, one
:func:`~pitfalls.metrics.classification_summary` and one
:func:`~pitfalls.metrics.calibration_summary` per evaluation split, one
classification_summary per site and per subgroup level (the subgroups section), and
the pooled internal summary when there are several internal splits. The ratio
report / reference is therefore the report's own overhead (reading, validating and
joining the predictions, the cohort counts, sentences and tables). Each call is
timed on its own so the breakdown shows what dominates.

The ROC / PR band figures (:func:`~pitfalls.metrics.curve_bands`) are drawn when a
figure is rendered, not when the report is computed; their cost is printed apart
(``--bands``, default 500 replicates as ``ClassificationSummary.plot`` uses).

``--evaluate all`` names no test split, so every row with a prediction is evaluated
as one set (the report's fallback): the worst case.

``--repeat N`` alternates report and reference N times and prints medians (the machine
is shared: load changes between runs).

Run: ``python benchmarks/bench_report.py [--samples 1000000] [--patients 100000]
[--n-bootstraps 1000] [--evaluate study|all] [--csv] [--bands 500] [--repeat 1]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from pitfalls.audit import audit
from pitfalls.exceptions import MetricWarning
from pitfalls.metrics import calibration_summary, classification_summary, curve_bands
from pitfalls.report import study_report


def make_study(n_samples: int, n_patients: int, evaluate: str, seed: int = 0) -> tuple:
    """Manifest and predictions: every patient's rows in one split, a score per row."""
    rng = np.random.default_rng(seed)
    patient_site = rng.choice(np.array(list("ABCD")), size=n_patients, p=[0.35, 0.3, 0.25, 0.1])
    patient_label = (rng.random(n_patients) < np.where(patient_site == "D", 0.4, 0.3)).astype(int)
    patient_sex = rng.choice(np.array(["F", "M"]), size=n_patients)
    if evaluate == "study":
        roles = rng.choice(np.array(["train", "val", "test"]), size=n_patients, p=[0.6, 0.1, 0.3])
        roles = np.where(patient_site == "D", "external", roles)
    else:  # folds only: no test split, the report evaluates every row as "all"
        roles = np.char.add("fold", rng.integers(1, 6, n_patients).astype(str))
    patient = np.sort(rng.integers(0, n_patients, n_samples))
    patient[:n_patients] = np.arange(n_patients)  # every patient has a row
    ids = np.char.add("P", np.char.zfill(patient.astype(str), 6))
    label = patient_label[patient]
    signal = 1.2 * label - 0.6 + 0.5 * rng.normal(size=n_patients)[patient]
    score = 1.0 / (1.0 + np.exp(-(signal + rng.normal(size=n_samples))))
    manifest = pd.DataFrame(
        {
            "image": np.char.add("img", np.arange(n_samples).astype(str)),
            "patient": ids,
            "split": roles[patient],
            "site": patient_site[patient],
            "sex": patient_sex[patient],
            "label": label,
        }
    )
    predictions = pd.DataFrame({"image": manifest["image"], "prob": np.round(score, 6)})
    return manifest, predictions


def _timed(func):
    start = time.perf_counter()
    result = func()
    return time.perf_counter() - start, result


def _reference(manifest: pd.DataFrame, predictions: pd.DataFrame, report, args) -> dict:
    """The report's library calls alone, on the same rows, each timed."""
    settings = report.settings
    joined = manifest.merge(predictions, on="image")
    y = joined["label"].to_numpy()
    score = joined["prob"].to_numpy()
    pred = (score >= 0.5).astype(int)
    groups = joined["patient"].to_numpy()
    boot = {"n_bootstraps": args.n_bootstraps, "random_state": 0}
    splits = settings["evaluation_splits"]
    rows = {s: np.flatnonzero(joined["split"].to_numpy() == s) for s in splits}
    if not splits:
        rows = {"all": np.arange(len(joined))}
    times = {}
    times["audit"], _ = _timed(
        lambda: audit(
            manifest,
            group="patient",
            split="split",
            label="label",
            site="site",
            id="image",
            test_splits=splits or None,
        )
    )
    for name, r in rows.items():
        times[f"classification_summary {name}"], _ = _timed(
            lambda r=r: classification_summary(
                y[r], pred[r], y_score=score[r], groups=groups[r], **boot
            )
        )
        times[f"calibration_summary {name}"], _ = _timed(
            lambda r=r: calibration_summary(y[r], score[r], groups=groups[r], **boot)
        )
    evaluated = np.concatenate(list(rows.values()))
    for column in ("site", "sex"):
        values = joined[column].to_numpy()[evaluated]

        def per_level(values=values):
            for level in np.unique(values):
                r = evaluated[values == level]
                classification_summary(y[r], pred[r], y_score=score[r], groups=groups[r], **boot)

        times[f"classification_summary per {column}"], _ = _timed(per_level)
    internal = [s for s in splits if s not in settings["external_splits"]]
    if len(internal) > 1:
        r = np.concatenate([rows[s] for s in internal])
        times["classification_summary internal pooled"], _ = _timed(
            lambda: classification_summary(
                y[r], pred[r], y_score=score[r], groups=groups[r], **boot
            )
        )
    bands = {}
    for name, r in rows.items():
        bands[name], _ = _timed(
            lambda r=r: curve_bands(
                y[r], score[r], groups=groups[r], n_bootstraps=args.bands, random_state=0
            )
        )
    return {"calls": times, "bands": bands}


def _report_once(manifest, predictions, args) -> tuple:
    kwargs = dict(
        group="patient",
        split="split",
        label="label",
        site="site",
        sample_id="image",
        score="prob",
        subgroups=["sex"],
        n_bootstraps=args.n_bootstraps,
    )
    with tempfile.TemporaryDirectory() as folder:
        sources = (manifest, predictions)
        if args.csv:
            sources = (Path(folder) / "manifest.csv", Path(folder) / "predictions.csv")
            manifest.to_csv(sources[0], index=False)
            predictions.to_csv(sources[1], index=False)
        return _timed(lambda: study_report(sources[0], predictions=sources[1], **kwargs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--n-bootstraps", type=int, default=1000)
    parser.add_argument("--evaluate", choices=("study", "all"), default="study")
    parser.add_argument("--csv", action="store_true", help="read manifest and predictions from CSV")
    parser.add_argument("--bands", type=int, default=500)
    parser.add_argument(
        "--repeat", type=int, default=1, help="alternate report and reference; print medians"
    )
    args = parser.parse_args()
    warnings.simplefilter("ignore", MetricWarning)
    manifest, predictions = make_study(args.samples, args.patients, args.evaluate)
    elapsed, totals, references = [], [], []
    for _ in range(args.repeat):  # alternating: a shared machine's load hits both alike
        seconds, report = _report_once(manifest, predictions, args)
        elapsed.append(seconds)
        references.append(_reference(manifest, predictions, report, args))
        totals.append(sum(references[-1]["calls"].values()))
    _print(args, report, float(np.median(elapsed)), float(np.median(totals)), references[-1])


def _print(args, report, elapsed: float, total: float, reference: dict) -> None:
    evaluated = sum(s["samples"] for s in report.sections["performance"].data["splits"].values())
    print(
        f"study_report: {args.samples:,} samples, {args.patients:,} patients, "
        f"{args.n_bootstraps} patient-level replicates, {evaluated:,} samples evaluated "
        f"({', '.join(report.settings['evaluation_splits']) or 'all'}), "
        f"{'CSV files' if args.csv else 'DataFrames'}, median of {args.repeat}"
    )
    print(f"  report                 {elapsed:8.2f} s   (goal: under 30 s)")
    print(f"  reference (calls alone){total:8.2f} s")
    print(
        f"  ratio report/reference {elapsed / total:8.2f}x   own overhead {elapsed - total:+.2f} s"
    )
    for name, seconds in reference["calls"].items():
        print(f"    {name:<40s} {seconds:7.2f} s   (last run)")
    for name, seconds in reference["bands"].items():
        print(
            f"  ROC/PR bands of {name} ({args.bands} replicates, drawn on render): {seconds:.2f} s"
        )


if __name__ == "__main__":
    main()
