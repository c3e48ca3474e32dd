"""Checks on the built distributions, run by bin/test-floors.

``python bin/check_dist.py contents DIST_DIR``
    The sdist holds what building, testing and documenting pitfalls needs (src with
    py.typed, tests, LICENSE, README, pyproject.toml) and nothing of a working checkout
    (virtual environments, caches, docs builds); the wheel holds every module of the
    sdist's src/pitfalls, py.typed and the ``pitfalls`` command.

``python bin/check_dist.py smoke``
    Run from an empty directory with the interpreter the wheel was installed into: the
    installed package (not a checkout) imports with its public submodules, ``pitfalls
    --version`` answers, and a tiny split and audit give the expected answers.

Standard library only on purpose: it runs in the floors environment, on Python 3.10 too.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

# Path parts that belong to a working checkout, never to a distribution.
_FORBIDDEN_PARTS = {
    ".venv",
    "venv",
    ".git",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    "_build",
    "auto_examples",
    "generated",
    "dist",
    "pitfalls-out",
    "reproduce-out",
}
_SDIST_REQUIRED = (
    "src/pitfalls/__init__.py",
    "src/pitfalls/py.typed",
    "src/pitfalls/cli/__init__.py",
    "tests/test_package.py",
    "constraints-min.txt",
    "bin/test",
    "LICENSE",
    "README.md",
    "pyproject.toml",
)


def _fail(message: str) -> None:
    print(f"bin/check_dist.py: error: {message}", file=sys.stderr)
    raise SystemExit(1)


def _one(directory: Path, pattern: str) -> Path:
    found = sorted(directory.glob(pattern))
    if len(found) != 1:
        _fail(f"expected one {pattern} in {directory}, found {[p.name for p in found]}")
    return found[0]


def check_contents(dist: Path) -> None:
    sdist, wheel = _one(dist, "pitfalls-*.tar.gz"), _one(dist, "pitfalls-*.whl")
    with tarfile.open(sdist) as archive:
        # every member sits under pitfalls-VERSION/; drop that first part
        members = {PurePosixPath(*PurePosixPath(n).parts[1:]) for n in archive.getnames()}
    missing = [p for p in _SDIST_REQUIRED if PurePosixPath(p) not in members]
    if missing:
        _fail(f"{sdist.name} lacks {', '.join(missing)}")
    stray = sorted(str(m) for m in members if _FORBIDDEN_PARTS & set(m.parts))
    if stray:
        _fail(f"{sdist.name} holds files of a working checkout: {', '.join(stray[:5])}")
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = set(archive.namelist())
        entry_points = next(n for n in in_wheel if n.endswith(".dist-info/entry_points.txt"))
        commands = archive.read(entry_points).decode()
    modules = {str(m.relative_to("src")) for m in members if m.parts[0] == "src"}
    modules = {m for m in modules if m.endswith((".py", "py.typed"))}
    if not modules <= in_wheel:
        _fail(f"{wheel.name} lacks {', '.join(sorted(modules - in_wheel)[:5])}")
    if "pitfalls = pitfalls.cli:main" not in commands:
        _fail(f"{wheel.name} declares no 'pitfalls' command: {commands!r}")
    print(f"{sdist.name}: {len(members)} files; {wheel.name}: {len(in_wheel)} files; contents ok")


def smoke() -> None:
    import numpy as np
    import pandas as pd

    import pitfalls

    where = Path(pitfalls.__file__).resolve()
    if "site-packages" not in where.parts:
        _fail(f"pitfalls was imported from {where}, not from the installed wheel")
    for name in sorted(set(pitfalls.__all__) - {"__version__"}):
        try:
            importlib.import_module(f"pitfalls.{name}")
        except ImportError as exc:  # only an extra may be missing, and the error says which
            if f'pip install "pitfalls[{name}]"' not in str(exc):
                raise
    command = Path(sys.executable).with_name("pitfalls")
    version = subprocess.run([command, "--version"], capture_output=True, text=True, check=True)
    if version.stdout.strip() != f"pitfalls {pitfalls.__version__}":
        _fail(f"`pitfalls --version` printed {version.stdout!r}")

    from pitfalls.audit import audit
    from pitfalls.model_selection import StratifiedGroupKFold

    groups = np.repeat(["001", "002", "003", "004", "005", "006"], 2)
    y = np.repeat([0, 1, 0, 1, 0, 1], 2)
    folds = list(StratifiedGroupKFold(n_splits=3).split(np.zeros((12, 1)), y, groups))
    for train, test in folds:
        if set(groups[train]) & set(groups[test]):
            _fail("StratifiedGroupKFold put a patient on both sides of a split")
    manifest = pd.DataFrame({"patient": groups, "split": ["train", "test"] * 6, "label": y})
    report = audit(manifest, group="patient", split="split", label="label")
    if report.passed or "PF101" not in set(report.findings["code"]):
        _fail(f"audit missed patients in two splits:\n{report.to_text()}")
    print(f"smoke test of the installed wheel passed ({where.parent})")


def main(argv: list[str]) -> None:
    if argv[:1] == ["contents"] and len(argv) == 2:
        check_contents(Path(argv[1]))
    elif argv == ["smoke"]:
        smoke()
    else:
        _fail(f"usage: check_dist.py contents DIST_DIR | check_dist.py smoke; got {argv}")


if __name__ == "__main__":
    main(sys.argv[1:])
