"""Rules the whole package keeps, checked on its source (issue 12).

* scikit-learn's and imbalanced-learn's private names (a leading underscore) are used
  only in ``pitfalls/_compat.py``, which says on which versions each was checked:
  no private module or name is imported elsewhere, no private attribute of theirs is
  read elsewhere (on one of their modules or classes, on an estimator, or inherited by
  a subclass of theirs), and a subclass overrides a private hook of theirs only when
  ``_compat.OVERRIDDEN_HOOKS`` lists it; no object's ``__class__`` is swapped
  (monkeypatching);
* no function is longer than 80 lines of code (docstrings, comments and blank lines
  not counted).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import tokenize
import types
from pathlib import Path
from typing import Any

import pytest

import pitfalls
from pitfalls import _compat

SRC = Path(pitfalls.__file__).resolve().parent
COMPAT = SRC / "_compat.py"
THIRD_PARTY = ("sklearn", "imblearn")
MAX_CODE_LINES = 80


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _relative(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _is_third_party(module: str | None) -> bool:
    return module is not None and module.split(".")[0] in THIRD_PARTY


def _module_name(path: Path) -> str:
    parts = ["pitfalls", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


# ------------------------------------------------------------ private names: the checks


def _private_imports(tree: ast.AST) -> tuple[list[tuple[int, str]], set[str]]:
    """Private third-party modules and names imported, and every name bound to theirs."""
    found: list[tuple[int, str]] = []
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_third_party(alias.name):
                    if any(_is_private(part) for part in alias.name.split(".")):
                        found.append((node.lineno, f"import {alias.name}"))
                    bound.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _is_third_party(node.module):
            assert node.module is not None
            for alias in node.names:
                if any(_is_private(part) for part in node.module.split(".")) or _is_private(
                    alias.name
                ):
                    found.append((node.lineno, f"from {node.module} import {alias.name}"))
                bound.add(alias.asname or alias.name)
    return found, bound


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _attribute_reads(tree: ast.AST) -> list[tuple[int, ast.expr, str]]:
    """(line, object, name) for every ``obj._name`` and ``getattr(obj, "_name", ...)``."""
    reads: list[tuple[int, ast.expr, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _is_private(node.attr):
            reads.append((node.lineno, node.value, node.attr))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr", "setattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and _is_private(node.args[1].value)
        ):
            reads.append((node.lineno, node.args[0], node.args[1].value))
    return reads


def _third_party_private_names() -> set[str]:
    """Every private attribute name of a scikit-learn / imbalanced-learn estimator class."""
    from imblearn.utils.testing import all_estimators as imblearn_estimators
    from sklearn.utils import all_estimators as sklearn_estimators

    names: set[str] = set()
    for _, estimator in [*sklearn_estimators(), *imblearn_estimators()]:
        for klass in estimator.__mro__:
            if _is_third_party(klass.__module__):
                names.update(name for name in vars(klass) if _is_private(name))
    return names


def _is_self(node: ast.expr) -> bool:
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


def _classes(tree: ast.Module) -> list[ast.ClassDef]:
    return [node for node in tree.body if isinstance(node, ast.ClassDef)]


def _owner_of(klass: type, name: str, *, after: type | None = None) -> type | None:
    """The class in ``klass``'s MRO (past ``after``) whose body defines ``name``."""
    mro = list(klass.__mro__)
    if after is not None:
        mro = mro[mro.index(after) + 1 :]
    return next((k for k in mro if name in vars(k)), None)


def _inherited_private_uses(tree: ast.Module, module: Any) -> list[tuple[int, str]]:
    """``self._name`` / ``super()._name`` resolving to a scikit-learn / imblearn class."""
    found = []
    for class_node in _classes(tree):
        klass = getattr(module, class_node.name, None)
        if not inspect.isclass(klass):
            continue
        for line, obj, name in _attribute_reads(class_node):
            if not _is_self(obj):
                continue
            after = klass if isinstance(obj, ast.Call) else None
            owner = _owner_of(klass, name, after=after)
            if owner is not None and _is_third_party(owner.__module__):
                found.append((line, f"{class_node.name} uses {owner.__name__}.{name}"))
    return found


def _defined_in_body(class_node: ast.ClassDef) -> set[str]:
    """Names a class statement itself defines (not those abc or a base class set on it)."""
    names: set[str] = set()
    for node in class_node.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


def _overridden_hooks(tree: ast.Module, module: Any) -> list[tuple[int, str]]:
    """Private hooks of a scikit-learn / imblearn base class that a class here overrides."""
    found = []
    for class_node in _classes(tree):
        klass = getattr(module, class_node.name, None)
        if not inspect.isclass(klass):
            continue
        for name in _defined_in_body(class_node):
            if not _is_private(name):
                continue
            owner = _owner_of(klass, name, after=klass)
            if owner is not None and _is_third_party(owner.__module__):
                hook = f"{owner.__name__}.{name}"
                if hook not in _compat.OVERRIDDEN_HOOKS:
                    found.append((class_node.lineno, f"{class_node.name} overrides {hook}"))
    return found


def private_uses_in(source: str, module: Any, third_party_names: set[str]) -> list[tuple[int, str]]:
    """(line, what) for every use of a scikit-learn / imblearn private name in ``source``.

    ``module`` is the imported module (for what its classes inherit), or None.
    """
    tree = ast.parse(source)
    found, bound = _private_imports(tree)
    for line, obj, name in _attribute_reads(tree):
        if _root_name(obj) in bound:
            found.append((line, f"{ast.unparse(obj)}.{name}"))
        elif not _is_self(obj) and name in third_party_names:
            found.append((line, f"{ast.unparse(obj)}.{name} (a private name of theirs)"))
    for node in ast.walk(tree):  # swapping an object's class is monkeypatching
        targets = node.targets if isinstance(node, ast.Assign) else []
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr == "__class__":
                found.append((node.lineno, f"{ast.unparse(target)} = ... (class swap)"))
    if module is not None:
        found += _inherited_private_uses(tree, module)
        found += _overridden_hooks(tree, module)
    return sorted(set(found))


def _import(path: Path) -> Any:
    if path.name == "__main__.py":  # importing it runs the command line
        return None
    try:
        return importlib.import_module(_module_name(path))
    except ImportError:  # an optional extra is missing: the source checks still run
        return None


@pytest.fixture(scope="module")
def third_party_names() -> set[str]:
    return _third_party_private_names()


OFFENDING = """\
import sklearn.utils._indexing
from sklearn.utils import _safe_indexing, check_array
from sklearn.model_selection._split import BaseCrossValidator
from imblearn import pipeline as imb
from imblearn.pipeline import Pipeline
from sklearn.ensemble import RandomForestClassifier
fit_one = imb._fit_resample_one


def kind(step, forest, tree):
    forest._make_estimator = None
    tree.__class__ = object
    return getattr(step, "_sampling_type", None)


class Piped(Pipeline):
    def _fit(self, X, y=None, routed_params=None, raw_params=None):
        return list(self._iter())


class Forest(RandomForestClassifier):
    def _make_estimator(self, append=True, random_state=None):
        return super()._make_estimator(append, random_state)
"""


def test_the_private_name_check_finds_each_kind_of_use(third_party_names):
    module = types.ModuleType("offending")
    exec(compile(OFFENDING, "offending", "exec"), module.__dict__)
    found = private_uses_in(OFFENDING, module, third_party_names)
    assert found == [
        (1, "import sklearn.utils._indexing"),
        (2, "from sklearn.utils import _safe_indexing"),
        (3, "from sklearn.model_selection._split import BaseCrossValidator"),
        (7, "imb._fit_resample_one"),
        (11, "forest._make_estimator (a private name of theirs)"),
        (12, "tree.__class__ = ... (class swap)"),
        (13, "step._sampling_type (a private name of theirs)"),
        (18, "Piped uses Pipeline._iter"),
        (21, "Forest overrides BaseEnsemble._make_estimator"),
        (23, "Forest uses BaseEnsemble._make_estimator"),
    ]  # Piped._fit overrides a hook _compat.OVERRIDDEN_HOOKS lists: allowed


def test_compat_names_the_versions_it_was_checked_on():
    source = COMPAT.read_text(encoding="utf-8")
    assert "scikit-learn 1.9.1" in source and "imbalanced-learn 0.14.2" in source
    for hook, note in _compat.OVERRIDDEN_HOOKS.items():
        assert "checked on" in note, hook


def test_private_names_of_sklearn_and_imblearn_only_in_compat(third_party_names):
    offenders = [
        f"{_relative(path)}:{line}: {what}"
        for path in _modules()
        if path != COMPAT
        for line, what in private_uses_in(
            path.read_text(encoding="utf-8"), _import(path), third_party_names
        )
    ]
    assert not offenders, (
        "private scikit-learn / imbalanced-learn names outside pitfalls/_compat.py "
        "(add them there, with the versions checked, or use public API):\n" + "\n".join(offenders)
    )


# ------------------------------------------------------------------- function size


def _code_lines(source: str, tree: ast.Module) -> set[int]:
    """Lines holding code: not blank, not only a comment, not part of a docstring."""
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in (
            tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
            tokenize.DEDENT, tokenize.ENDMARKER,
        ):  # fmt: skip
            lines.update(range(token.start[0], token.end[0] + 1))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                lines.difference_update(range(body[0].lineno, (body[0].end_lineno or 0) + 1))
    return lines


def function_sizes(path: Path) -> dict[str, int]:
    """Code lines of every function and method in a module, by qualified name."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    code = _code_lines(source, tree)
    sizes: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = f"{prefix}{child.name}"
                span = range(child.lineno, (child.end_lineno or child.lineno) + 1)
                sizes[name] = len(code.intersection(span))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return sizes


def test_function_sizes_are_counted_in_code_lines(tmp_path):
    module = tmp_path / "example.py"
    module.write_text(
        'def f(a):\n    """Doc.\n\n    More doc.\n    """\n    # a comment\n\n'
        "    b = (a +\n         1)\n    return b\n\n\n"
        "class C:\n    def g(self):\n        def inner():\n            return 1\n"
        "        return inner()\n",
        encoding="utf-8",
    )
    assert function_sizes(module) == {"f": 4, "C.g": 4, "C.g.inner": 2}


def test_no_function_over_80_code_lines():
    too_long = {
        f"{_relative(path)}:{name}": size
        for path in _modules()
        for name, size in function_sizes(path).items()
        if size > MAX_CODE_LINES
    }
    assert not too_long, (
        f"functions over {MAX_CODE_LINES} lines of code (docstrings and comments not "
        f"counted); split them into phases: {too_long}"
    )
