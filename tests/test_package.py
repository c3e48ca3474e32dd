"""The package foundation: light import, exceptions, optional extras, CLI entry points."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import pandas as pd
import pytest

import pitfalls
from pitfalls import exceptions
from pitfalls._manifest import ManifestError, check_columns, read_manifest
from pitfalls._optional import RADIOMICS_INSTALL, import_optional, missing_modules
from pitfalls._validation import check_groups
from pitfalls.cli import main

ROOT = Path(__file__).resolve().parents[1]
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


def _block(monkeypatch, *names):
    # Python's own way to make a module unimportable: None in sys.modules stops the
    # import with ModuleNotFoundError, and find_spec answers None, installed or not.
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


def test_import_optional_names_the_extra(monkeypatch):
    _block(monkeypatch, "torch", "nrrd")
    with pytest.raises(ImportError, match=r'install it with: pip install "pitfalls\[torch\]"$'):
        import_optional("torch", feature="test")
    with pytest.raises(ImportError) as info:
        import_optional("nrrd", feature="reading NRRD")
    assert str(info.value) == (
        "reading NRRD needs 'nrrd' (the pynrrd package) but it is not installed; "
        'install it with: pip install "pitfalls[io]"'
    )


@pytest.mark.parametrize("module", ["radiomics", "SimpleITK"])
def test_missing_radiomics_says_the_install_that_works(monkeypatch, module):
    _block(monkeypatch, module)
    with pytest.raises(ImportError) as info:
        import_optional(module, feature="pitfalls.radiomics")
    message = str(info.value)
    # the exact commands, in order, then the extra itself; pip's default build fails
    commands = [*RADIOMICS_INSTALL, 'pip install "pitfalls[radiomics]"']
    assert message.endswith(
        "install it with: " + " && ".join(commands) + " (Python <= 3.11: pyradiomics has no "
        "wheels and its source builds only this way)"
    )
    assert RADIOMICS_INSTALL[1] == "pip install --no-build-isolation pyradiomics"
    assert message.startswith(f"pitfalls.radiomics needs {module!r}")


def test_extract_features_without_pyradiomics_names_the_install(monkeypatch):
    from pitfalls.datasets import make_ct_tumours
    from pitfalls.radiomics import extract_features

    _block(monkeypatch, "radiomics", "radiomics.featureextractor")
    volumes, masks, _ = make_ct_tumours(2, shape=(12, 24, 24), random_state=0)
    with pytest.raises(ImportError, match="--no-build-isolation pyradiomics"):
        extract_features(volumes, masks)


def test_missing_modules_of_an_extra(monkeypatch):
    from importlib.machinery import ModuleSpec

    _block(monkeypatch, "captum")
    assert "captum" in missing_modules("torch")
    for name in ("pyarrow", "pydicom", "nibabel", "nrrd", "tifffile"):
        present = types.ModuleType(name)
        present.__spec__ = ModuleSpec(name, None)
        monkeypatch.setitem(sys.modules, name, present)
    assert missing_modules("io") == []
    with pytest.raises(
        ValueError, match="extra='tensorflow' is not one of 'io', 'radiomics', 'torch'"
    ):
        missing_modules("tensorflow")


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
    for name in ("m.csv", "m.tsv"):
        pd.testing.assert_frame_equal(read_manifest(tmp_path / name), df)
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("a,b\n")
    with pytest.raises(ManifestError, match="is empty"):
        read_manifest(tmp_path / "empty.csv")
    with pytest.raises(ManifestError, match="has a header but no rows"):
        read_manifest(tmp_path / "header.csv")
    with pytest.raises(ManifestError, match="is a directory"):
        read_manifest(tmp_path)
    with pytest.raises(ManifestError, match="got int"):
        read_manifest(3)


def test_read_manifest_parquet(tmp_path):
    pytest.importorskip("pyarrow")  # the io extra
    df = pd.DataFrame({"patient": ["007", "7"], "y": [0, 1]})
    df.to_parquet(tmp_path / "m.parquet")
    pd.testing.assert_frame_equal(read_manifest(tmp_path / "m.parquet"), df)
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(ManifestError, match="is not a readable table"):
        read_manifest(tmp_path / "bad.parquet")


@pytest.mark.skipif(
    importlib.util.find_spec("pyarrow") is not None, reason="pyarrow is installed (io extra)"
)
def test_read_manifest_parquet_without_the_io_extra_names_it(tmp_path):
    # runs in the core-only environment of the floors job
    (tmp_path / "m.parquet").write_bytes(b"PAR1 whatever")
    with pytest.raises(
        ManifestError, match=r'needs pyarrow; install it with: pip install "pitfalls\[io\]"'
    ):
        read_manifest(tmp_path / "m.parquet")


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


# ------------------------------------------------------------- declared floors


def _floors_of_pyproject():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = [Requirement(r) for r in project["dependencies"]]
    dev = [Requirement(r) for r in project["optional-dependencies"]["dev"]]
    return core, dev


def _pins(path):
    from packaging.utils import canonicalize_name

    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{path.name}: {line!r} is not NAME==VERSION"
            pins[canonicalize_name(name)] = version
    return pins


def _floor(requirement):
    floors = [s.version for s in requirement.specifier if s.operator == ">="]
    assert len(floors) == 1, f"{requirement} has no single >= floor"
    return floors[0]


def test_constraints_min_pins_every_core_dependency_at_its_declared_floor():
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    core, dev = _floors_of_pyproject()
    pins = _pins(ROOT / "constraints-min.txt")
    for requirement in core:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"constraints-min.txt does not pin {name} (floor {requirement})"
        assert Version(pins[name]) == Version(_floor(requirement)), (name, pins[name])
    # the test tools pinned there are the dev extra's floors too
    for requirement in dev:
        name = canonicalize_name(requirement.name)
        if name in pins:
            assert Version(pins[name]) == Version(_floor(requirement)), (name, pins[name])
    assert {"pytest", "hypothesis", "pytest-timeout", "build"} <= set(pins)


def test_constraints_txt_pins_satisfy_the_declared_ranges():
    from packaging.utils import canonicalize_name

    core, dev = _floors_of_pyproject()
    pins = _pins(ROOT / "constraints.txt")
    for requirement in [*core, *dev]:
        pinned = pins.get(canonicalize_name(requirement.name))
        assert pinned is not None, f"constraints.txt does not pin {requirement.name}"
        assert requirement.specifier.contains(pinned, prereleases=True), (requirement, pinned)


# ------------------------------------------------------------- built distributions


def _check_dist():
    spec = importlib.util.spec_from_file_location("check_dist", ROOT / "bin" / "check_dist.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fake_dists(directory, *, extra=(), drop=()):
    import io
    import tarfile
    import zipfile

    members = [*_check_dist()._SDIST_REQUIRED, *extra]  # what the check asks for, no copy
    with tarfile.open(directory / "pitfalls-1.0.tar.gz", "w:gz") as archive:
        for name in members:
            if name not in drop:
                info = tarfile.TarInfo(f"pitfalls-1.0/{name}")
                archive.addfile(info, io.BytesIO(b""))
    with zipfile.ZipFile(directory / "pitfalls-1.0-py3-none-any.whl", "w") as archive:
        for name in ("pitfalls/__init__.py", "pitfalls/py.typed", "pitfalls/cli/__init__.py"):
            archive.writestr(name, "")
        archive.writestr(
            "pitfalls-1.0.dist-info/entry_points.txt",
            "[console_scripts]\npitfalls = pitfalls.cli:main\n",
        )


def test_check_dist_accepts_a_complete_sdist_and_wheel(tmp_path, capsys):
    _fake_dists(tmp_path)
    _check_dist().check_contents(tmp_path)
    assert "contents ok" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "drop", "message"),
    [
        ((), ("src/pitfalls/py.typed",), "pitfalls-1.0.tar.gz lacks src/pitfalls/py.typed"),
        ((".venv/floors/bin/python",), (), "holds files of a working checkout: .venv/floors"),
        (("docs/_build/html/index.html",), (), "working checkout: docs/_build/html/index.html"),
        (("src/pitfalls/__pycache__/x.pyc",), (), "working checkout: src/pitfalls/__pycache__"),
        (("src/pitfalls/_new.py",), (), "pitfalls-1.0-py3-none-any.whl lacks pitfalls/_new.py"),
    ],
)
def test_check_dist_refuses_what_a_distribution_must_not_hold(
    tmp_path, capsys, extra, drop, message
):
    _fake_dists(tmp_path, extra=extra, drop=drop)
    with pytest.raises(SystemExit) as exit_info:
        _check_dist().check_contents(tmp_path)
    assert exit_info.value.code == 1
    assert message in capsys.readouterr().err
