"""``pitfalls report``: the study report; exit 0 (pass), 1 (a finding fails) or 2 (bad input).

It follows ``pitfalls audit`` and reuses its helpers: the format is ``--format``, or
else follows the ``--output`` name (``.html``, ``.md``, ``.json``; text otherwise), an ``--output`` that is an input file is refused, a closed pipe ends quietly.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .._manifest import ManifestError
from ._audit import _emit, _same_file, add_format, output_format
from ._main import UsageError

__all__ = ["register"]

_FAIL_ON = ("high", "medium", "low", "info", "never")


def register(subparsers: Any) -> None:
    """Add the ``report`` subcommand to the ``pitfalls`` parser.

    Examples
    --------
    >>> from pitfalls.cli import build_parser
    >>> args = build_parser().parse_args(["report", "m.csv", "--group", "pid", "--split", "s",
    ...                                   "--label", "y", "--subgroup", "sex", "age"])
    >>> from pitfalls.cli._audit import output_format
    >>> args.command, args.subgroups, output_format(args), args.fail_on, args.n_bootstraps
    ('report', ['sex', 'age'], 'text', 'high', 1000)
    """
    parser = subparsers.add_parser(
        "report",
        help="the study report: cohort, audit, performance with patient-level CIs, sites, gaps",
        description=(
            "Compute a study report from a manifest (one row per sample) and the model's "
            "predictions: the cohort per split, the audit's findings, every metric with "
            "patient-level bootstrap intervals beside naive baselines, ROC/PR curves, "
            "calibration, performance per site and subgroup, internal vs external, and "
            "the reporting checklist. Exit status: 0 when no finding reaches --fail-on, "
            "1 when one does, 2 on unusable input."
        ),
    )
    _add_columns(parser)
    _add_predictions(parser)
    _add_outputs(parser)
    parser.set_defaults(func=run_report)


def _add_columns(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifest", metavar="MANIFEST", help="CSV, TSV or Parquet manifest")
    parser.add_argument("--group", required=True, metavar="COL", help="patient (group) id column")
    parser.add_argument("--split", required=True, metavar="COL", help="split column")
    parser.add_argument("--label", required=True, metavar="COL", help="binary class label column")
    parser.add_argument("--site", metavar="COL", help="site / scanner / source column")
    parser.add_argument(
        "--id", metavar="COL", help="sample id column keying the predictions (default: the row)"
    )
    parser.add_argument(
        "--subgroup",
        action="extend",
        nargs="+",
        default=[],
        dest="subgroups",
        metavar="COL",
        help="column whose levels get performance and a heterogeneity test (repeatable)",
    )
    parser.add_argument("--image", metavar="COL", help="image path column (image checks)")
    parser.add_argument("--root", metavar="DIR", help="directory image paths are relative to")


def _add_predictions(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--predictions", metavar="FILE", help="CSV or Parquet file of predictions, one per id"
    )
    parser.add_argument("--score", metavar="COL", help="score (probability of the positive class)")
    parser.add_argument("--prediction", metavar="COL", help="predicted label column")
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        metavar="X",
        help="score threshold of the predicted labels (default: 0.5)",
    )
    parser.add_argument(
        "--evaluation-split",
        action="extend",
        nargs="+",
        dest="evaluation_splits",
        metavar="NAME",
        help="split evaluated (repeatable; default: test splits by name, plus external ones)",
    )
    parser.add_argument(
        "--external-split",
        action="extend",
        nargs="+",
        dest="external_splits",
        metavar="NAME",
        help="split from sites the model never saw (default: names containing 'external')",
    )
    parser.add_argument(
        "--n-bootstraps",
        type=int,
        default=1000,
        metavar="N",
        help="patient-level bootstrap replicates of every interval (default: 1000)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="N", help="seed of the bootstraps (default: 0)"
    )


def _add_outputs(parser: argparse.ArgumentParser) -> None:
    add_format(parser)
    parser.add_argument("--output", metavar="FILE", help="write the report here, not stdout")
    parser.add_argument(
        "--fail-on",
        choices=_FAIL_ON,
        default="high",
        help="least severe level that makes the exit status 1 (default: high)",
    )


def run_report(args: argparse.Namespace) -> int:
    """Run ``pitfalls report`` on parsed arguments and return the exit status.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> from pitfalls.cli import main
    >>> manifest = pd.DataFrame({"pid": [f"p{k}" for k in range(8)],
    ...                          "split": ["train"] * 4 + ["test"] * 4,
    ...                          "y": [0, 1] * 4, "p": [0.2, 0.7, 0.4, 0.9] * 2})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = os.path.join(d, "m.csv")
    ...     manifest.to_csv(path, index=False)
    ...     status = main(["report", path, "--group", "pid", "--split", "split", "--label", "y",
    ...                    "--score", "p", "--n-bootstraps", "20", "--format", "json",
    ...                    "--output", os.path.join(d, "r.json")])
    >>> status
    0
    """
    from ..report import study_report

    _check_paths(args)
    try:
        report = study_report(
            args.manifest,
            group=args.group,
            split=args.split,
            label=args.label,
            site=args.site,
            sample_id=args.id,
            predictions=args.predictions,
            score=args.score,
            prediction=args.prediction,
            threshold=args.threshold,
            subgroups=args.subgroups,
            evaluation_splits=args.evaluation_splits,
            external_splits=args.external_splits,
            image=args.image,
            root=args.root,
            n_bootstraps=args.n_bootstraps,
            random_state=args.seed,
            fail_on=args.fail_on,
        )
    except ManifestError as exc:
        raise ManifestError(_located(str(exc), args)) from exc
    except ValueError as exc:  # any other unusable value: one line, exit 2
        raise UsageError(_located(str(exc), args)) from exc
    fmt = output_format(args)
    _emit(_render(report, fmt), args.output, html=fmt == "html")
    return report.exit_code()


def _located(message: str, args: argparse.Namespace) -> str:
    """The message, led by the file it is about unless it names one already."""
    if args.manifest in message or (args.predictions and args.predictions in message):
        return message
    if args.predictions and "prediction" in message:
        return f"--predictions '{args.predictions}': {message}"
    return f"manifest '{args.manifest}': {message}"


def _render(report: Any, output_format: str) -> str:
    if output_format == "html":
        return str(report.to_html())
    if output_format == "json":
        return str(report.to_json())
    if output_format == "md":
        return str(report.to_markdown())
    return str(report.to_text())


def _check_paths(args: argparse.Namespace) -> None:
    """Refuse unusable paths before any work: a missing input, an output that is an input."""
    if args.root is not None and not Path(args.root).is_dir():
        raise UsageError(f"--root '{args.root}' is not a directory.")
    if args.output is None:
        return
    inputs = [("the manifest", args.manifest), ("the predictions file", args.predictions)]
    for what, path in inputs:
        if path is not None and _same_file(args.output, path):
            raise UsageError(
                f"--output '{args.output}' is {what}; writing there would overwrite an input. "
                "Give another file."
            )
    if args.image is not None and os.path.exists(args.output):
        _refuse_image_output(args)


def _refuse_image_output(args: argparse.Namespace) -> None:
    """An existing --output file that is one of the manifest's images would be destroyed."""
    from .._manifest import read_manifest

    frame = read_manifest(args.manifest, text_columns=[args.image])
    if args.image not in frame.columns:
        return  # study_report names the missing column
    name = Path(args.output).name
    root = Path(args.root) if args.root is not None else Path(args.manifest).parent
    for value in frame[args.image].dropna().astype(str):
        if Path(value).name == name and _same_file(args.output, root / value):
            raise UsageError(
                f"--output '{args.output}' is the input image '{value}'; writing there would "
                "overwrite an input. Give another file."
            )
