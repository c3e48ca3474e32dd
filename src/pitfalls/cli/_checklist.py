"""``pitfalls checklist``: print the paper's guideline (Maleki et al., Table 4)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``checklist`` subcommand to the ``pitfalls`` parser.

    Examples
    --------
    >>> from pitfalls.cli import main
    >>> main(["checklist", "--format", "md"])  # doctest: +ELLIPSIS
    ## Checklist for avoiding methodological pitfalls (Maleki et al., Table 4)
    ...
    0
    """
    parser = subparsers.add_parser(
        "checklist",
        help="print the checklist for avoiding methodological pitfalls",
        description=(
            "Print the paper's checklist (Maleki et al., Table 4) with how to follow each "
            "guideline using pitfalls."
        ),
    )
    parser.add_argument(
        "--format", choices=("text", "md", "json"), default="text", help="output format"
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
    from ..audit import format_checklist

    print(format_checklist(args.format), end="")
    return 0
