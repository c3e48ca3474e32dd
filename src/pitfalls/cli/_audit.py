"""``pitfalls audit``: audit a manifest and exit 0 (pass), 1 (findings) or 2 (bad input)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .._manifest import ManifestError
from ._main import UsageError

__all__ = ["register"]

_FORMATS = ("text", "md", "json", "html")
_FAIL_ON = ("high", "medium", "low", "never")


def register(subparsers: Any) -> None:
    """Add the ``audit`` subcommand to the ``pitfalls`` parser.

    Examples
    --------
    >>> from pitfalls.cli import build_parser
    >>> args = build_parser().parse_args(["audit", "m.csv", "--group", "pid", "--split", "split"])
    >>> args.command, args.group, args.fail_on, args.format
    ('audit', 'pid', 'high', 'text')
    """
    parser = subparsers.add_parser(
        "audit",
        help="audit a manifest for leakage, duplicates, site confounding and class balance",
        description=(
            "Audit a data split (a manifest: one row per sample) for patients in several "
            "splits, duplicate and near-duplicate images or feature rows across splits, "
            "site-label confounding and class imbalance. Exit status: 0 when no finding "
            "reaches --fail-on, 1 when one does, 2 on unusable input."
        ),
    )
    parser.add_argument("manifest", metavar="MANIFEST", help="CSV, TSV or Parquet manifest")
    parser.add_argument("--group", required=True, metavar="COL", help="patient (group) id column")
    parser.add_argument("--split", required=True, metavar="COL", help="split column")
    parser.add_argument("--label", metavar="COL", help="class label column")
    parser.add_argument("--site", metavar="COL", help="site / scanner / source column")
    parser.add_argument("--image", metavar="COL", help="image path column")
    parser.add_argument("--root", metavar="DIR", help="directory image paths are relative to")
    parser.add_argument(
        "--features", nargs="+", metavar="COL", help="columns identifying a sample's features"
    )
    parser.add_argument("--date", metavar="COL", help="acquisition date column")
    parser.add_argument(
        "--test-split",
        action="append",
        metavar="VALUE",
        dest="test_splits",
        help="split value that is a test set (repeatable; default: recognised by name)",
    )
    parser.add_argument("--format", choices=_FORMATS, default="text", help="report format")
    parser.add_argument("--output", metavar="FILE", help="write the report here, not stdout")
    parser.add_argument(
        "--fail-on",
        choices=_FAIL_ON,
        default="high",
        help="least severe level that makes the exit status 1 (default: high)",
    )
    parser.add_argument(
        "--near-threshold",
        type=int,
        default=10,
        metavar="BITS",
        help="coarse hash distance (of 64 bits) for near-duplicate candidates (default: 10)",
    )
    parser.add_argument(
        "--near-detail-threshold",
        type=int,
        default=40,
        metavar="BITS",
        help="detail hash distance (of 256 bits) for near-duplicate candidates (default: 40)",
    )
    parser.add_argument(
        "--near-min-correlation",
        type=float,
        default=0.75,
        metavar="R",
        help="thumbnail fine-detail correlation that confirms a near duplicate (default: 0.75)",
    )
    parser.add_argument(
        "--no-near-duplicates", action="store_true", help="skip the near-duplicate search"
    )
    parser.add_argument(
        "--near-orientations",
        choices=("flip", "all", "none"),
        default="flip",
        help="copies searched: as stored and flipped left-right (flip, default), every "
        "flip and quarter turn (all), as stored only (none)",
    )
    parser.add_argument(
        "--n-jobs",
        type=int,
        default=None,
        metavar="N",
        help="most image hashing workers, at most the CPU count (default: as many as "
        "pay off, from the pace of the first images)",
    )
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=None,
        metavar="N",
        help="largest image decoded, in pixels; a larger one is refused before decoding "
        "(default: 80000000)",
    )
    parser.set_defaults(func=run_audit)


def run_audit(args: argparse.Namespace) -> int:
    """Run ``pitfalls audit`` on parsed arguments and return the exit status.

    Examples
    --------
    >>> import pandas as pd, tempfile, os
    >>> from pitfalls.cli import main
    >>> with tempfile.TemporaryDirectory() as d:
    ...     path = os.path.join(d, "m.csv")
    ...     pd.DataFrame({"pid": ["a", "a"], "split": ["train", "test"]}).to_csv(path, index=False)
    ...     status = main(["audit", path, "--group", "pid", "--split", "split", "--format", "json",
    ...                    "--output", os.path.join(d, "r.json")])
    >>> status
    1
    """
    from ..audit import audit

    if args.root is not None and not Path(args.root).is_dir():
        raise UsageError(f"--root '{args.root}' is not a directory.")
    try:
        report = audit(
            args.manifest,
            group=args.group,
            split=args.split,
            label=args.label,
            site=args.site,
            image=args.image,
            features=args.features,
            root=args.root,
            date=args.date,
            test_splits=args.test_splits,
            near_duplicates=not args.no_near_duplicates,
            near_threshold=args.near_threshold,
            near_detail_threshold=args.near_detail_threshold,
            near_min_correlation=args.near_min_correlation,
            near_orientations=args.near_orientations,
            n_jobs=args.n_jobs,
            **({} if args.max_pixels is None else {"max_pixels": args.max_pixels}),
        )
    except ManifestError as exc:
        message = str(exc)
        if args.manifest not in message:
            message = f"manifest '{args.manifest}': {message}"
        raise ManifestError(message) from exc
    except ValueError as exc:  # any other unusable value: one line, exit 2
        raise UsageError(f"manifest '{args.manifest}': {exc}") from exc

    if args.format == "html":
        page = report.to_html()
        _emit(page, args.output)
    elif args.format == "json":
        _emit(report.to_json(), args.output)
    elif args.format == "md":
        _emit(report.to_markdown(), args.output)
    else:
        _emit(report.to_text(color=False if args.output else None), args.output)
    return 0 if report.passes(args.fail_on) else 1


def _emit(text: str, output: str | None) -> None:
    if output is None:
        print(text, end="" if text.endswith("\n") else "\n")
        return
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--output '{output}': cannot write ({exc.strerror or exc}).") from exc
