"""Self-contained HTML rendering of an :class:`AuditReport` (figures as base64 PNG).

Sections (each with an ``id``): ``findings`` (the table), ``details`` (every
affected item of every finding, in collapsible tables), ``distributions`` (classes
and sites per split, classes per site), ``duplicates`` (image pairs side by side,
captioned with what was measured) and ``checklist``.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ._checks import Finding
    from ._report import AuditReport

__all__ = ["MAX_PREVIEW_PAIRS", "display_thumbnail", "image_pairs", "render_html"]

MAX_PREVIEW_PAIRS = 24  # pairs per finding whose thumbnails an audit keeps
_THUMB_SIZE = 160
_SAME_PIXELS = "identical decoded pixels"
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:.3em .6em;
text-align:left;vertical-align:top}th{background:#f4f4f4}
.sev{font-weight:bold;border-radius:3px;padding:0 .4em;color:#fff}
.high{background:#c0392b}.medium{background:#d68910}.low{background:#2e86c1}.info{background:#7f8c8d}
.passed{color:#1e8449}.failed{color:#c0392b}
.pair{display:inline-block;margin:.4em;padding:.4em;border:1px solid #ddd;text-align:center;
font-size:.8em;max-width:340px}
.pair img{width:160px;height:160px;object-fit:contain;background:#000;margin:0 2px}
figure{display:inline-block;margin:0 1em 1em 0;vertical-align:top}
details{margin:.4em 0}summary{cursor:pointer}
"""


def render_html(report: AuditReport, *, max_pairs: int = 12) -> str:
    """Render the whole report as one HTML page (internal; see ``AuditReport.to_html``)."""
    verdict = "PASSED" if report.passed else "FAILED"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>pitfalls audit: {verdict}</title><style>{STYLE}</style></head><body>",
        f'<h1>pitfalls audit: <span class="{verdict.lower()}">{verdict}</span></h1>',
        f"<p>{escape(report._headline())}</p>",
        findings_section(report._findings),
        details_section(report._findings),
        _distribution_section(report),
        _pairs_section(report, max_pairs),
        _checklist_section(report),
    ]
    if report.checks_skipped:
        parts.append(f"<p><em>Not checked: {escape(report._skipped_text())}</em></p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def escape(value: Any) -> str:
    """HTML-escaped text."""
    return html.escape(str(value), quote=True)


def img_tag(png_base64: str, alt: str) -> str:
    """An ``<img>`` embedding a base64 PNG, its ``alt`` and ``title`` escaped."""
    alt = escape(alt)
    return f"<img alt='{alt}' title='{alt}' src='data:image/png;base64,{png_base64}'>"


# --- findings and their items -----------------------------------------------------------


def findings_section(findings: Sequence[Finding]) -> str:
    """The ``findings`` section: one table row per finding, linked to its items."""
    from ._report import more_text

    out = ['<h2 id="findings">Findings</h2>']
    if not findings:
        return out[0] + "<p>No findings.</p>"
    out.append(
        "<table><tr><th>code</th><th>severity</th><th>check</th><th>rows</th>"
        "<th>detail</th><th>examples</th><th>Table 4 / leakage type</th></tr>"
    )
    for f in findings:
        examples = [escape(e) for e in f.examples]
        if more_text(f):
            examples.append(f"<a href='#items-{f.code}'>{escape(more_text(f))}</a>")
        mapping = ", ".join([f"item {i}" for i in f.checklist] + list(f.leakage_types))
        out.append(
            f"<tr><td>{escape(f.code)}</td>"
            f"<td><span class='sev {f.severity}'>{f.severity}</span></td>"
            f"<td><b>{escape(f.check)}</b><br>{escape(f.title)}</td><td>{f.n_affected}</td>"
            f"<td>{escape(f.detail)}</td><td>{'<br>'.join(examples)}</td>"
            f"<td>{escape(mapping)}</td></tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def details_section(findings: Sequence[Finding]) -> str:
    """The ``details`` section: every affected item of each finding, in collapsible tables."""
    from ._report import plural_unit

    out = ['<h2 id="details">Every affected item</h2>']
    findings = [f for f in findings if not f.affected.empty]
    if not findings:
        return out[0] + "<p>No finding lists affected items.</p>"
    for f in findings:
        units = f"{f.n_items} {plural_unit(f.unit, f.n_items)}"
        out.append(
            f"<details id='items-{escape(f.code)}'><summary>{escape(f.code)} "
            f"{escape(f.check)}: {escape(units)} ({len(f.affected)} records)</summary>"
            f"{item_table(f.affected)}</details>"
        )
    return "\n".join(out)


def item_table(frame: pd.DataFrame) -> str:
    """An HTML table of records, cells written as :func:`cell_text` writes them."""
    head = "".join(f"<th>{escape(c)}</th>" for c in frame.columns)
    body = [
        "<tr>" + "".join(f"<td>{escape(cell_text(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False, name=None)
    ]
    return f"<table class='items'><tr>{head}</tr>{''.join(body)}</table>"


def cell_text(value: Any) -> str:
    """A record value as text: missing values empty, numbers as Python writes them."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


# --- distributions ----------------------------------------------------------------------


def _distribution_section(report: AuditReport) -> str:
    out = ['<h2 id="distributions">Distributions</h2>']
    confounding = next((f for f in report._findings if f.code == "PF201"), None)
    for title, _, table in report._distributions():
        figure = _stacked_bars(table, title)
        caption = escape(title)
        if title == "Classes per site" and confounding is not None:
            caption += (
                f" <span class='sev {confounding.severity}'>PF201 {confounding.severity}</span> "
                f"{escape(confounding.detail)}"
            )
        out.append(
            f"<figure>{img_tag(figure_to_base64(figure), title)}"
            f"<figcaption>{caption}</figcaption></figure>"
        )
        out.append(table.to_html(border=0))
    if len(out) == 1:
        out.append("<p>No label or site column was given.</p>")
    return "\n".join(out)


def _stacked_bars(table: pd.DataFrame, title: str, ax: Any = None) -> Any:
    """Stacked bars of the shares in each row of a count table (a new figure without ``ax``)."""
    if ax is None:
        from matplotlib.figure import Figure

        figure = Figure(figsize=(5.5, 3.2))
        ax = figure.add_subplot()
    shares = table.div(table.sum(axis=1).replace(0, 1), axis=0)
    bottom = np.zeros(len(shares))
    positions = np.arange(len(shares))
    for column in shares.columns:
        values = shares[column].to_numpy(dtype=float)
        ax.bar(positions, values, bottom=bottom, label=str(column))
        bottom += values
    ax.set_xticks(positions, [str(i) for i in shares.index])
    ax.set_xlabel(str(table.index.name or ""))
    ax.set_ylabel("fraction of rows")
    ax.set_title(title)
    ax.legend(fontsize="small", bbox_to_anchor=(1.02, 1), loc="upper left")
    return ax.figure


def distribution_figure(report: AuditReport) -> Any:
    """Every distribution of the report as a panel of one figure (``AuditReport.plot``)."""
    from matplotlib.figure import Figure

    tables = report._distributions()
    if not tables:
        return None
    figure = Figure(figsize=(6.5 * len(tables), 3.6), layout="constrained")
    for ax, (title, _, table) in zip(
        figure.subplots(1, len(tables), squeeze=False)[0], tables, strict=True
    ):
        _stacked_bars(table, title, ax=ax)
    return figure


def figure_to_base64(fig: Any) -> str:
    """PNG of a matplotlib figure as base64 text."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


# --- image pairs ------------------------------------------------------------------------


def image_pairs(finding: Finding, limit: int) -> list[tuple[str, str, str]]:
    """The first ``limit`` image pairs of a finding: (row id, row id, caption).

    Near duplicates (unit ``pair``) give their two rows and what was measured; sets
    of identical images give their first row and the first one in another split
    (the next one for duplicates within a split).
    """
    table = finding.affected
    if "path" not in table.columns or table.empty:
        return []
    table = table[table["item"] <= limit]
    if finding.unit == "pair":
        return [
            (
                str(r.row),
                str(r.other_row),
                f"rows {r.row} ({r.split}) / {r.other_row} ({r.other_split}): {r.measure}",
            )
            for r in table.itertuples(index=False)
        ]
    if finding.unit != "duplicate set" or "measure" not in table:
        return []
    if (table["measure"] != _SAME_PIXELS).any():  # identical feature rows: no images
        return []
    pairs = []
    for _, members in table.groupby("item", sort=True):
        first = members.iloc[0]
        others = members[members["split"] != first["split"]]
        second = (others if len(others) else members.iloc[1:]).iloc[0]
        rest = len(members) - 2
        caption = (
            f"rows {first['row']} ({first['split']}) / {second['row']} ({second['split']}): "
            f"{_SAME_PIXELS}" + (f" (and {rest} more in the set)" if rest > 0 else "")
        )
        pairs.append((str(first["row"]), str(second["row"]), caption))
    return pairs


def _pairs_section(report: AuditReport, max_pairs: int) -> str:
    out = ['<h2 id="duplicates">Duplicate and near-duplicate pairs</h2>']
    shown = 0
    for f in report._findings:
        pairs = image_pairs(f, max_pairs)
        if not pairs:
            continue
        out.append(f"<h3>{escape(f.code)} {escape(f.check)}</h3>")
        for a, b, caption in pairs:
            missing = [r for r in (a, b) if r not in report.thumbnails]
            if missing:
                caption += f" (image of row {', '.join(missing)} not available)"
            tiles = "".join(
                img_tag(png_base64(report.thumbnails.get(r, _EMPTY_TILE)), f"row {r}")
                for r in (a, b)
            )
            out.append(f"<div class='pair'>{tiles}<br>{escape(caption)}</div>")
            shown += 1
    if shown == 0:
        out.append("<p>No duplicate image pairs to show.</p>")
    return "\n".join(out)


_EMPTY_TILE = np.full((8, 8), 64, np.uint8)


def display_thumbnail(pixels: Any) -> np.ndarray:
    """An image array of any kind as a small 8-bit picture (at most 160 px a side).

    Boolean masks become black and white; a volume (a 3-D array that is not an
    image with 1, 3 or 4 channels, or anything with more axes) shows its middle
    slice; 16-bit and float images are stretched between their 0.5 and 99.5
    percentiles; alpha is dropped.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.audit._html import display_thumbnail
    >>> display_thumbnail(np.zeros((20, 300, 200))).shape
    (160, 107)
    >>> int(display_thumbnail(np.eye(4, dtype=bool)).max())
    255
    """
    from PIL import Image

    arr = np.asarray(pixels)
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    while arr.ndim > 3 or (arr.ndim == 3 and arr.shape[-1] not in (1, 3, 4)):
        arr = arr[arr.shape[0] // 2]  # a volume: its middle slice
    if arr.ndim == 3:
        arr = arr[..., 0] if arr.shape[-1] == 1 else arr[..., :3]
    if arr.ndim < 2 or arr.size == 0:
        return _EMPTY_TILE
    if arr.dtype != np.uint8:
        arr = _stretch(arr)
    image = Image.fromarray(np.ascontiguousarray(arr))
    image.thumbnail((_THUMB_SIZE, _THUMB_SIZE))
    return np.asarray(image)


def _stretch(arr: np.ndarray) -> np.ndarray:
    values = arr.astype(np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros(arr.shape, np.uint8)
    lo, hi = np.percentile(finite, [0.5, 99.5])
    if hi <= lo:
        lo, hi = float(finite.min()), float(finite.max())
    scaled = (np.nan_to_num(values, nan=lo, posinf=hi, neginf=lo) - lo) / max(hi - lo, 1e-12)
    return np.clip(scaled * 255, 0, 255).astype(np.uint8)


def png_base64(pixels: np.ndarray) -> str:
    """PNG of an 8-bit image array as base64 text."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


# --- checklist --------------------------------------------------------------------------


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
