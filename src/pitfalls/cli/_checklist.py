"""``pitfalls checklist``: print the paper's guideline (Maleki et al., Table 4), or the
items of CLAIM 2024 and TRIPOD+AI that a study report can evidence."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]

_GUIDELINES = ("table4", "claim", "tripod-ai", "all")


def register(subparsers: Any) -> None:
    """Add the ``checklist`` subcommand to the ``pitfalls`` parser.

    Examples
    --------
    >>> from pitfalls.cli import main
    >>> main(["checklist", "--format", "md"])  # doctest: +ELLIPSIS
    ## Checklist for avoiding methodological pitfalls (Maleki et al., Table 4)
    ...
    0
    >>> main(["checklist", "--guideline", "tripod-ai"])  # doctest: +ELLIPSIS
    TRIPOD+AI: ...
      23a  performance with CIs, incl. subgroups
    ...
    0
    """
    parser = subparsers.add_parser(
        "checklist",
        help="print the checklist for avoiding methodological pitfalls",
        description=(
            "Print the paper's checklist (Maleki et al., Table 4) with how to follow each "
            "guideline using pitfalls; with --guideline claim, tripod-ai or all, list the "
            "items of CLAIM 2024 and TRIPOD+AI with their numbers and what the study "
            "report (pitfalls report) can evidence for each."
        ),
    )
    parser.add_argument(
        "--format", choices=("text", "md", "json"), default="text", help="output format"
    )
    parser.add_argument(
        "--guideline",
        choices=_GUIDELINES,
        default="table4",
        help="which guideline to list (default: table4, the paper's checklist)",
    )
    parser.set_defaults(func=run_checklist)


def run_checklist(args: argparse.Namespace) -> int:
    """Print the checklist in the requested format and return 0.

    Examples
    --------
    >>> import argparse
    >>> from pitfalls.cli._checklist import run_checklist
    >>> run_checklist(argparse.Namespace(format="text"))  # doctest: +ELLIPSIS
    Checklist for avoiding methodological pitfalls (Maleki et al., Table 4)
    ...
    0
    """
    guideline = getattr(args, "guideline", "table4")
    if guideline == "table4":
        from ..audit import format_checklist

        print(format_checklist(args.format), end="")
    else:
        from ..report import format_guideline

        print(format_guideline(guideline, args.format), end="")
    return 0
