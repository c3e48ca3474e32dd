"""Write the reproduction report: Markdown and self-contained HTML, figures, raw scores."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from .._tables import frame_to_markdown
from ._result import ExperimentResult
from ._tables import combined_table2

__all__ = ["write_report"]

_TITLE = "Reproduction of Maleki et al., three methodological pitfalls"

_CSS = """
body { font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; }
th { background: #f3f3f3; }
img { max-width: 100%; border: 1px solid #eee; }
.note { color: #555; }
code { background: #f6f6f6; padding: 0 .2rem; }
"""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def _save_figures(result: ExperimentResult, figures_dir: Path) -> dict[str, Path]:
    saved = {}
    for name, figure in result.figures.items():
        path = figures_dir / f"{_slug(result.name)}-{_slug(name)}.png"
        figure.savefig(path, dpi=110, bbox_inches="tight")
        saved[name] = path
    return saved


def _save_study(result: ExperimentResult, out: Path) -> dict[str, Path]:
    """Write the experiment's study report as HTML and JSON under ``study_reports/``."""
    if result.study is None:
        return {}
    folder = out / "study_reports"
    folder.mkdir(exist_ok=True)
    paths = {
        "html": folder / f"{_slug(result.name)}.html",
        "json": folder / f"{_slug(result.name)}.json",
    }
    result.study.to_html(paths["html"])
    paths["json"].write_text(result.study.to_json(), encoding="utf-8")
    return paths


def _study_line(result: ExperimentResult) -> str:
    """One sentence pointing at the study report, or '' when the experiment has none."""
    if result.study is None:
        return ""
    name = _slug(result.name)
    return (
        f"Study report of the correct model (patient-level intervals, baselines, "
        f"calibration, checklists): study_reports/{name}.html (JSON: study_reports/{name}.json)."
    )


def _html_section(result: ExperimentResult, figures: dict[str, Path]) -> str:
    parts = [
        f'<h2 id="{_slug(result.name)}">{html.escape(result.title)}</h2>',
        f"<p><em>{html.escape(result.reference)}</em> · {result.elapsed:.1f} s</p>",
        result.table.to_html(index=False, escape=True, border=0),
    ]
    lines = result._comparison_lines()
    if lines:
        parts.append("<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in lines) + "</ul>")
    for name, path in figures.items():
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        parts.append(
            f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(name)}</figcaption></figure>"
        )
    if result.study is not None:
        link = f"study_reports/{_slug(result.name)}.html"
        parts.append(f'<p><a href="{link}">{html.escape(_study_line(result))}</a></p>')
    if result.notes:
        parts.append(
            '<ul class="note">'
            + "".join(f"<li>{html.escape(n)}</li>" for n in result.notes)
            + "</ul>"
        )
    return "\n".join(parts)


def _settings_line(results: Sequence[ExperimentResult]) -> str:
    if not results:
        return ""
    settings = results[0].settings
    keys = (
        "quick",
        "device",
        "random_state",
        "n_repeats",
        "n_estimators",
        "nested",
        "architecture",
    )
    return ", ".join(f"{k}={settings[k]}" for k in keys if k in settings)


def _scores_frame(result: ExperimentResult) -> pd.DataFrame:
    """The run's numbers for scores.csv: the per-repeat ``raw`` frame when the experiment
    keeps one, else its ``scores`` table (one row per model or evaluation)."""
    if result.raw is not None:
        frame = result.raw
    else:
        frame = result.scores.rename_axis(result.scores.index.name or "row").reset_index()
    return frame.assign(experiment=result.name)


def _skipped_parts(skipped: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """The "Not run" section, Markdown and HTML, for experiments skipped up front."""
    if not skipped:
        return [], []
    markdown = ["## Not run", "", *(f"- {name}: {why}" for name, why in skipped.items()), ""]
    items = "".join(
        f"<li>{html.escape(name)}: {html.escape(why)}</li>" for name, why in skipped.items()
    )
    return markdown, ["<h2>Not run</h2>", f'<ul class="note">{items}</ul>']


def write_report(
    results: Sequence[ExperimentResult],
    out: str | Path,
    *,
    title: str = _TITLE,
    skipped: Mapping[str, str] | None = None,
) -> dict[str, Path]:
    """Write ``report.md``, ``report.html``, ``figures/*.png``, ``scores.csv`` and study reports.

    The HTML file is self-contained (figures embedded), so it can be mailed or
    attached to a CI run; the Markdown file links the PNG files beside it.

    Parameters
    ----------
    results : sequence of ExperimentResult
        Results of :func:`run` / :func:`run_all`.
    out : str or path-like
        Output directory; created if needed, existing report files are replaced.
    title : str, optional
        Heading of the report.
    skipped : mapping of str to str, optional
        Experiments that were not run -> why (e.g. an extra that is not installed);
        listed under "Not run".

    Returns
    -------
    dict of str to Path
        Paths written: ``"markdown"``, ``"html"``, ``"scores"`` and one per figure.
        ``scores.csv`` holds every result's numbers in long form with an
        ``experiment`` column: the per-repeat ``raw`` frame where there is one, else
        the ``scores`` table. Each result with a study report adds
        ``"study:<name>:html"`` and ``"study:<name>:json"`` (``study_reports/<name>.*``).

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from pitfalls.reproduction import ExperimentResult, write_report
    >>> r = ExperimentResult(name="demo", title="Demo", reference="none",
    ...                      table=pd.DataFrame({"Model": ["A"]}),
    ...                      scores=pd.DataFrame({"f1": [0.5]}, index=["A"]))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     paths = write_report([r], tmp)
    ...     sorted(paths), paths["markdown"].read_text().startswith("# Reproduction")
    (['html', 'markdown', 'scores'], True)
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"out={str(out)!r} exists and is not a directory; pass a directory.")
    figures_dir = out / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    md_parts = [f"# {title}", "", _settings_line(results), ""]
    html_parts = [
        "<!DOCTYPE html>",
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>',
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(_settings_line(results))}</p>",
    ]
    table2 = combined_table2(results)
    if table2 is not None and len(results) > 1:
        md_parts += ["## Table 2 at a glance (models A-H)", "", frame_to_markdown(table2), ""]
        html_parts += [
            "<h2>Table 2 at a glance (models A-H)</h2>",
            table2.to_html(index=False, escape=True, border=0),
        ]
    for result in results:
        figures = _save_figures(result, figures_dir)
        written.update({f"figure:{result.name}:{name}": path for name, path in figures.items()})
        relative = {name: f"figures/{path.name}" for name, path in figures.items()}
        studies = _save_study(result, out)
        written.update({f"study:{result.name}:{kind}": path for kind, path in studies.items()})
        md_parts.append(result.to_markdown(figure_paths=relative))
        if studies:
            md_parts += ["", _study_line(result), ""]
        html_parts.append(_html_section(result, figures))
    skipped_md, skipped_html = _skipped_parts(dict(skipped or {}))
    md_parts += skipped_md
    html_parts += [*skipped_html, "</body></html>"]
    written["markdown"] = out / "report.md"
    written["markdown"].write_text("\n".join(md_parts), encoding="utf-8")
    written["html"] = out / "report.html"
    written["html"].write_text("\n".join(html_parts), encoding="utf-8")
    written["scores"] = out / "scores.csv"
    frames = [frame for frame in map(_scores_frame, results) if not frame.empty]
    scores = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    scores.to_csv(written["scores"], index=False)
    return written
