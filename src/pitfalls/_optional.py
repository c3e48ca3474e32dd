"""Import optional heavy dependencies only when a feature needs them.

``import pitfalls`` must stay light (no torch, albumentations, captum, pyradiomics or
SimpleITK); modules that need one call :func:`import_optional`, which turns a missing
package into an :class:`ImportError` naming the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["import_optional"]

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
    ImportError: 'surely_not_installed_pkg' is required but not installed; install it with: pip install surely_not_installed_pkg
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        dist, extra = _EXTRAS.get(name, (name, ""))
        needed_by = f"{feature} needs {name!r}" if feature else f"{name!r} is required"
        how = f'pip install "pitfalls[{extra}]"' if extra else f"pip install {dist}"
        if name == "radiomics":
            how += (
                " (pyradiomics builds only without build isolation: "
                "pip install numpy versioneer && pip install --no-build-isolation pyradiomics)"
            )
        raise ImportError(f"{needed_by} but not installed; install it with: {how}") from exc
