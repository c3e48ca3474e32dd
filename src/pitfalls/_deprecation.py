"""Renamed public names: one helper, one message, scikit-learn's habit.

A public name that changes keeps working for two minor releases under its old
spelling and warns with a :class:`FutureWarning` (the category scikit-learn uses for
deprecations users should act on) that names the new spelling and the release that
removes the old one. The API guide (``docs/guides/api_conventions.rst``) lists every
rename.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = [
    "DEPRECATED_IN",
    "REMOVED_IN",
    "renamed_attribute",
    "renamed_kwargs",
    "translate_renamed",
    "warn_renamed_function",
]

DEPRECATED_IN = "0.1"
REMOVED_IN = "0.3"

_Func = TypeVar("_Func", bound=Callable[..., Any])


def _message(kind: str, old: str, new: str, owner: str) -> str:
    return (
        f"{owner}: the {kind} {old!r} was renamed {new!r} in pitfalls {DEPRECATED_IN}; "
        f"{old!r} will be removed in {REMOVED_IN}. Use {new!r} instead."
    )


def warn_renamed_function(old: str, new: str, *, stacklevel: int = 3) -> None:
    """Warn that function ``old`` was renamed ``new`` (call it first thing in the alias).

    Examples
    --------
    >>> import warnings
    >>> from pitfalls._deprecation import warn_renamed_function
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn_renamed_function("m.old", "m.new")
    >>> print(caught[0].message)
    The function m.old was renamed m.new in pitfalls 0.1; m.old will be removed in 0.3. Use m.new instead.
    """
    message = (
        f"The function {old} was renamed {new} in pitfalls {DEPRECATED_IN}; {old} will be "
        f"removed in {REMOVED_IN}. Use {new} instead."
    )
    warnings.warn(message, FutureWarning, stacklevel=stacklevel)


def translate_renamed(
    params: dict[str, Any], renames: dict[str, str], *, owner: str, stacklevel: int = 3
) -> dict[str, Any]:
    """``params`` with every old keyword of ``renames`` moved to its new name (warns).

    Examples
    --------
    >>> import warnings
    >>> from pitfalls._deprecation import translate_renamed
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     translate_renamed({"batches": [1], "n": 2}, {"batches": "sites"}, owner="f")
    {'n': 2, 'sites': [1]}
    >>> print(caught[0].message)
    f: the parameter 'batches' was renamed 'sites' in pitfalls 0.1; 'batches' will be removed in 0.3. Use 'sites' instead.
    >>> translate_renamed({"batches": 1, "sites": 2}, {"batches": "sites"}, owner="f")
    Traceback (most recent call last):
    ...
    TypeError: f got both 'sites' and its deprecated spelling 'batches'; pass only 'sites'.
    """
    if not any(old in params for old in renames):
        return params
    params = dict(params)
    for old, new in renames.items():
        if old not in params:
            continue
        if new in params:
            raise TypeError(
                f"{owner} got both {new!r} and its deprecated spelling {old!r}; pass only {new!r}."
            )
        warnings.warn(_message("parameter", old, new, owner), FutureWarning, stacklevel=stacklevel)
        params[new] = params.pop(old)
    return params


def renamed_kwargs(**renames: str) -> Callable[[_Func], _Func]:
    """Decorate a function (or ``__init__``/method) to accept old keyword names.

    The signature (what :func:`inspect.signature`, Sphinx and scikit-learn's
    ``get_params`` see) stays the new one; an old keyword is moved to its new name with
    a :class:`FutureWarning`.

    Examples
    --------
    >>> import warnings
    >>> from pitfalls._deprecation import renamed_kwargs
    >>> @renamed_kwargs(batches="sites")
    ... def count(*, sites):
    ...     return len(sites)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", FutureWarning)
    ...     count(batches=[1, 2])
    2
    >>> import inspect
    >>> str(inspect.signature(count))
    '(*, sites)'
    """

    def decorate(func: _Func) -> _Func:
        owner = func.__qualname__.removesuffix(".__init__")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return func(*args, **translate_renamed(kwargs, renames, owner=owner, stacklevel=3))

        return wrapper  # type: ignore[return-value]

    return decorate


def renamed_attribute(old: str, new: str) -> property:
    """A read-only property ``old`` that returns attribute ``new`` with a FutureWarning.

    Examples
    --------
    >>> import warnings
    >>> from pitfalls._deprecation import renamed_attribute
    >>> class Fitted:
    ...     sites_ = [1, 2]
    ...     batches_ = renamed_attribute("batches_", "sites_")
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", FutureWarning)
    ...     Fitted().batches_
    Traceback (most recent call last):
    ...
    FutureWarning: Fitted: the attribute 'batches_' was renamed 'sites_' in pitfalls 0.1; 'batches_' will be removed in 0.3. Use 'sites_' instead.
    """

    def getter(self: Any) -> Any:
        value = getattr(self, new)  # an AttributeError (not fitted) comes before the warning
        warnings.warn(
            _message("attribute", old, new, type(self).__name__), FutureWarning, stacklevel=2
        )
        return value

    return property(getter, doc=f"Deprecated alias of ``{new}`` (removed in {REMOVED_IN}).")
