"""docs/guides/external_validation_and_time.rst: its examples run as written."""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "guides" / "external_validation_and_time.rst"


@pytest.mark.slow
def test_guide_examples_run_as_written():
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    result = doctest.testfile(str(GUIDE), module_relative=False, optionflags=flags, verbose=False)
    assert result.attempted > 20
    assert result.failed == 0


def test_guide_is_linked_from_the_guides_index():
    index = (GUIDE.parent / "index.rst").read_text(encoding="utf-8")
    assert "external_validation_and_time" in index
