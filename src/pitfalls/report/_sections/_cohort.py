"""Cohort: patients, samples, classes and sites per split, counted from the manifest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ...audit import split_role
from .._data import EvaluationSet, StudyData
from .._model import ReportFigure, ReportTable, Section
from ._figures import grouped_bars

__all__ = ["cohort_section"]


def _distinct(*codes_and_sizes: tuple[np.ndarray, int]) -> np.ndarray:
    """Distinct combinations of several integer codes, as one mixed-radix code each."""
    combined = np.zeros(codes_and_sizes[0][0].size, dtype=np.int64)
    for codes, size in codes_and_sizes:
        combined = combined * size + codes
    return np.unique(combined)


@dataclass(frozen=True)
class _Counts:
    samples: np.ndarray  # per split
    patients: np.ndarray  # per split
    class_patients: np.ndarray  # split x label
    class_samples: np.ndarray  # split x label
    site_samples: np.ndarray | None  # split x site
    several: np.ndarray  # patient codes with samples in more than one split


def _count(data: StudyData) -> _Counts:
    n_splits, n_groups = len(data.split_names), len(data.group_names)
    split, group = data.split_codes, data.group_codes
    samples = np.bincount(split, minlength=n_splits)
    pairs = _distinct((group, n_groups), (split, n_splits))
    patients = np.bincount(pairs % n_splits, minlength=n_splits)
    splits_per_patient = np.bincount(pairs // n_splits, minlength=n_groups)
    labelled = data.label_codes >= 0
    label = data.label_codes[labelled]
    triples = _distinct((group[labelled], n_groups), (split[labelled], n_splits), (label, 2))
    class_patients = np.bincount(triples % (2 * n_splits), minlength=2 * n_splits)
    class_samples = np.bincount(split[labelled] * 2 + label, minlength=2 * n_splits)
    site_samples = None
    if data.site_codes is not None and data.site_names is not None:
        k = len(data.site_names)
        known = data.site_codes >= 0
        cells = split[known] * k + data.site_codes[known]
        site_samples = np.bincount(cells, minlength=n_splits * k).reshape(n_splits, k)
    return _Counts(
        samples,
        patients,
        class_patients.reshape(n_splits, 2),
        class_samples.reshape(n_splits, 2),
        site_samples,
        np.flatnonzero(splits_per_patient > 1),
    )


def split_roles(data: StudyData, plan: list[EvaluationSet]) -> list[str | None]:
    """Role of each split: external or test when evaluated as such, else from its name."""
    planned = {s.name: s.role for s in plan}
    return [planned.get(name) or split_role(name) for name in data.split_names]


def _data(data: StudyData, counts: _Counts, roles: list[str | None]) -> dict[str, Any]:
    splits = []
    for s, name in enumerate(data.split_names):
        sites = None
        if counts.site_samples is not None and data.site_names is not None:
            sites = {
                site: int(n)
                for site, n in zip(data.site_names, counts.site_samples[s], strict=True)
                if n
            }
        splits.append(
            {
                "split": name,
                "role": roles[s],
                "samples": int(counts.samples[s]),
                "patients": int(counts.patients[s]),
                "classes": {
                    label: int(n)
                    for label, n in zip(data.label_names, counts.class_patients[s], strict=True)
                },
                "sites": sites,
            }
        )
    label_counts = np.bincount(data.label_codes[data.label_codes >= 0], minlength=2)
    return {
        "n_samples": data.n_samples,
        "n_patients": len(data.group_names),
        "n_sites": None if data.site_names is None else len(data.site_names),
        "splits": splits,
        "patients_in_several_splits": [str(v) for v in data.group_names[counts.several]],
        "missing": dict(data.missing),
        "label_counts": {
            label: int(n) for label, n in zip(data.label_names, label_counts, strict=True)
        },
    }


def _tables(data: StudyData, counts: _Counts, roles: list[str | None]) -> list[ReportTable]:
    index = pd.Index(data.split_names, name="split")
    splits = pd.DataFrame(
        {"role": [r or "" for r in roles], "samples": counts.samples, "patients": counts.patients},
        index=index,
    )
    for k, label in enumerate(data.label_names):
        splits[f"patients {label}"] = counts.class_patients[:, k]
        splits[f"samples {label}"] = counts.class_samples[:, k]
    tables = [
        ReportTable(
            "splits",
            "Samples and patients per split, and per class (a patient with samples of both "
            "classes counts in each); counted from the manifest.",
            splits,
        )
    ]
    if counts.site_samples is not None and data.site_names is not None:
        sites = pd.DataFrame(
            counts.site_samples, index=index, columns=pd.Index(data.site_names, name="site")
        )
        tables.append(ReportTable("sites", "Samples per split and site.", sites))
    missing = pd.DataFrame(
        {"missing": list(data.missing.values())},
        index=pd.Index(list(data.missing), name="column"),
    )
    tables.append(ReportTable("missing", "Missing values in every column used.", missing))
    return tables


def _figures(data: StudyData, counts: _Counts) -> list[ReportFigure]:
    index = pd.Index(data.split_names, name="split")
    classes = pd.DataFrame(
        counts.class_patients, index=index, columns=pd.Index(data.label_names, name="class")
    )
    figures = [
        ReportFigure(
            "classes",
            "Patients per split and class.",
            lambda: grouped_bars(classes, title="Patients per split and class", ylabel="patients"),
        )
    ]
    if counts.site_samples is not None and data.site_names is not None:
        sites = pd.DataFrame(
            counts.site_samples, index=index, columns=pd.Index(data.site_names, name="site")
        )
        figures.append(
            ReportFigure(
                "sites",
                "Samples per split, stacked by site.",
                lambda: grouped_bars(
                    sites, title="Samples per split and site", ylabel="samples", stacked=True
                ),
            )
        )
    return figures


def _text(data: StudyData, content: dict[str, Any]) -> list[str]:
    split_names = ", ".join(data.split_names)
    sites = "" if content["n_sites"] is None else f", {content['n_sites']} site(s)"
    label = ", ".join(f"{k}: {v}" for k, v in content["label_counts"].items())
    text = [
        f"{content['n_samples']} samples from {content['n_patients']} patients in "
        f"{len(data.split_names)} split(s) ({split_names}){sites}.",
        f"Samples per class ({data.columns['label']}): {label}.",
    ]
    several = content["patients_in_several_splits"]
    if several:
        shown = ", ".join(repr(v) for v in several[:3])
        text.append(
            f"{len(several)} patient(s) have samples in more than one split (e.g. {shown}); "
            "their samples are not independent across splits (audit finding PF101)."
        )
    else:
        text.append("No patient has samples in more than one split.")
    missing = {k: v for k, v in content["missing"].items() if v}
    if missing:
        text.append("Missing values: " + ", ".join(f"{k} {v}" for k, v in missing.items()) + ".")
    else:
        text.append("No missing values in the columns used.")
    return text


def cohort_section(data: StudyData, plan: list[EvaluationSet]) -> Section:
    """Patients, samples, classes and sites per split (numpy counts on the manifest codes)."""
    counts = _count(data)
    roles = split_roles(data, plan)
    content = _data(data, counts, roles)
    if counts.several.size:
        status = "failed"
    elif any(content["missing"].values()):
        status = "attention"
    else:
        status = "ok"
    return Section(
        "cohort",
        "Cohort",
        status,
        text=tuple(_text(data, content)),
        tables=tuple(_tables(data, counts, roles)),
        figures=tuple(_figures(data, counts)),
        data=content,
    )
