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


def _validate(args: argparse.Namespace) -> tuple[list[str], dict[str, str], Path]:
    """Experiment names, --data paths by experiment and the output directory, checked."""
    from pitfalls.reproduction import get_experiment, list_experiments

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
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out={args.out!r} exists and is not a directory; pass a directory.")
    return names, data, out


def _plan(args: argparse.Namespace, names: list[str]) -> tuple[list[str], dict[str, str]]:
    """The experiments that can run here, and why each of the others cannot.

    An experiment whose extra is missing is skipped up front with one line naming the
    extra, rather than stopping the run when it is reached (after the others' minutes).
    """
    from pitfalls.reproduction import check_device, get_experiment

    reasons = {name: get_experiment(name).missing_extra() for name in names}
    skipped = {name: why for name, why in reasons.items() if why is not None}
    runnable = [name for name in names if name not in skipped]
    if not runnable:
        raise UsageError(
            "nothing to run: " + "; ".join(f"{name} {why}" for name, why in skipped.items())
        )
    for name, why in skipped.items():
        print(f"pitfalls reproduce: skipping {name}: {why}", file=sys.stderr)
    if args.device == "cuda" and any(get_experiment(n).needs_torch for n in runnable):
        try:
            check_device("cuda")  # fail before hours of radiomics, not after
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    return runnable, skipped


def _run_one(args: argparse.Namespace, name: str, data: str | None) -> Any:
    from pitfalls.reproduction import run

    try:
        return run(
            name,
            quick=not args.full,
            device=args.device,
            n_repeats=args.n_repeats,
            data=data,
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


def _render(results: list[Any], written: dict[str, Path], start: float) -> int:
    """Print Table 2 at a glance and where the report is; the exit status."""
    from pitfalls.reproduction import combined_table2

    table2 = combined_table2(results)
    if table2 is not None and len(results) > 1:
        print()
        print("Table 2 at a glance (models A-H): the paper's figures beside this run's")
        print()
        print(table2.to_string(index=False))
    print()
    print(f"report: {written['markdown']} and {written['html']}")
    studies = sorted(
        path for key, path in written.items() if key.startswith("study:") and path.suffix == ".html"
    )
    if studies:
        print(f"study reports of the correct models: {studies[0].parent}/ ({len(studies)})")
    print(f"total: {time.perf_counter() - start:.1f} s")
    failed = [r.name for r in results if not r.leaky_beats_correct]
    if failed:
        print(
            "pitfalls reproduce: a leaky model did not beat its correct twin in: "
            + ", ".join(failed),
            file=sys.stderr,
        )
        return 1
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from pitfalls.reproduction import write_report

    if args.list:
        return _list(sys.stdout)
    names, data, out = _validate(args)
    runnable, skipped = _plan(args, names)
    mode = "full" if args.full else "quick"
    note = f" ({len(skipped)} skipped)" if skipped else ""
    print(
        f"pitfalls reproduce: {len(runnable)} experiment(s){note}, {mode} mode, "
        f"device={args.device}"
    )
    start = time.perf_counter()
    results = []
    for name in runnable:
        result = _run_one(args, name, data.get(name))
        print()
        print(result.to_text(), flush=True)
        results.append(result)
    written = write_report(results, out, skipped=skipped)
    _close_figures(results)
    return _render(results, written, start)


def _close_figures(results: list[Any]) -> None:
    # The command line is done with the figures once they are written; free them.
    if not any(r.figures for r in results):
        return
    import matplotlib.pyplot as plt

    for result in results:
        for figure in result.figures.values():
            plt.close(figure)
