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
