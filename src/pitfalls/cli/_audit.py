"""``pitfalls audit``: audit a manifest and exit 0 (pass), 1 (findings) or 2 (bad input)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._manifest import ManifestError
from ._main import UsageError

__all__ = ["register"]

_FORMATS = ("text", "md", "json", "html")
_FAIL_ON = ("high", "medium", "low", "info", "never")


def register(subparsers: Any) -> None:
    """Add the ``audit`` subcommand to the ``pitfalls`` parser.

    Examples
    --------
    >>> from pitfalls.cli import build_parser
    >>> from pitfalls.cli._audit import output_format
    >>> args = build_parser().parse_args(["audit", "m.csv", "--group", "pid", "--split", "split"])
    >>> args.command, args.group, args.fail_on, output_format(args)
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
    _add_columns(parser)
    _add_outputs(parser)
    _add_image_options(parser)
    parser.set_defaults(func=run_audit)


def _add_columns(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("manifest", metavar="MANIFEST", help="CSV, TSV or Parquet manifest")
    parser.add_argument("--group", required=True, metavar="COL", help="patient (group) id column")
    parser.add_argument("--split", required=True, metavar="COL", help="split column")
    parser.add_argument("--label", metavar="COL", help="class label column")
    parser.add_argument("--site", metavar="COL", help="site / scanner / source column")
    parser.add_argument("--image", metavar="COL", help="image path column")
    parser.add_argument("--root", metavar="DIR", help="directory image paths are relative to")
    parser.add_argument(
        "--id", metavar="COL", help="column naming each row (unique); default: the row number"
    )
    parser.add_argument(
        "--features", nargs="+", metavar="COL", help="columns identifying a sample's features"
    )
    parser.add_argument(
        "--time", metavar="COL", help="acquisition date or time column (test older than train)"
    )
    parser.add_argument("--date", metavar="COL", help=argparse.SUPPRESS)  # old name of --time
    parser.add_argument(
        "--test-split",
        action="append",
        metavar="VALUE",
        dest="test_splits",
        help="split value that is a test set (repeatable; default: recognised by name)",
    )


def _add_outputs(parser: argparse.ArgumentParser) -> None:
    add_format(parser)
    parser.add_argument("--output", metavar="FILE", help="write the report here, not stdout")
    parser.add_argument(
        "--details",
        metavar="FILE.csv",
        help="write every affected row, pair, site or class of every finding to this CSV",
    )
    parser.add_argument(
        "--fail-on",
        choices=_FAIL_ON,
        default="high",
        help="least severe level that makes the exit status 1 (default: high)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="progress bar on stderr while hashing"
    )


_SUFFIX_FORMATS = {".html": "html", ".htm": "html", ".md": "md", ".json": "json"}


def add_format(parser: argparse.ArgumentParser) -> None:
    """Add ``--format``; left out, it follows the ``--output`` name (see output_format)."""
    parser.add_argument(
        "--format",
        choices=_FORMATS,
        default=None,
        help="report format (default: from --output's suffix .html/.md/.json, else text)",
    )


def output_format(args: argparse.Namespace) -> str:
    """``--format`` when given, else the ``--output`` suffix's format, else text.

    Examples
    --------
    >>> import argparse
    >>> from pitfalls.cli._audit import output_format
    >>> output_format(argparse.Namespace(format=None, output="out/report.HTML"))
    'html'
    >>> output_format(argparse.Namespace(format="md", output="report.html"))
    'md'
    >>> output_format(argparse.Namespace(format=None, output=None))
    'text'
    """
    if args.format is not None:
        return str(args.format)
    suffix = Path(args.output).suffix.lower() if args.output else ""
    return _SUFFIX_FORMATS.get(suffix, "text")


def _add_image_options(parser: argparse.ArgumentParser) -> None:
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

    _check_arguments(args)
    try:
        report = audit(
            args.manifest,
            group=args.group,
            split=args.split,
            label=args.label,
            site=args.site,
            image=args.image,
            id=args.id,
            features=args.features,
            root=args.root,
            time=args.time,
            test_splits=args.test_splits,
            near_duplicates=not args.no_near_duplicates,
            near_threshold=args.near_threshold,
            near_detail_threshold=args.near_detail_threshold,
            near_min_correlation=args.near_min_correlation,
            near_orientations=args.near_orientations,
            fail_on=args.fail_on,
            n_jobs=args.n_jobs,
            **({} if args.max_pixels is None else {"max_pixels": args.max_pixels}),
            verbose=args.verbose,
        )
    except ManifestError as exc:
        message = str(exc)
        if args.manifest not in message:
            message = f"manifest '{args.manifest}': {message}"
        raise ManifestError(message) from exc
    except ValueError as exc:  # any other unusable value: one line, exit 2
        raise UsageError(f"manifest '{args.manifest}': {exc}") from exc

    _refuse_inputs(args, report.image_paths or [])
    if args.details is not None:
        _write_file(args.details, report.to_frame().to_csv(index=False), "--details")
    fmt = output_format(args)
    if fmt == "html":
        text = report.to_html()
    elif fmt == "json":
        text = report.to_json()
    elif fmt == "md":
        text = report.to_markdown()
    else:
        text = report.to_text(color=False if args.output else None)
    _emit(text, args.output, html=fmt == "html")
    return 0 if report.passed else 1


def _check_arguments(args: argparse.Namespace) -> None:
    """Refuse unusable paths before any work: a missing root, an output that is an input."""
    if args.date is not None:
        if args.time is not None:
            raise UsageError("--time and --date were both given; use --time only.")
        print("pitfalls audit: warning: --date is deprecated; use --time.", file=sys.stderr)
        args.time = args.date
    if args.root is not None and not Path(args.root).is_dir():
        raise UsageError(f"--root '{args.root}' is not a directory.")
    if args.output and args.details and _same_file(args.output, args.details):
        raise UsageError(
            f"--output '{args.output}' and --details '{args.details}' are the same file; "
            "give two different files."
        )
    _refuse_inputs(args, [])


def _refuse_inputs(args: argparse.Namespace, image_paths: Iterable[str]) -> None:
    """An output file that is the manifest or an image would destroy an input: refuse it."""
    inputs = [args.manifest, *image_paths]
    for flag, value in (("--output", args.output), ("--details", args.details)):
        if value is None:
            continue
        clash = next((path for path in inputs if _same_file(value, path)), None)
        if clash is not None:
            what = "the manifest" if clash == args.manifest else f"the input image '{clash}'"
            raise UsageError(
                f"{flag} '{value}' is {what}; writing there would overwrite an input. "
                "Give another file."
            )


def _same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file (symbolic and hard links included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one does not exist (yet): compare where they resolve
        return Path(a).resolve() == Path(b).resolve()


def _emit(text: str, output: str | None, *, html: bool = False) -> None:
    if output is not None:
        _write_file(output, text, "--output")
        return
    if not text.endswith("\n"):
        text += "\n"
    try:
        try:
            sys.stdout.write(text)
        except UnicodeEncodeError:
            # A terminal or pipe that cannot show every character (PYTHONIOENCODING=ascii):
            # escape them (HTML as character references, so the page stays valid).
            encoding = sys.stdout.encoding or "ascii"
            errors = "xmlcharrefreplace" if html else "backslashreplace"
            sys.stdout.write(text.encode(encoding, errors).decode(encoding))
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader closed the pipe (`pitfalls audit ... | head`): it has what it wanted.
        # Point stdout at devnull so that the interpreter's last flush does not fail too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _write_file(path: str, text: str, flag: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{flag} '{path}': cannot write ({exc.strerror or exc}).") from exc
