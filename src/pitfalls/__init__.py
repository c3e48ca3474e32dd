"""pitfalls: keep machine-learning research on medical images honest.

Prevent, detect and measure the three families of methodological error studied in
Maleki et al., *Generalizability of Machine Learning Models: Quantitative Evaluation
of Three Methodological Pitfalls*: broken independence (leakage), the wrong
yardstick, and batch effects.

Submodules are imported on first attribute access, so ``import pitfalls`` stays
light and never imports torch, albumentations, captum, pyradiomics or SimpleITK.

Examples
--------
>>> import pitfalls
>>> isinstance(pitfalls.__version__, str)
True
>>> pitfalls.model_selection.__name__
'pitfalls.model_selection'
"""

from __future__ import annotations

import importlib
from typing import Any

from . import exceptions
from ._version import __version__

__all__ = [
    "__version__",
    "audit",
    "baselines",
    "batch_effects",
    "datasets",
    "exceptions",
    "experiments",
    "metrics",
    "model_selection",
    "pipeline",
    "radiomics",
    "report",
    "reproduction",
    "torch",
]

_LAZY_SUBMODULES = frozenset(__all__) - {"__version__", "exceptions"}


def __getattr__(name: str) -> Any:
    # PEP 562: import heavy submodules (torch, radiomics) only when asked for.
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY_SUBMODULES)
