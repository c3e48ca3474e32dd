"""The README's quickstart is code users paste: it must run as written."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_readme_quickstart_runs():
    blocks = _python_blocks(README.read_text())
    assert blocks, "README.md has no ```python block to test"
    for block in blocks:
        namespace: dict[str, object] = {}
        exec(compile(block, str(README), "exec"), namespace)


def test_readme_names_the_two_setup_commands():
    text = README.read_text()
    assert "bin/reproduce --quick" in text
    assert "bin/test" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert "exec bin/test" in ci


INSTALL_DOC = README.parent / "docs" / "install.rst"


def _shell_lines(text: str) -> list[str]:
    """Command lines of the ```bash blocks (README) and code-block:: bash (docs)."""
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)
    blocks += re.findall(r".. code-block:: bash\n\n((?:   .*\n|\n)+)", text)
    return [line.split("#")[0].strip() for b in blocks for line in b.splitlines() if line.strip()]


def test_no_install_command_asks_the_package_index_for_pitfalls():
    # no release exists: every install of pitfalls itself is from a checkout or a wheel
    for path in (README, INSTALL_DOC, *sorted((README.parent / "docs").glob("*.rst"))):
        for line in _shell_lines(path.read_text()):
            assert not re.match(r"pip install \"?pitfalls\b", line), f"{path.name}: {line}"
    commands = _shell_lines(README.read_text())
    assert "pip install ." in commands and 'pip install ".[torch]"' in commands


def test_radiomics_install_is_the_one_the_error_message_gives():
    from pitfalls._optional import RADIOMICS_INSTALL

    for path in (README, INSTALL_DOC):
        commands = _shell_lines(path.read_text())
        start = commands.index(RADIOMICS_INSTALL[0])
        assert commands[start : start + 3] == [*RADIOMICS_INSTALL, 'pip install ".[radiomics]"']


def test_install_guide_is_in_the_docs_and_lists_the_tested_floors():
    index = (README.parent / "docs" / "index.rst").read_text()
    assert re.search(r":caption: User guide\n\n   install\n", index)
    guide = INSTALL_DOC.read_text()
    pins = {}
    for line in (README.parent / "constraints-min.txt").read_text().splitlines():
        name, _, version = line.partition("==")
        if version and not line.startswith("#"):
            pins[name] = version
    for name in ("numpy", "scipy", "pandas", "scikit-learn", "imbalanced-learn", "joblib"):
        assert re.search(rf"^{name} +{re.escape(pins[name])} ", guide, flags=re.MULTILINE), name


def test_the_test_command_runs_the_floors_job():
    test_script = (README.parent / "bin" / "test").read_text()
    assert 'exec bin/test-floors "$@"' in test_script
    floors = (README.parent / "bin" / "test-floors").read_text()
    assert "bin/setup-env --floors" in floors and "-m build" in floors
