"""Helpers every section shares: the bootstrap settings, number formatting, statuses."""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from scipy import stats

from ...audit import Finding
from ...exceptions import MetricWarning

__all__ = [
    "Resampling",
    "ci_text",
    "fmt",
    "number",
    "quiet_metrics",
    "section_status",
    "standard_error",
]

_STATUS_OF_SEVERITY = {"high": "failed", "medium": "attention", "low": "attention", "info": "ok"}
_STATUS_RANK = {"ok": 0, "attention": 1, "failed": 2}


@dataclass(frozen=True)
class Resampling:
    """The bootstrap every metric call of one report uses (same seed for each call)."""

    n_bootstraps: int
    confidence: float
    random_state: Any

    @property
    def percent(self) -> str:
        return f"{100 * self.confidence:g}%"


def number(value: Any) -> float | None:
    """A float for the JSON data, or None when undefined (NaN)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def fmt(value: Any, digits: int = 3) -> str:
    """A number as shown in sentences; "n/a" when undefined."""
    value = number(value)
    return "n/a" if value is None else f"{value:.{digits}f}"


def ci_text(value: Any, low: Any, high: Any, digits: int = 3) -> str:
    """``0.812 [0.790, 0.833]``, or the value alone without an interval."""
    if number(value) is None or number(low) is None or number(high) is None:
        return fmt(value, digits)
    return f"{fmt(value, digits)} [{fmt(low, digits)}, {fmt(high, digits)}]"


def standard_error(low: Any, high: Any, confidence: float) -> float | None:
    """Standard error read from the width of a percentile interval, as if normal.

    The metric functions return intervals, not replicates; for a roughly normal
    bootstrap distribution the interval spans ``2 z`` standard errors.
    """
    low, high = number(low), number(high)
    if low is None or high is None:
        return None
    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    return (high - low) / (2.0 * z)


@contextlib.contextmanager
def quiet_metrics() -> Iterator[None]:
    """Silence MetricWarning: the sections report the summaries' ``warnings`` as text."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        yield


def section_status(findings: Sequence[Finding], default: str = "ok") -> str:
    """failed for a high finding, attention for medium or low, else ``default``."""
    status = default
    for finding in findings:
        candidate = _STATUS_OF_SEVERITY[finding.severity]
        if _STATUS_RANK[candidate] > _STATUS_RANK[status]:
            status = candidate
    return status
