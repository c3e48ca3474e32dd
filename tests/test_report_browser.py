"""The HTML study report in a real browser (headless Chromium).

The report is the sample of the report guide (docs/_sample_report.py: a synthetic
cohort at three sites, one external, with a model's scores), so every section that
can be computed is there with its figures. The harness is the ``render_in_browser``
fixture of ``conftest.py``: every section laid out, every image decoded with a size,
no script error and no console message. Skipped, with the reason, where no Chromium
is installed (Debian: ``apt-get install chromium``; CI installs it).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[1] / "docs" / "_sample_report.py"


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("sample_report", SAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.sample_report(n_bootstraps=50)


def test_every_section_and_figure_renders_without_console_errors(render_in_browser, report):
    figures = [f for s in report.sections.values() for f in s.figures]
    assert len(figures) >= 6  # cohort, curves, calibration, subgroups, external
    elements = ["contents", "findings", "details", *report.sections, "settings"]
    seen, console = render_in_browser(report.to_html(), elements)
    assert console == []
    assert seen["errors"] == []
    assert dict(seen["sections"]) == dict.fromkeys(elements, True)
    assert [alt for alt, *_ in seen["images"]] == [f.caption for f in figures]
    for alt, complete, width, height in seen["images"]:
        assert complete and width > 100 and height > 100, alt
