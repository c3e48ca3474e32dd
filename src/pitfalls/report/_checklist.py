"""The report's checklist section: each guideline item judged from the sections' data.

Every item of :data:`~pitfalls.report.GUIDELINE_ITEMS` has one rule in :data:`RULES`,
a small function of the report's sections that reads only the ``data`` keys the
report guide documents. A rule answers with a verdict:

* ``evidenced``: the data show what the item asks, and the sentence gives the number;
* ``failed``: the item asks for something the data show is absent or violated (a
  patient in two splits, metrics without confidence intervals);
* ``needs_author``: the data cannot answer (a section is not available, or the item
  is about something no manifest holds, such as how the labels were obtained); the
  sentence says what to write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import pandas as pd

from ..audit import CHECKLIST
from ._guidelines import GUIDELINE_ITEMS, GUIDELINES, GuidelineItem
from ._model import ReportTable, Section

__all__ = ["RULES", "VERDICTS", "fill_checklist"]

VERDICTS: tuple[str, ...] = ("evidenced", "failed", "needs_author")


class _Verdict(NamedTuple):
    verdict: str
    sentence: str  # the finding or the number; for needs_author, what the data say (may be "")
    source: str | None  # the section key the sentence came from


Rule = Callable[[Mapping[str, Section]], _Verdict]


def _evidenced(sentence: str, source: str) -> _Verdict:
    return _Verdict("evidenced", sentence, source)


def _failed(sentence: str, source: str) -> _Verdict:
    return _Verdict("failed", sentence, source)


def _needs(sentence: str = "", source: str | None = None) -> _Verdict:
    return _Verdict("needs_author", sentence, source)


# ------------------------------------------------------------------ reading the data


def _data(sections: Mapping[str, Section], key: str) -> dict[str, Any] | None:
    """The section's data, or None when it is absent or not available."""
    section = sections.get(key)
    if section is None or section.status == "not_available":
        return None
    return section.data


def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return str(value)
    return f"{float(value):.3g}"


def _percent(value: float) -> str:
    return f"{100 * value:.0f}%"


def _counts(mapping: Mapping[str, Any] | None) -> str:
    return ", ".join(f"{key}={_num(n)}" for key, n in (mapping or {}).items()) or "none"


def _audit_codes(sections: Mapping[str, Section], wanted: Iterable[str]) -> list[str]:
    audit = _data(sections, "audit")
    found = (audit or {}).get("codes") or {}
    return sorted(code for code in wanted if code in found)


def _metric_entries(perf: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(split, metric, entry) for every metric of every evaluation split."""
    return [
        (split, name, entry)
        for split, result in (perf.get("splits") or {}).items()
        for name, entry in (result.get("metrics") or {}).items()
    ]


def _has_ci(entry: Mapping[str, Any]) -> bool:
    return entry.get("low") is not None and entry.get("high") is not None


def _with_ci(entry: Mapping[str, Any], confidence: Any = None) -> str:
    value = _num(entry.get("value"))
    if not _has_ci(entry):
        return value
    level = f"{_percent(confidence)} CI " if confidence else "CI "
    return f"{value} ({level}{_num(entry['low'])} to {_num(entry['high'])})"


_HEADLINE_METRICS = ("roc_auc", "balanced_accuracy", "average_precision", "f1", "accuracy")


def _headline(perf: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]] | None:
    """The metric a reader looks at first: ROC AUC, else balanced accuracy, ..."""
    entries = [e for e in _metric_entries(perf) if e[2].get("value") is not None]
    for wanted in _HEADLINE_METRICS:
        for entry in entries:
            if entry[1] == wanted:
                return entry
    return entries[0] if entries else None


def _describe(perf: Mapping[str, Any], entry: tuple[str, str, dict[str, Any]]) -> str:
    split, name, values = entry
    return f"{name} {_with_ci(values, perf.get('confidence'))} on split '{split}'"


def _cohort_splits(cohort: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(cohort.get("splits") or [])


def _site_names(cohort: Mapping[str, Any] | None) -> set[str]:
    names: set[str] = set()
    for split in _cohort_splits(cohort or {}):
        names.update(split.get("sites") or {})
    return names


def _site_column(sections: Mapping[str, Section]) -> tuple[str, dict[str, Any]] | None:
    """The subgroups column whose levels are the cohort's sites (the site column)."""
    sites = _site_names(_data(sections, "cohort"))
    columns = (_data(sections, "subgroups") or {}).get("columns") or {}
    for name, column in columns.items():
        levels = set(column.get("levels") or {})
        if sites and levels and levels <= sites:
            return name, column
    return None


# ------------------------------------------------------------------ rules: Table 4


def _step_after_split(number: int, pitfall: str) -> Rule:
    """Table 4 items 1 to 3: a pipeline step (resampling, ...) done after the split."""
    codes = next(item.audit_codes for item in CHECKLIST if item.number == number)
    label = pitfall.replace("_", " ")

    def rule(sections: Mapping[str, Section]) -> _Verdict:
        found = _audit_codes(sections, codes)
        if found:
            return _failed(
                f"The audit found {len(found)} finding code(s) ({', '.join(found)}): copies "
                f"of samples in more than one split, the trace of {label} before the split.",
                "audit",
            )
        results = (_data(sections, "leakage") or {}).get("results") or []
        for result in results:
            if result.get("pitfall") == pitfall:
                return _evidenced(
                    f"leakage_gap measured {label}: the correct protocol scored "
                    f"{_num(result.get('correct_mean'))} {result.get('metric')} against "
                    f"{_num(result.get('leaky_mean'))} for the leaky one over "
                    f"{_num(result.get('n_repeats'))} repeats.",
                    "leakage",
                )
        return _needs(f"A manifest cannot show where {label} ran.")

    return rule


def _patients_disjoint(sections: Mapping[str, Section]) -> _Verdict:
    cohort = _data(sections, "cohort")
    crossing = list((cohort or {}).get("patients_in_several_splits") or [])
    if cohort is not None and crossing:
        shown = ", ".join(repr(str(pid)) for pid in crossing[:3])
        return _failed(
            f"{len(crossing)} of {_num(cohort.get('n_patients'))} patients have samples in "
            f"more than one split (e.g. {shown}).",
            "cohort",
        )
    if _audit_codes(sections, ("PF101",)):
        return _failed("The audit found PF101: patients with samples in several splits.", "audit")
    if cohort is None:
        return _needs()
    return _evidenced(
        f"0 of {_num(cohort.get('n_patients'))} patients have samples in more than one of "
        f"the {len(_cohort_splits(cohort))} splits: they are disjoint at the patient level.",
        "cohort",
    )


_IMBALANCE_ROBUST = ("balanced_accuracy", "roc_auc", "f1", "average_precision", "mcc")


def _not_accuracy_alone(sections: Mapping[str, Section]) -> _Verdict:
    perf = _data(sections, "performance")
    if perf is None:
        return _needs()
    for entry in _metric_entries(perf):
        if entry[1] in _IMBALANCE_ROBUST and entry[2].get("value") is not None:
            return _evidenced(f"{_describe(perf, entry)} is reported.", "performance")
    if _audit_codes(sections, ("PF301",)):
        return _failed(
            f"The classes are imbalanced (audit PF301) and none of the "
            f"{len(_metric_entries(perf))} metrics reported allows for it.",
            "performance",
        )
    audit = _data(sections, "audit")
    if audit is None:
        return _needs()
    return _evidenced(
        f"The audit flags no class imbalance (no PF301 among its "
        f"{_num(audit.get('n_findings'))} findings).",
        "audit",
    )


def _precision_and_recall(sections: Mapping[str, Section]) -> _Verdict:
    perf = _data(sections, "performance")
    if perf is None:
        return _needs()
    for split, result in (perf.get("splits") or {}).items():
        metrics = result.get("metrics") or {}
        recall = metrics.get("recall") or metrics.get("sensitivity")
        precision = metrics.get("precision")
        if recall and precision and recall.get("value") is not None:
            return _evidenced(
                f"Precision {_num(precision.get('value'))} and recall "
                f"{_num(recall.get('value'))} are reported on split '{split}'.",
                "performance",
            )
    return _failed(
        f"Precision and recall are missing from the {len(_metric_entries(perf))} metrics reported.",
        "performance",
    )


def _naive_baseline(sections: Mapping[str, Section]) -> _Verdict:
    perf = _data(sections, "performance")
    if perf is None:
        return _needs()
    entries = _metric_entries(perf)
    with_baseline = [
        e for e in entries if e[2].get("majority") is not None or e[2].get("stratified") is not None
    ]
    if not with_baseline:
        return _failed(
            f"None of the {len(entries)} metrics has a baseline beside it.", "performance"
        )
    splits = perf.get("splits") or {}
    beating = sum(bool(result.get("beats_baselines")) for result in splits.values())
    return _evidenced(
        f"Majority and stratified baselines stand beside {len(with_baseline)} of "
        f"{len(entries)} metrics; the model beats them on {beating} of {len(splits)} "
        "evaluation split(s).",
        "performance",
    )


def _external_test(sections: Mapping[str, Section]) -> _Verdict:
    external = _data(sections, "external")
    tests = (external or {}).get("external") or []
    if external is None or not tests:
        return _needs("No external (site-held-out) test set was evaluated.")
    internal = external.get("internal") or {}
    return _evidenced(
        f"External split '{tests[0].get('split')}' scored {_with_ci(tests[0])} "
        f"{internal.get('metric')} against {_with_ci(internal)} on internal split "
        f"'{internal.get('split')}' (gap {_num(external.get('gap'))}, from "
        f"{external.get('source')}).",
        "external",
    )


def _centre_distributions(sections: Mapping[str, Section]) -> _Verdict:
    found = _audit_codes(sections, next(i.audit_codes for i in CHECKLIST if i.number == 9))
    if found:
        return _failed(
            f"The audit found {len(found)} site finding code(s) ({', '.join(found)}): the "
            "class or site mix differs between centres or splits.",
            "audit",
        )
    cohort = _data(sections, "cohort")
    n_sites = (cohort or {}).get("n_sites")
    if n_sites is None:
        return _needs("No site column was given.")
    if n_sites <= 1:
        return _evidenced(f"{n_sites} site: a single-centre study has no mix to keep.", "cohort")
    audit = _data(sections, "audit")
    if audit is None:
        return _needs(f"{n_sites} sites, but the audit did not run.", "cohort")
    return _evidenced(
        f"{n_sites} sites; the audit found neither site-label confounding (PF201) nor a "
        "differing site mix (PF202).",
        "audit",
    )


# ------------------------------------------------------------------ rules: the cohort


def _data_sources(sections: Mapping[str, Section]) -> _Verdict:
    cohort = _data(sections, "cohort")
    if cohort is None or cohort.get("n_sites") is None:
        return _needs("No site column was given, so the sources are not counted.")
    per_site: dict[str, int] = {}
    for split in _cohort_splits(cohort):
        for site, n in (split.get("sites") or {}).items():
            per_site[site] = per_site.get(site, 0) + int(n)
    return _evidenced(
        f"{cohort['n_sites']} site(s) contribute {_num(cohort.get('n_samples'))} samples "
        f"({_counts(per_site)}).",
        "cohort",
    )


def _missing_data(sections: Mapping[str, Section]) -> _Verdict:
    missing = (_data(sections, "cohort") or {}).get("missing") or {}
    if not missing:
        return _needs()
    total = sum(int(n) for n in missing.values())
    if total == 0:
        return _evidenced(f"0 values are missing in the {len(missing)} columns used.", "cohort")
    shown = {column: n for column, n in missing.items() if n}
    return _needs(f"{total} value(s) are missing ({_counts(shown)}).", "cohort")


def _partition_sizes(sections: Mapping[str, Section]) -> _Verdict:
    splits = _cohort_splits(_data(sections, "cohort") or {})
    if not splits:
        return _needs()
    total = sum(int(s.get("patients") or 0) for s in splits) or 1
    sizes = ", ".join(
        f"'{s.get('split')}' {_num(s.get('patients'))} patients "
        f"({_percent(int(s.get('patients') or 0) / total)}, {_num(s.get('samples'))} samples)"
        for s in splits
    )
    return _evidenced(f"{len(splits)} partition(s): {sizes}.", "cohort")


def _events_per_split(sections: Mapping[str, Section]) -> _Verdict:
    splits = _cohort_splits(_data(sections, "cohort") or {})
    if not splits:
        return _needs()
    sizes = "; ".join(
        f"'{s.get('split')}' {_num(s.get('patients'))} patients ({_counts(s.get('classes'))})"
        for s in splits
    )
    return _evidenced(f"Patients per split and class: {sizes}.", "cohort")


def _class_mix_by_split(sections: Mapping[str, Section]) -> _Verdict:
    splits = _cohort_splits(_data(sections, "cohort") or {})
    labels = sorted({str(label) for s in splits for label in (s.get("classes") or {})})
    if len(splits) < 2 or not labels:
        return _needs(f"{len(splits)} split(s): nothing to compare.", "cohort")
    # the performance section's positive label, else the report's default: the larger, as text
    given = str((_data(sections, "performance") or {}).get("pos_label"))
    positive = given if given in labels else labels[-1]
    shares = []
    for s in splits:
        classes = s.get("classes") or {}
        n = sum(int(v) for v in classes.values())
        k = int(classes.get(positive, 0))
        share = _percent(k / n) if n else "n/a"
        shares.append(f"'{s.get('split')}' {share} ({k} of {n} patients)")
    return _evidenced(f"Share of class '{positive}' by split: {', '.join(shares)}.", "cohort")


def _participant_flow(sections: Mapping[str, Section]) -> _Verdict:
    cohort = _data(sections, "cohort")
    if cohort is None:
        return _needs()
    return _evidenced(
        f"{_num(cohort.get('n_patients'))} patients ({_num(cohort.get('n_samples'))} samples) "
        f"are included; samples per class: {_counts(cohort.get('label_counts'))}.",
        "cohort",
    )


# ------------------------------------------------------------------ rules: performance


def _metrics_reported(sections: Mapping[str, Section]) -> _Verdict:
    perf = _data(sections, "performance")
    entries = _metric_entries(perf) if perf else []
    headline = _headline(perf) if perf else None
    if perf is None or headline is None:
        return _needs()
    names = sorted({name for _, name, _ in entries})
    return _evidenced(
        f"{len(names)} metrics on {len(perf.get('splits') or {})} evaluation split(s), "
        f"e.g. {_describe(perf, headline)}.",
        "performance",
    )


def _confidence_intervals(sections: Mapping[str, Section]) -> _Verdict:
    perf = _data(sections, "performance")
    if perf is None or not _metric_entries(perf):
        return _needs()
    with_ci = [e for e in _metric_entries(perf) if _has_ci(e[2])]
    if not with_ci:
        return _failed(
            f"None of the {len(_metric_entries(perf))} metrics has a confidence interval.",
            "performance",
        )
    return _evidenced(
        f"{len(with_ci)} metrics carry {perf.get('unit')}-level bootstrap confidence "
        f"intervals ({_num(perf.get('n_bootstraps'))} replicates), e.g. "
        f"{_describe(perf, with_ci[0])}.",
        "performance",
    )


def _headline_with_ci(sections: Mapping[str, Section]) -> _Verdict:
    perf = _data(sections, "performance")
    headline = _headline(perf) if perf else None
    if perf is None or headline is None:
        return _needs()
    if not _has_ci(headline[2]):
        return _failed(f"{_describe(perf, headline)} has no confidence interval.", "performance")
    return _evidenced(f"{_describe(perf, headline)}.", "performance")


def _sensitivity_specificity(sections: Mapping[str, Section]) -> _Verdict:
    perf = _data(sections, "performance")
    if perf is None:
        return _needs()
    for split, result in (perf.get("splits") or {}).items():
        metrics = result.get("metrics") or {}
        sensitivity = metrics.get("sensitivity") or metrics.get("recall")
        specificity = metrics.get("specificity")
        if not (sensitivity and specificity and sensitivity.get("value") is not None):
            continue
        pair = (
            f"sensitivity {_with_ci(sensitivity, perf.get('confidence'))} and specificity "
            f"{_with_ci(specificity, perf.get('confidence'))} on split '{split}'"
        )
        if _has_ci(sensitivity) and _has_ci(specificity):
            return _evidenced(f"{pair[0].upper()}{pair[1:]}.", "performance")
        return _failed(f"{pair[0].upper()}{pair[1:]}, without confidence intervals.", "performance")
    return _needs("Sensitivity and specificity are not reported.", "performance")


def _internal_test(sections: Mapping[str, Section]) -> _Verdict:
    perf = _data(sections, "performance")
    if perf is None:
        return _needs()
    cohort = _data(sections, "cohort") or {}
    external = {s.get("split") for s in _cohort_splits(cohort) if s.get("role") == "external"}
    external.update(
        e.get("split") for e in (_data(sections, "external") or {}).get("external") or []
    )
    internal = {k: v for k, v in (perf.get("splits") or {}).items() if k not in external}
    headline = _headline({**perf, "splits": internal})
    if headline is None:
        return _needs("Only external splits were evaluated.", "performance")
    patients = internal[headline[0]].get("patients")
    return _evidenced(
        f"{_describe(perf, headline)} ({_num(patients)} patients held out).", "performance"
    )


def _calibration(sections: Mapping[str, Section]) -> _Verdict:
    calibration = _data(sections, "calibration")
    for split, values in ((calibration or {}).get("splits") or {}).items():
        if values.get("brier") is None:
            continue
        slope = {
            "value": values.get("slope"),
            "low": values.get("slope_low"),
            "high": values.get("slope_high"),
        }
        return _evidenced(
            f"Brier score {_num(values['brier'])}, calibration slope {_with_ci(slope)} and "
            f"intercept {_num(values.get('intercept'))} on split '{split}'.",
            "calibration",
        )
    if _data(sections, "performance") is None:
        return _needs()
    return _needs("Calibration was not computed (no probability scores).", "calibration")


def _subgroup_intervals(sections: Mapping[str, Section]) -> _Verdict:
    overall = _confidence_intervals(sections)
    if overall.verdict != "evidenced":
        return overall
    columns = (_data(sections, "subgroups") or {}).get("columns") or {}
    for name, column in columns.items():
        for level, values in (column.get("levels") or {}).items():
            if _has_ci(values) and values.get("value") is not None:
                return _evidenced(
                    f"{len(columns)} subgroup column(s) with confidence intervals, e.g. "
                    f"{name}='{level}' {column.get('metric')} {_with_ci(values)} "
                    f"({_num(values.get('patients'))} patients).",
                    "subgroups",
                )
    return _needs("Overall metrics have intervals but no subgroup was analysed.", "performance")


def _site_heterogeneity(sections: Mapping[str, Section]) -> _Verdict:
    found = _site_column(sections)
    test = (found[1].get("test") or {}) if found else {}
    if found is None or test.get("statistic") is None:
        return _needs("Performance was not compared across sites.")
    name, column = found
    return _evidenced(
        f"{test.get('name')} across the {len(column.get('levels') or {})} levels of {name} "
        f"on {column.get('metric')}: statistic {_num(test.get('statistic'))}, df "
        f"{_num(test.get('df'))}, p = {_num(test.get('pvalue'))}.",
        "subgroups",
    )


# ------------------------------------------------------------------ rules: the author's


def _author_only(sections: Mapping[str, Section]) -> _Verdict:
    return _needs()


def _cohort_size(sections: Mapping[str, Section]) -> _Verdict:
    """Facts for items only the author can answer: the size the data show."""
    cohort = _data(sections, "cohort")
    if cohort is None:
        return _needs()
    return _needs(
        f"The cohort holds {_num(cohort.get('n_patients'))} patients "
        f"({_num(cohort.get('n_samples'))} samples).",
        "cohort",
    )


def _classes_for_author(sections: Mapping[str, Section]) -> _Verdict:
    cohort = _data(sections, "cohort")
    if cohort is None:
        return _needs()
    return _needs(f"Samples per class: {_counts(cohort.get('label_counts'))}.", "cohort")


def _partition_classes_for_author(sections: Mapping[str, Section]) -> _Verdict:
    splits = _cohort_splits(_data(sections, "cohort") or {})
    if not splits:
        return _needs()
    classes = "; ".join(f"'{s.get('split')}' {_counts(s.get('classes'))}" for s in splits)
    return _needs(f"Patients per class and partition: {classes}; demographics are not.", "cohort")


def _subgroups_for_author(sections: Mapping[str, Section]) -> _Verdict:
    columns = (_data(sections, "subgroups") or {}).get("columns") or {}
    if not columns:
        return _needs()
    return _needs(f"{len(columns)} subgroup column(s) were analysed.", "subgroups")


# One rule per item: (guideline, item number) -> rule. Items sharing a question share
# a rule (CLAIM 20 and Table 4 item 4 both ask whether patients cross splits).
RULES: dict[tuple[str, str], Rule] = {
    ("Table 4", "1"): _step_after_split(1, "oversampling"),
    ("Table 4", "2"): _step_after_split(2, "augmentation"),
    ("Table 4", "3"): _step_after_split(3, "feature_selection"),
    ("Table 4", "4"): _patients_disjoint,
    ("Table 4", "5"): _not_accuracy_alone,
    ("Table 4", "6"): _precision_and_recall,
    ("Table 4", "7"): _naive_baseline,
    ("Table 4", "8"): _external_test,
    ("Table 4", "9"): _centre_distributions,
    ("CLAIM 2024", "7"): _data_sources,
    ("CLAIM 2024", "12"): _missing_data,
    ("CLAIM 2024", "14"): _author_only,
    ("CLAIM 2024", "19"): _partition_sizes,
    ("CLAIM 2024", "20"): _patients_disjoint,
    ("CLAIM 2024", "21"): _cohort_size,
    ("CLAIM 2024", "22"): _author_only,
    ("CLAIM 2024", "23"): _author_only,
    ("CLAIM 2024", "28"): _metrics_reported,
    ("CLAIM 2024", "29"): _confidence_intervals,
    ("CLAIM 2024", "32"): _internal_test,
    ("CLAIM 2024", "33"): _external_test,
    ("CLAIM 2024", "35"): _cohort_size,
    ("CLAIM 2024", "36"): _partition_classes_for_author,
    ("CLAIM 2024", "37"): _headline_with_ci,
    ("CLAIM 2024", "38"): _sensitivity_specificity,
    ("CLAIM 2024", "43"): _author_only,
    ("TRIPOD+AI", "6a"): _data_sources,
    ("TRIPOD+AI", "10"): _cohort_size,
    ("TRIPOD+AI", "11"): _missing_data,
    ("TRIPOD+AI", "12a"): _partition_sizes,
    ("TRIPOD+AI", "12d"): _site_heterogeneity,
    ("TRIPOD+AI", "12e"): _calibration,
    ("TRIPOD+AI", "13"): _classes_for_author,
    ("TRIPOD+AI", "14"): _subgroups_for_author,
    ("TRIPOD+AI", "18e"): _author_only,
    ("TRIPOD+AI", "18f"): _author_only,
    ("TRIPOD+AI", "20a"): _participant_flow,
    ("TRIPOD+AI", "20c"): _class_mix_by_split,
    ("TRIPOD+AI", "21"): _events_per_split,
    ("TRIPOD+AI", "22"): _author_only,
    ("TRIPOD+AI", "23a"): _subgroup_intervals,
    ("TRIPOD+AI", "23b"): _site_heterogeneity,
}


# ------------------------------------------------------------------ the section


def _judge(item: GuidelineItem, sections: Mapping[str, Section]) -> dict[str, Any]:
    verdict, sentence, source = RULES[(item.guideline, item.item)](sections)
    if verdict == "needs_author":
        sentence = f"{sentence} Write: {item.author}.".strip()
    if source is not None:
        sentence = f"{sentence} [{source}]"
    return {
        "guideline": item.guideline,
        "item": item.item,
        "topic": item.topic,
        "verdict": verdict,
        "evidence": sentence,
        "source": source,
    }


def _count(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {verdict: sum(row["verdict"] == verdict for row in rows) for verdict in VERDICTS}


def _summary(rows: list[dict[str, Any]]) -> tuple[str, ...]:
    def phrase(counts: dict[str, int]) -> str:
        return (
            f"{counts['evidenced']} evidenced by the data, {counts['failed']} failed, "
            f"{counts['needs_author']} need the author"
        )

    text = [f"{len(rows)} guideline items: {phrase(_count(rows))}."]
    for guideline in GUIDELINES.values():
        own = [row for row in rows if row["guideline"] == guideline.name]
        text.append(f"{guideline.name} ({len(own)} items): {phrase(_count(own))}.")
    failed = [
        f"{r['guideline']} item {r['item']} ({r['topic']})"
        for r in rows
        if r["verdict"] == "failed"
    ]
    if failed:
        text.append(f"Failed: {'; '.join(failed)}.")
    return tuple(text)


_COLUMNS = ("guideline", "item", "topic", "verdict", "evidence", "source")


def fill_checklist(sections: Mapping[str, Section]) -> Section:
    """Judge every guideline item from the report's sections: the ``checklist`` section.

    Each item of :data:`~pitfalls.report.GUIDELINE_ITEMS` (the paper's Table 4, CLAIM
    2024, TRIPOD+AI) gets one verdict from its rule in :data:`RULES`, which reads only
    the documented ``data`` keys of the sections: ``evidenced`` (the sentence gives the
    number and, in brackets, the section it came from), ``failed`` (the data show the
    item is violated or what it asks is absent), or ``needs_author`` (the data cannot
    answer; the sentence says what to write). A missing section, or one with status
    ``"not_available"``, evidences nothing.

    Parameters
    ----------
    sections : mapping of str to Section
        The report's other sections by key (``StudyReport.sections`` will do); a
        ``"checklist"`` entry is ignored.

    Returns
    -------
    Section
        Key ``"checklist"``; status ``"failed"`` if any item failed, else
        ``"attention"`` if any needs the author, else ``"ok"``; one table ``"items"``
        (columns guideline, item, topic, verdict, evidence, source); ``data`` holds
        ``items`` (the table's rows) and ``counts`` (items per verdict).

    Examples
    --------
    >>> from pitfalls.report import Section, fill_checklist
    >>> cohort = Section("cohort", "Cohort", "ok", data={
    ...     "n_samples": 6, "n_patients": 3, "n_sites": None, "label_counts": {"0": 3, "1": 3},
    ...     "patients_in_several_splits": ["p2"], "missing": {"label": 0},
    ...     "splits": [{"split": "train", "role": "train", "samples": 4, "patients": 2,
    ...                 "classes": {"0": 1, "1": 1}, "sites": None},
    ...                {"split": "test", "role": "test", "samples": 2, "patients": 2,
    ...                 "classes": {"0": 1, "1": 1}, "sites": None}]})
    >>> checklist = fill_checklist({"cohort": cohort})
    >>> checklist.status, checklist.data["counts"]
    ('failed', {'evidenced': 7, 'failed': 2, 'needs_author': 33})
    >>> row = checklist.data["items"][3]
    >>> row["guideline"], row["item"], row["verdict"]
    ('Table 4', '4', 'failed')
    >>> row["evidence"]
    "1 of 3 patients have samples in more than one split (e.g. 'p2'). [cohort]"
    """
    rows = [_judge(item, sections) for item in GUIDELINE_ITEMS]
    counts = _count(rows)
    if counts["failed"]:
        status = "failed"
    elif counts["needs_author"]:
        status = "attention"
    else:
        status = "ok"
    table = ReportTable(
        "items",
        "Each guideline item with its verdict and the number it rests on, from the "
        "report section named in brackets.",
        # object columns: a missing source stays None (pandas 3's string dtype makes it NaN)
        pd.DataFrame(rows, columns=list(_COLUMNS), dtype=object),
    )
    return Section(
        "checklist",
        "Reporting checklist (Table 4, CLAIM 2024, TRIPOD+AI)",
        status,
        text=_summary(rows),
        tables=(table,),
        data={"items": rows, "counts": counts},
    )
