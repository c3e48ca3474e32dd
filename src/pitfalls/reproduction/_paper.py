"""The figures the paper reports, so every run can print them beside its own.

Values are transcribed from Maleki et al., *Generalizability of Machine Learning
Models: Quantitative Evaluation of Three Methodological Pitfalls* (Radiology: AI):
Table 2 (models A-H), the accuracy example of section (2), Table 3 and the model I
results of section (3). A ``sd`` of ``None`` means the paper reports a single trained
model (no repeats).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "METRICS",
    "PAPER_ACCURACY_EXAMPLE",
    "PAPER_BATCH_EFFECT",
    "PAPER_RANKSUMS",
    "PAPER_TABLE2",
    "PAPER_TABLE3",
    "PaperRow",
]

#: Metric columns of Table 2, in the paper's order.
METRICS: tuple[str, ...] = ("accuracy", "precision", "recall", "f1")


@dataclass(frozen=True)
class PaperRow:
    """One model row of the paper's Table 2.

    Examples
    --------
    >>> from pitfalls.reproduction import PAPER_TABLE2
    >>> PAPER_TABLE2["A"].f1
    (0.85, 0.05)
    """

    model: str
    algorithm: str
    approach: str
    accuracy: tuple[float, float | None]
    precision: tuple[float, float | None]
    recall: tuple[float, float | None]
    f1: tuple[float, float | None]

    def metric(self, name: str) -> tuple[float, float | None]:
        """Mean and sd (``None`` for a single model) of one metric.

        Examples
        --------
        >>> from pitfalls.reproduction import PAPER_TABLE2
        >>> PAPER_TABLE2["C"].metric("recall")
        (0.999, None)
        """
        value: tuple[float, float | None] = getattr(self, name)
        return value


def _single(value: float) -> tuple[float, None]:
    return (value, None)


PAPER_TABLE2: dict[str, PaperRow] = {
    "A": PaperRow(
        "A", "Random forest", "Incorrect oversampling",
        (0.85, 0.05), (0.82, 0.07), (0.89, 0.07), (0.85, 0.05),
    ),
    "B": PaperRow(
        "B", "Random forest", "Correct oversampling",
        (0.72, 0.06), (0.16, 0.17), (0.15, 0.14), (0.14, 0.11),
    ),
    "C": PaperRow(
        "C", "ResNet-50", "Incorrect data augmentation",
        _single(0.999), _single(0.999), _single(0.999), _single(0.999),
    ),
    "D": PaperRow(
        "D", "ResNet-50", "Correct data augmentation",
        _single(0.659), _single(0.530), _single(0.548), _single(0.539),
    ),
    "E": PaperRow(
        "E", "ResNet-50", "Incorrect distributing data points of patients",
        _single(0.788), _single(0.799), _single(0.719), _single(0.757),
    ),
    "F": PaperRow(
        "F", "ResNet-50", "Correct distributing data points of patients",
        _single(0.659), _single(0.530), _single(0.548), _single(0.539),
    ),
    "G": PaperRow(
        "G", "Random forest", "Incorrect feature selection",
        (0.72, 0.07), (0.80, 0.06), (0.81, 0.08), (0.80, 0.05),
    ),
    "H": PaperRow(
        "H", "Random forest", "Correct feature selection",
        (0.64, 0.07), (0.76, 0.06), (0.76, 0.06), (0.75, 0.05),
    ),
}  # fmt: skip

#: Wilcoxon rank-sum results of the paper, keyed by (leaky, correct) model. The paper's
#: statistic is negative when the leaky model scores higher, i.e. it is
#: ``scipy.stats.ranksums(correct_f1, leaky_f1)``; only "p < 0.001" is given.
PAPER_RANKSUMS: dict[tuple[str, str], tuple[float, str]] = {
    ("A", "B"): (-12.22, "<0.001"),
    ("G", "H"): (-5.87, "<0.001"),
}

#: Section (2): a model calling every HNSCC patient "no distant metastasis"
#: (8 of 137 patients have one) is 94% accurate with a recall of zero.
PAPER_ACCURACY_EXAMPLE: dict[str, float] = {
    "n_patients": 137,
    "n_positive": 8,
    "accuracy": 0.94,
    "recall": 0.0,
}

#: Table 3: air-in-body baseline against manual lung contours (LCTSC 2017).
PAPER_TABLE3: dict[str, dict[str, float]] = {
    "Dice": {"mean": 0.92, "min": 0.84, "max": 0.97, "sd": 0.02},
    "IoU": {"mean": 0.86, "min": 0.72, "max": 0.94, "sd": 0.04},
}

#: Model I: internal test on the confounded Batch X-Ray set, then external normals.
PAPER_BATCH_EFFECT: dict[str, float] = {
    "accuracy": 0.997,
    "precision": 0.979,
    "recall": 0.995,
    "f1": 0.987,
    "external_correct_fraction": 0.0386,
}
