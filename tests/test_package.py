"""The package foundation: light import, exceptions, optional extras, CLI entry points."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

import pitfalls
from pitfalls import exceptions
from pitfalls._manifest import ManifestError, check_columns, read_manifest
from pitfalls._optional import import_optional
from pitfalls._validation import check_groups
from pitfalls.cli import main

HEAVY = ("torch", "torchvision", "albumentations", "captum", "radiomics", "SimpleITK")


def test_import_pitfalls_does_not_load_heavy_dependencies():
    code = (
        "import sys, pitfalls, pitfalls.model_selection, pitfalls.metrics, pitfalls.pipeline; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        (exceptions.LeakageWarning, exceptions.PitfallWarning),
        (exceptions.MetricWarning, exceptions.PitfallWarning),
        (exceptions.BatchEffectWarning, exceptions.PitfallWarning),
        (exceptions.PitfallWarning, UserWarning),
        (exceptions.LeakageError, ValueError),
        (exceptions.GroupLeakageError, exceptions.LeakageError),
    ],
)
def test_exception_hierarchy(child, parent):
    assert issubclass(child, parent)


def test_manifest_error_is_exported_by_exceptions_as_one_class():
    assert exceptions.ManifestError is ManifestError  # pitfalls._manifest's name, same class
    assert "ManifestError" in exceptions.__all__ and issubclass(ManifestError, ValueError)
    with pytest.raises(exceptions.ManifestError, match="does not exist"):
        read_manifest("no/such/manifest.csv")
    # the exceptions module stays importable without pandas (import pitfalls loads it)
    code = "import sys, pitfalls.exceptions; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_lazy_submodules_and_unknown_attribute():
    assert pitfalls.metrics.__name__ == "pitfalls.metrics"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = pitfalls.nope


def test_import_optional_names_the_extra():
    with pytest.raises(ImportError, match=r'pip install "pitfalls\[torch\]"'):
        _missing("torch")
    with pytest.raises(ImportError, match="--no-build-isolation pyradiomics"):
        _missing("radiomics")


def _missing(name):
    # Simulate the module being absent without uninstalling it.
    import builtins

    real_import = builtins.__import__

    def fake_import(mod, *args, **kwargs):
        if mod == name or mod.startswith(name + "."):
            raise ModuleNotFoundError(f"No module named {mod!r}", name=mod)
        return real_import(mod, *args, **kwargs)

    saved = {k: v for k, v in sys.modules.items() if k == name or k.startswith(name + ".")}
    for k in saved:
        del sys.modules[k]
    builtins.__import__ = fake_import
    try:
        return import_optional(name, feature="test")
    finally:
        builtins.__import__ = real_import
        sys.modules.update(saved)


@pytest.mark.parametrize(
    ("groups", "n", "message"),
    [
        (None, 3, "should not be None"),
        (["a", "b"], 3, "groups has 2 entries but X has 3 samples"),
        ([1.0, float("nan"), 2.0], 3, r"1 missing value\(s\) \(at positions 1\)"),
        ([[1, 2], [3, 4]], 2, "must be 1-D"),
    ],
)
def test_check_groups_errors(groups, n, message):
    with pytest.raises(ValueError, match=message):
        check_groups(groups, n)


def test_read_manifest_formats_and_errors(tmp_path):
    df = pd.DataFrame({"patient": ["a", "b"], "y": [0, 1]})
    df.to_csv(tmp_path / "m.csv", index=False)
    df.to_csv(tmp_path / "m.tsv", index=False, sep="\t")
    df.to_parquet(tmp_path / "m.parquet")
    for name in ("m.csv", "m.tsv", "m.parquet"):
        pd.testing.assert_frame_equal(read_manifest(tmp_path / name), df)
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("a,b\n")
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(ManifestError, match="is empty"):
        read_manifest(tmp_path / "empty.csv")
    with pytest.raises(ManifestError, match="has a header but no rows"):
        read_manifest(tmp_path / "header.csv")
    with pytest.raises(ManifestError, match="is not a readable table"):
        read_manifest(tmp_path / "bad.parquet")
    with pytest.raises(ManifestError, match="is a directory"):
        read_manifest(tmp_path)
    with pytest.raises(ManifestError, match="got int"):
        read_manifest(3)


def test_check_columns_names_role_and_available_columns():
    df = pd.DataFrame({"patient": ["a", None]})
    with pytest.raises(ManifestError, match=r"label='y' is not a column.*'patient'"):
        check_columns(df, {"label": "y"})
    with pytest.raises(ManifestError, match=r"group column 'patient' has 1 missing"):
        check_columns(df, {"group": "patient"}, required_values=("group",))


def test_cli_version_and_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"pitfalls {pitfalls.__version__}"
    assert main([]) == 0
    assert "usage: pitfalls" in capsys.readouterr().out


def test_cli_unknown_command_is_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "invalid choice" in err


def test_python_dash_m_pitfalls():
    out = subprocess.run(
        [sys.executable, "-m", "pitfalls", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0
    assert out.stdout.strip() == f"pitfalls {pitfalls.__version__}"
