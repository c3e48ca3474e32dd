"""Self-contained HTML rendering of an :class:`AuditReport` (figures as base64 PNG)."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._report import escape, figure_to_base64

if TYPE_CHECKING:
    from ._report import AuditReport

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.3em .6em;
text-align:left;vertical-align:top}th{background:#f4f4f4}
.sev{font-weight:bold;border-radius:3px;padding:0 .4em;color:#fff}
.high{background:#c0392b}.medium{background:#d68910}.low{background:#2e86c1}.info{background:#7f8c8d}
.passed{color:#1e8449}.failed{color:#c0392b}
.pair{display:inline-block;margin:.4em;padding:.4em;border:1px solid #ddd;text-align:center;font-size:.8em}
.pair img{width:160px;height:160px;object-fit:contain;background:#000;margin:0 2px}
figure{display:inline-block;margin:0 1em 1em 0}
"""


def render_html(report: AuditReport, *, max_pairs: int = 12) -> str:
    """Render the whole report as one HTML page (internal; see ``AuditReport.to_html``)."""
    verdict = "PASSED" if report.passed else "FAILED"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>pitfalls audit: {verdict}</title><style>{_STYLE}</style></head><body>",
        f'<h1>pitfalls audit: <span class="{verdict.lower()}">{verdict}</span></h1>',
        f"<p>{escape(report._headline())}</p>",
        _findings_section(report),
        _distribution_section(report),
        _pairs_section(report, max_pairs),
        _checklist_section(report),
    ]
    if report.checks_skipped:
        skipped = ", ".join(f"{c} ({why})" for c, why in report.checks_skipped.items())
        parts.append(f"<p><em>Not checked: {escape(skipped)}</em></p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _findings_section(report: AuditReport) -> str:
    out = ['<h2 id="findings">Findings</h2>']
    if not report.finding_list:
        return out[0] + "<p>No findings.</p>"
    out.append(
        "<table><tr><th>code</th><th>severity</th><th>check</th><th>rows</th>"
        "<th>detail</th><th>examples</th><th>Table 4 / leakage type</th></tr>"
    )
    for f in report.finding_list:
        examples = "<br>".join(escape(e) for e in f.examples)
        mapping = ", ".join([f"item {i}" for i in f.checklist] + list(f.leakage_types))
        out.append(
            f"<tr><td>{escape(f.code)}</td><td><span class='sev {f.severity}'>{f.severity}</span></td>"
            f"<td><b>{escape(f.check)}</b><br>{escape(f.title)}</td><td>{f.n_affected}</td>"
            f"<td>{escape(f.detail)}</td><td>{examples}</td><td>{escape(mapping)}</td></tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def _distribution_section(report: AuditReport) -> str:
    out = ['<h2 id="distributions">Distributions per split</h2>']
    for title, table in (
        ("Classes per split", report.label_by_split),
        ("Sites per split", report.site_by_split),
    ):
        if table is None:
            continue
        image = figure_to_base64(_stacked_bars(table, title))
        out.append(
            f"<figure><img alt='{escape(title)}' src='data:image/png;base64,{image}'>"
            f"<figcaption>{escape(title)}</figcaption></figure>"
        )
        out.append(table.to_html(border=0))
    if len(out) == 1:
        out.append("<p>No label or site column was given.</p>")
    return "\n".join(out)


def _stacked_bars(table: pd.DataFrame, title: str) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 3.2))
    ax = fig.add_subplot()
    shares = table.div(table.sum(axis=1).replace(0, 1), axis=0)
    bottom = np.zeros(len(shares))
    positions = np.arange(len(shares))
    for column in shares.columns:
        values = shares[column].to_numpy(dtype=float)
        ax.bar(positions, values, bottom=bottom, label=str(column))
        bottom += values
    ax.set_xticks(positions, [str(i) for i in shares.index])
    ax.set_ylabel("fraction of rows")
    ax.set_title(title)
    ax.legend(fontsize="small", bbox_to_anchor=(1.02, 1), loc="upper left")
    return fig


def _pairs_section(report: AuditReport, max_pairs: int) -> str:
    out = ['<h2 id="duplicates">Duplicate and near-duplicate pairs</h2>']
    shown = 0
    for f in report.finding_list:
        if not f.pairs or report.image_paths is None:
            continue
        out.append(f"<h3>{escape(f.code)} {escape(f.check)}</h3>")
        for a, b, distance in f.pairs[:max_pairs]:
            caption = f"rows {report._row(a)} / {report._row(b)}" + (
                f", distance {distance}" if distance else ", identical pixels"
            )
            thumbs = "".join(
                f"<img alt='{escape(report.image_paths[p])}' title='{escape(report.image_paths[p])}' "
                f"src='data:image/png;base64,{_thumbnail(report, p)}'>"
                for p in (a, b)
            )
            out.append(f"<div class='pair'>{thumbs}<br>{escape(caption)}</div>")
            shown += 1
    if shown == 0:
        out.append("<p>No duplicate image pairs to show.</p>")
    return "\n".join(out)


def _thumbnail(report: AuditReport, position: int) -> str:
    # The thumbnail made from the one read of the file while hashing: the report
    # never opens an image file again (it may have changed, or become a link since).
    from ._hashing import thumbnail_png

    thumbnails = report.image_thumbnails
    tile = np.zeros((8, 8), np.uint8) if thumbnails is None else thumbnails[position]
    return base64.b64encode(thumbnail_png(tile)).decode("ascii")


def _checklist_section(report: AuditReport) -> str:
    table = report.checklist()
    out = [
        '<h2 id="checklist">Checklist (Maleki et al., Table 4)</h2>',
        "<table><tr><th>#</th><th>guideline</th><th>status</th><th>evidence</th></tr>",
    ]
    for row in table.itertuples():
        out.append(
            f"<tr><td>{row.item}</td><td>{escape(row.guideline)}</td>"
            f"<td>{escape(row.status)}</td><td>{escape(row.evidence)}</td></tr>"
        )
    out.append("</table>")
    return "\n".join(out)
