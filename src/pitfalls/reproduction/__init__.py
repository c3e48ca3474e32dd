"""Rerun the experiments of Maleki et al. and print the paper's figures beside ours.

Each experiment of the paper is registered by name (:func:`list_experiments`) and
runs on the synthetic cohorts of :mod:`pitfalls.datasets` by default, or on the
real dataset in its public layout with ``data=PATH``. :func:`run` returns an
:class:`ExperimentResult` holding the paper's table beside this run's, the
rank-sum comparison of each leaky model with its correct twin, and the figures;
:func:`write_report` writes them as Markdown and self-contained HTML. The
``pitfalls reproduce`` command and the scripts in ``examples/`` call these same
functions.

=========================  ======================================  ==========
name                       paper                                   needs
=========================  ======================================  ==========
``oversampling``           Table 2, models A and B                 \\-
``augmentation``           Table 2, models C and D                 torch
``patient-split``          Table 2, models E and F                 torch
``feature-selection``      Table 2, models G and H                 \\-
``accuracy``               section (2), the 94% naive model        \\-
``segmentation-baseline``  Table 3 and Figure 3                    \\-
``batch-effect``           model I and Figure 4                    torch
``site-gap``               section (3), an external batch          \\-
=========================  ======================================  ==========

Examples
--------
>>> from pitfalls import reproduction
>>> reproduction.list_experiments()[:2]
['oversampling', 'augmentation']
>>> reproduction.PAPER_TABLE2["B"].f1
(0.14, 0.11)
"""

from ._examples import example_arguments
from ._paper import (
    METRICS,
    PAPER_ACCURACY_EXAMPLE,
    PAPER_BATCH_EFFECT,
    PAPER_RANKSUMS,
    PAPER_TABLE2,
    PAPER_TABLE3,
    PaperRow,
)
from ._registry import EXPERIMENTS, Experiment, get_experiment, list_experiments, run, run_all
from ._report import write_report
from ._result import ExperimentResult, format_mean_sd, format_pvalue
from ._settings import Settings, check_device, resolve_device, resolve_settings
from ._tables import combined_table2

__all__ = [
    "EXPERIMENTS",
    "METRICS",
    "PAPER_ACCURACY_EXAMPLE",
    "PAPER_BATCH_EFFECT",
    "PAPER_RANKSUMS",
    "PAPER_TABLE2",
    "PAPER_TABLE3",
    "Experiment",
    "ExperimentResult",
    "PaperRow",
    "Settings",
    "check_device",
    "combined_table2",
    "example_arguments",
    "format_mean_sd",
    "format_pvalue",
    "get_experiment",
    "list_experiments",
    "resolve_device",
    "resolve_settings",
    "run",
    "run_all",
    "write_report",
]
