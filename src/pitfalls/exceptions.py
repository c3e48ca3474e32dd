"""Exceptions and warnings raised by :mod:`pitfalls`.

Every warning that points at a methodological pitfall is a :class:`PitfallWarning`,
so a study can turn all of them into errors at once::

    import warnings
    from pitfalls.exceptions import PitfallWarning
    warnings.simplefilter("error", PitfallWarning)

Errors are :class:`ValueError` subclasses, so code that already catches
scikit-learn's validation errors keeps working.
"""

from __future__ import annotations

__all__ = [
    "BatchEffectWarning",
    "GroupLeakageError",
    "LeakageError",
    "LeakageWarning",
    "ManifestError",
    "MetricWarning",
    "PitfallWarning",
]


class PitfallWarning(UserWarning):
    """Base class of every warning about a methodological pitfall.

    Examples
    --------
    >>> import warnings
    >>> from pitfalls.exceptions import PitfallWarning, LeakageWarning
    >>> issubclass(LeakageWarning, PitfallWarning)
    True
    """


class LeakageWarning(PitfallWarning):
    """Information from evaluation data may have reached training (broken independence).

    Examples
    --------
    >>> from pitfalls.exceptions import LeakageWarning, PitfallWarning
    >>> issubclass(LeakageWarning, PitfallWarning)
    True
    """


class MetricWarning(PitfallWarning):
    """A reported metric is misleading or undefined (the wrong yardstick).

    Examples
    --------
    >>> from pitfalls.exceptions import MetricWarning, PitfallWarning
    >>> issubclass(MetricWarning, PitfallWarning)
    True
    """


class BatchEffectWarning(PitfallWarning):
    """The data source (site, scanner, population) is confounded with the label.

    Examples
    --------
    >>> from pitfalls.exceptions import BatchEffectWarning, PitfallWarning
    >>> issubclass(BatchEffectWarning, PitfallWarning)
    True
    """


class LeakageError(ValueError):
    """Raised instead of :class:`LeakageWarning` when leakage must stop the run.

    Examples
    --------
    >>> from pitfalls.exceptions import LeakageError
    >>> issubclass(LeakageError, ValueError)
    True
    """


class GroupLeakageError(LeakageError):
    """Samples of one group (patient) sit on both sides of a split.

    Parameters
    ----------
    message : str
        Human-readable description naming the shared groups.
    shared_groups : sequence, optional
        All groups found on more than one side; kept so callers can act on them.

    Examples
    --------
    >>> from pitfalls.exceptions import GroupLeakageError
    >>> err = GroupLeakageError("patient 'p1' is in train and test", shared_groups=["p1"])
    >>> err.shared_groups
    ['p1']
    """

    def __init__(self, message: str, *, shared_groups: object = None) -> None:
        super().__init__(message)
        self.shared_groups = [] if shared_groups is None else list(shared_groups)  # type: ignore[call-overload]


class ManifestError(ValueError):
    """A manifest cannot be used as given (missing file, unknown column, missing ids).

    The message is one line, fit for the command line (``pitfalls audit`` exits 2 on
    it). Also importable as ``pitfalls._manifest.ManifestError`` (the same class).

    Examples
    --------
    >>> from pitfalls.exceptions import ManifestError
    >>> issubclass(ManifestError, ValueError)
    True
    """
