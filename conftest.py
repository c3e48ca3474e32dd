"""Root pytest configuration: which doctests can run in this environment.

The core test suite also runs in an environment without the extras (``bin/test``'s
floors job): there the doctests of ``pitfalls.torch`` and ``pitfalls.radiomics``, and
any doctest that imports a package of an extra, are skipped instead of failing.
"""

from __future__ import annotations

import ast
import importlib.util

import pytest

collect_ignore = ["src/pitfalls/__main__.py"]  # importing it runs the command line

# Subpackages whose every example needs an extra (pitfalls.torch imports torch at
# module level; pitfalls.radiomics' examples extract features with pyradiomics).
_PACKAGE_NEEDS = {"src/pitfalls/torch": "torch", "src/pitfalls/radiomics": "radiomics"}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


collect_ignore += [path for path, module in _PACKAGE_NEEDS.items() if not _installed(module)]


def _imported_modules(source: str) -> set[str]:
    """Top-level names of the modules a doctest example imports."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        examples = getattr(getattr(item, "dtest", None), "examples", ())
        imported = set().union(*(_imported_modules(e.source) for e in examples))
        missing = sorted(name for name in imported if not _installed(name))
        if missing:
            item.add_marker(pytest.mark.skip(reason=f"doctest imports {', '.join(missing)}"))
