"""Self-contained HTML rendering of a :class:`~pitfalls.report.StudyReport`.

One page with no external reference: the style sheet inline, every figure a base64
PNG, every text escaped. Elements with an ``id``: ``contents`` (each section with
its status), ``findings`` and ``details`` (as in the audit's page), one per section
(its key: ``cohort``, ``performance``...) and ``settings``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ..audit._html import (
    STYLE,
    details_section,
    escape,
    figure_to_base64,
    findings_section,
    img_tag,
    item_table,
)
from ._render import display_frame, headline, ordered_findings, settings_text

if TYPE_CHECKING:
    from ._model import ReportFigure, ReportTable, Section
    from ._report import StudyReport

__all__ = ["SECTION_STYLE", "render_html"]

SECTION_STYLE = """
.status{font-size:.75em;font-weight:normal;border-radius:3px;padding:.1em .5em;color:#fff;
vertical-align:middle}
.status-ok{background:#1e8449}.status-attention{background:#d68910}
.status-failed{background:#c0392b}.status-not_available{background:#7f8c8d}
nav ol{line-height:1.7}.caption{font-style:italic;margin:1em 0 .2em}
figure img{max-width:100%}figcaption{font-size:.9em;max-width:560px}
"""


def render_html(report: StudyReport) -> str:
    """The whole report as one HTML page (internal; see ``StudyReport.to_html``)."""
    verdict = "PASSED" if report.passed else "FAILED"
    findings = ordered_findings(report.finding_objects)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>pitfalls study report: {verdict}</title>",
        f"<style>{STYLE}{SECTION_STYLE}</style></head><body>",
        f'<h1>pitfalls study report: <span class="{verdict.lower()}">{verdict}</span></h1>',
        f"<p>{escape(headline(report))}</p>",
        _contents(report, len(findings)),
        findings_section(findings),
        details_section(findings),
        *(_section(section) for section in report.sections.values()),
        _settings(report),
        "</body></html>",
    ]
    return "\n".join(parts)


def status_badge(status: str) -> str:
    """The coloured status of a section (``not_available`` written with a space)."""
    return f'<span class="status status-{status}">{escape(status.replace("_", " "))}</span>'


def _contents(report: StudyReport, n_findings: int) -> str:
    items = [f'<li><a href="#findings">Findings</a> ({n_findings})</li>']
    items += [
        f'<li><a href="#{escape(key)}">{escape(section.title)}</a> {status_badge(section.status)}'
        "</li>"
        for key, section in report.sections.items()
    ]
    return f'<nav id="contents"><h2>Contents</h2><ol>{"".join(items)}</ol></nav>'


def _section(section: Section) -> str:
    out = [
        f'<section id="{escape(section.key)}">',
        f"<h2>{escape(section.title)} {status_badge(section.status)}</h2>",
    ]
    out += [f"<p>{escape(sentence)}</p>" for sentence in section.text]
    out += [_table(table, f"{section.key}-{table.key}") for table in section.tables]
    out += [_figure(figure) for figure in section.figures]
    out.append("</section>")
    return "\n".join(out)


def _table(table: ReportTable, anchor: str) -> str:
    shown = display_frame(table.frame)
    body = item_table(shown) if len(shown) else "<p>(no rows)</p>"
    caption = f'<p class="caption">{escape(table.caption)}</p>'
    return f'<div id="{escape(anchor)}">{caption}{body}</div>'


def _figure(figure: ReportFigure) -> str:
    image = img_tag(figure_png(figure), figure.caption)
    return f"<figure>{image}<figcaption>{escape(figure.caption)}</figcaption></figure>"


def figure_png(figure: ReportFigure) -> str:
    """Draw a report figure and return it as base64 PNG, releasing the figure after."""
    drawn = figure.draw()
    try:
        return figure_to_base64(drawn)
    finally:
        _release(drawn)


def _release(drawn: Any) -> None:
    # A figure drawn through pyplot stays registered (and in memory) until closed;
    # one made with matplotlib.figure.Figure is simply dropped.
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(drawn)


def _settings(report: StudyReport) -> str:
    import pandas as pd

    rows = pd.DataFrame(settings_text(report.settings), columns=["setting", "value"])
    body = item_table(rows) if len(rows) else "<p>No settings recorded.</p>"
    return f'<section id="settings"><h2>Settings</h2>{body}</section>'
