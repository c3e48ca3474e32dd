"""Command-line options shared by the scripts in ``examples/``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

__all__ = ["example_arguments"]


def example_arguments(
    description: str | None = None, argv: Sequence[str] | None = None
) -> argparse.Namespace:
    """Parse the options every example script takes.

    ``--quick`` (default) or ``--full``, ``--device auto|cpu|cuda``, ``--data PATH``
    (the real dataset in its public layout), ``--out DIR`` (write the report there),
    ``--n-repeats N`` and ``--seed N``. Unknown options are ignored, so the scripts
    also run inside sphinx-gallery and notebooks.

    Parameters
    ----------
    description : str, optional
        Shown by ``--help`` (the example's docstring).
    argv : sequence of str, optional
        Arguments to parse; default ``sys.argv[1:]``.

    Returns
    -------
    argparse.Namespace
        With ``quick`` (bool), ``device``, ``data``, ``out``, ``n_repeats``, ``seed``.

    Examples
    --------
    >>> from pitfalls.reproduction import example_arguments
    >>> args = example_arguments(argv=["--full", "--device", "cpu"])
    >>> args.quick, args.device, args.out
    (False, 'cpu', None)
    >>> example_arguments(argv=[]).quick
    True
    """
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="CPU-sized run (default)")
    mode.add_argument("--full", action="store_true", help="the paper's settings")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--data", default=None, metavar="PATH", help="real dataset to use")
    parser.add_argument("--out", default=None, metavar="DIR", help="write the report here")
    parser.add_argument("--n-repeats", type=int, default=None, metavar="N")
    parser.add_argument("--seed", type=int, default=0)
    args, _ = parser.parse_known_args(argv)
    args.quick = not args.full
    return args
