"""``pitfalls reproduce``: rerun the paper's experiments and print its figures beside ours."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from ._main import UsageError

__all__ = ["register"]

_DESCRIPTION = (
    "Rerun the experiments of Maleki et al. (Table 2 models A-H, the accuracy example, "
    "Table 3, model I) on the embedded synthetic data, print the paper's figure beside "
    "this run's and write a Markdown and HTML report. Exit status: 0 when every leaky "
    "model beats its correct twin, 1 when one does not, 2 on unusable options."
)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def _data_item(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"{text!r} is not EXPERIMENT=PATH")
    return name, path


def register(subparsers: Any) -> None:
    """Add the ``reproduce`` subcommand to the ``pitfalls`` parser.

    Examples
    --------
    >>> from pitfalls.cli import build_parser
    >>> args = build_parser().parse_args(["reproduce", "accuracy", "--n-repeats", "2"])
    >>> args.experiments, args.n_repeats, args.full
    (['accuracy'], 2, False)
    """
    parser = subparsers.add_parser(
        "reproduce",
        help="rerun the paper's experiments and compare with its tables",
        description=_DESCRIPTION,
    )
    parser.add_argument(
        "experiments",
        nargs="*",
        metavar="EXPERIMENT",
        help="experiments to run (default: all); see --list",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick",
        action="store_true",
        help="CPU-sized run (the default): fewer repeats and trees, a small CNN",
    )
    mode.add_argument(
        "--full",
        action="store_true",
        help="the paper's settings: 100 repeats, 1000 trees, nested CV, ResNet-50 100 epochs",
    )
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where deep-learning models train (default: auto = cuda when available)",
    )
    parser.add_argument(
        "--out",
        default="pitfalls-out",
        metavar="DIR",
        help="directory for report.md, report.html, figures and scores.csv (default: pitfalls-out)",
    )
    parser.add_argument(
        "--n-repeats", type=_positive_int, metavar="N", help="override the number of repeats"
    )
    parser.add_argument(
        "--data",
        type=_data_item,
        action="append",
        default=[],
        metavar="EXPERIMENT=PATH",
        help="use the real dataset for one experiment (repeatable); see --list for layouts",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--n-jobs", type=int, default=None, metavar="N", help="parallel jobs over repeats"
    )
    parser.add_argument(
        "--list", action="store_true", help="list the experiments and their data layouts, then exit"
    )
    parser.add_argument("--verbose", action="store_true", help="show progress bars")
    parser.set_defaults(func=_reproduce)


def _list(stream: Any) -> int:
    from pitfalls.reproduction import EXPERIMENTS

    for experiment in EXPERIMENTS.values():
        torch_note = " [needs pitfalls[torch]]" if experiment.needs_torch else ""
        print(f"{experiment.name:22s} {experiment.reference}{torch_note}", file=stream)
        print(f"{'':22s} {experiment.title}", file=stream)
        print(f"{'':22s} --data {experiment.name}=PATH: {experiment.data_help}", file=stream)
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from pitfalls.reproduction import (
        check_device,
        combined_table2,
        get_experiment,
        list_experiments,
        run,
        write_report,
    )

    if args.list:
        return _list(sys.stdout)
    names = list(dict.fromkeys(args.experiments)) or list_experiments()
    data = dict(args.data)
    try:
        for name in [*names, *data]:
            get_experiment(name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    unused = sorted(set(data) - set(names))
    if unused:
        raise UsageError(
            f"--data {unused[0]}=... names an experiment that is not run; add {unused[0]!r} "
            "to the experiments or drop the option."
        )
    if args.device == "cuda" and any(get_experiment(n).needs_torch for n in names):
        try:
            check_device("cuda")  # fail before hours of radiomics, not after
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out={args.out!r} exists and is not a directory; pass a directory.")
    mode = "full" if args.full else "quick"
    print(f"pitfalls reproduce: {len(names)} experiment(s), {mode} mode, device={args.device}")
    start = time.perf_counter()
    results = []
    for name in names:
        try:
            result = run(
                name,
                quick=not args.full,
                device=args.device,
                n_repeats=args.n_repeats,
                data=data.get(name),
                random_state=args.seed,
                n_jobs=args.n_jobs,
                verbose=args.verbose,
            )
        except ImportError as exc:
            raise UsageError(f"experiment {name!r}: {exc}") from None
        except ValueError as exc:
            if "device=" in str(exc) or "data=" in str(exc):
                raise UsageError(str(exc)) from None
            raise
        print()
        print(result.to_text(), flush=True)
        results.append(result)
    written = write_report(results, out)
    _close_figures(results)
    failed = [r.name for r in results if not r.leaky_beats_correct]
    table2 = combined_table2(results)
    if table2 is not None and len(results) > 1:
        print()
        print("Table 2 at a glance (models A-H): the paper's figures beside this run's")
        print()
        print(table2.to_string(index=False))
    print()
    print(f"report: {written['markdown']} and {written['html']}")
    print(f"total: {time.perf_counter() - start:.1f} s")
    if failed:
        print(
            "pitfalls reproduce: a leaky model did not beat its correct twin in: "
            + ", ".join(failed),
            file=sys.stderr,
        )
        return 1
    return 0


def _close_figures(results: list[Any]) -> None:
    # The command line is done with the figures once they are written; free them.
    if not any(r.figures for r in results):
        return
    import matplotlib.pyplot as plt

    for result in results:
        for figure in result.figures.values():
            plt.close(figure)
