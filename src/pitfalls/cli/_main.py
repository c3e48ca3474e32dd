"""Parser assembly and the error policy of the ``pitfalls`` command."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .._version import __version__
from ..exceptions import ManifestError

__all__ = ["UsageError", "build_parser", "main"]

# Subcommand modules, in the order ``pitfalls --help`` lists them. A module that is
# not there yet (its feature has not landed) is skipped rather than breaking the CLI.
_SUBCOMMAND_MODULES = ("_audit", "_report", "_reproduce", "_checklist")


class UsageError(ValueError):
    """Unusable input on the command line: printed as one line, exit status 2.

    Examples
    --------
    >>> from pitfalls.cli import UsageError
    >>> str(UsageError("--fail-on='bad' is not one of high, medium, low, never."))
    "--fail-on='bad' is not one of high, medium, low, never."
    """


class _Parser(argparse.ArgumentParser):
    # argparse prints the whole usage block on errors; keep it to one line as
    # promised, with the hint where to look.
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """Build the ``pitfalls`` argument parser with every available subcommand.

    Examples
    --------
    >>> from pitfalls.cli import build_parser
    >>> build_parser().prog
    'pitfalls'
    """
    parser = _Parser(
        prog="pitfalls",
        description=(
            "Detect and measure methodological pitfalls in medical-imaging machine "
            "learning: leakage, the wrong yardstick, batch effects."
        ),
    )
    parser.add_argument("--version", action="version", version=f"pitfalls {__version__}")
    subparsers = parser.add_subparsers(
        title="commands", dest="command", metavar="COMMAND", parser_class=_Parser
    )
    for module_name in _SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__package__}.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{module_name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pitfalls`` command and return its exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, 1 when a check fails (e.g. ``audit --fail-on``), 2 on
        unusable input.

    Examples
    --------
    >>> from pitfalls.cli import main
    >>> main([])  # doctest: +ELLIPSIS
    usage: pitfalls ...
    0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stdout)
        return 0
    try:
        return int(args.func(args))
    except (UsageError, ManifestError, FileNotFoundError) as exc:
        print(f"pitfalls {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pitfalls {args.command}: interrupted", file=sys.stderr)
        return 130


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return " ".join(text.split())
