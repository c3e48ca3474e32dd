"""The ``pitfalls`` command line: ``audit``, ``report``, ``reproduce``, ``checklist``.

Each subcommand lives in its own private module exposing ``register(subparsers)``,
which adds its parser and sets ``func`` (a callable taking the parsed namespace and
returning the exit code). Errors a user can fix end the program with exit status 2
and one line on stderr, never a traceback.
"""

from __future__ import annotations

from ._main import UsageError, build_parser, main

__all__ = ["UsageError", "build_parser", "main"]
