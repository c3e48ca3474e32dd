"""Import optional heavy dependencies only when a feature needs them.

``import pitfalls`` must stay light (no torch, albumentations, captum, pyradiomics or
SimpleITK); modules that need one call :func:`import_optional`, which turns a missing
package into an :class:`ImportError` naming the extra to install. Code that must know
in advance whether an extra is there (``pitfalls reproduce`` skipping the deep-learning
experiments on a core install) asks :func:`missing_modules`, which imports nothing.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

__all__ = ["RADIOMICS_INSTALL", "import_optional", "install_hint", "missing_modules"]

# import name -> (pip distribution, pitfalls extra that brings it)
_EXTRAS: dict[str, tuple[str, str]] = {
    "torch": ("torch", "torch"),
    "torchvision": ("torchvision", "torch"),
    "albumentations": ("albumentations", "torch"),
    "captum": ("captum", "torch"),
    "radiomics": ("pyradiomics", "radiomics"),
    "SimpleITK": ("SimpleITK", "radiomics"),
    "pyarrow": ("pyarrow", "io"),
    "pydicom": ("pydicom", "io"),
    "nibabel": ("nibabel", "io"),
    "nrrd": ("pynrrd", "io"),
    "tifffile": ("tifffile", "io"),
}

#: The install that works for the radiomics extra (checked on Python 3.10 and 3.11 with
#: pip 23.2 and 26.3). pyradiomics publishes no wheels; its 3.0.1 sdist imports numpy
#: and versioneer in setup.py, so it builds only without build isolation, with those
#: (and setuptools, wheel) installed first; it uses ``configparser.SafeConfigParser``,
#: gone in Python 3.12, and the 3.1.0 sdist lacks a C header, so Python 3.12 has no
#: pip route. README.md and docs/install.rst show the same commands (a test checks).
RADIOMICS_INSTALL = (
    "pip install numpy versioneer setuptools wheel",
    "pip install --no-build-isolation pyradiomics",
)


def install_hint(extra: str) -> str:
    """The command line that installs a pitfalls extra.

    Parameters
    ----------
    extra : str
        ``"torch"``, ``"radiomics"`` or ``"io"``.

    Returns
    -------
    str

    Examples
    --------
    >>> from pitfalls._optional import install_hint
    >>> install_hint("torch")
    'pip install "pitfalls[torch]"'
    >>> print(install_hint("radiomics"))  # doctest: +NORMALIZE_WHITESPACE
    pip install numpy versioneer setuptools wheel && pip install --no-build-isolation
    pyradiomics && pip install "pitfalls[radiomics]" (Python <= 3.11: pyradiomics has no
    wheels and its source builds only this way)
    """
    command = f'pip install "pitfalls[{extra}]"'
    if extra != "radiomics":
        return command
    return (
        " && ".join([*RADIOMICS_INSTALL, command])
        + " (Python <= 3.11: pyradiomics has no wheels and its source builds only this way)"
    )


def _installed(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package missing, or a broken __spec__
        return False


def missing_modules(extra: str) -> list[str]:
    """Import names of the packages of a pitfalls extra that are not installed.

    Nothing is imported (``importlib.util.find_spec`` only), so asking is cheap even
    for torch.

    Parameters
    ----------
    extra : str
        ``"torch"``, ``"radiomics"`` or ``"io"``.

    Returns
    -------
    list of str
        Empty when the whole extra is installed.

    Examples
    --------
    >>> from pitfalls._optional import missing_modules
    >>> missing_modules("nope")
    Traceback (most recent call last):
    ...
    ValueError: extra='nope' is not one of 'io', 'radiomics', 'torch'; use one of those.
    """
    modules = [name for name, (_, owner) in _EXTRAS.items() if owner == extra]
    if not modules:
        known = ", ".join(repr(e) for e in sorted({owner for _, owner in _EXTRAS.values()}))
        raise ValueError(f"extra={extra!r} is not one of {known}; use one of those.")
    return [name for name in modules if not _installed(name)]


def import_optional(name: str, *, feature: str | None = None) -> ModuleType:
    """Import an optional dependency or raise an ``ImportError`` that says how to get it.

    Parameters
    ----------
    name : str
        Importable module name, e.g. ``"torch"`` or ``"radiomics"``.
    feature : str, optional
        What the caller was doing, added to the message ("extract_features needs ...").

    Returns
    -------
    module
        The imported module.

    Examples
    --------
    >>> from pitfalls._optional import import_optional
    >>> import_optional("json").__name__
    'json'
    >>> import_optional("surely_not_installed_pkg")
    Traceback (most recent call last):
    ...
    ImportError: 'surely_not_installed_pkg' is required but it is not installed; install it with: pip install surely_not_installed_pkg
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        dist, extra = _EXTRAS.get(name, (name, ""))
        needed_by = f"{feature} needs {name!r}" if feature else f"{name!r} is required"
        if dist != name:
            needed_by += f" (the {dist} package)"
        how = install_hint(extra) if extra else f"pip install {dist}"
        raise ImportError(f"{needed_by} but it is not installed; install it with: {how}") from exc
