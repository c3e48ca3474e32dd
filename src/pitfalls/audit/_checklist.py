"""The paper's checklist (Maleki et al., Table 4) as data, and its rendering.

Each item carries the pitfall family it guards against and what a manifest audit
can say about it: some items are verified from the manifest (a patient spread over
splits, site mix), some only hinted at (oversampling or augmentation done before the
split leaves exact or near copies across splits), and some can only be checked by
reading the code (feature selection inside cross-validation).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

__all__ = ["CHECKLIST", "ChecklistItem", "format_checklist"]


@dataclass(frozen=True)
class ChecklistItem:
    """One guideline of the paper's Table 4.

    Parameters
    ----------
    number : int
        Position in Table 4 (1 to 9).
    text : str
        The guideline, worded as in the paper.
    pitfall : str
        The family it guards against: ``"leakage"``, ``"metrics"`` or ``"batch effect"``.
    audit_codes : tuple of str
        Audit checks whose findings bear on this item (empty when a manifest cannot).
    how : str
        How to follow the guideline with :mod:`pitfalls`.

    Examples
    --------
    >>> from pitfalls.audit import CHECKLIST
    >>> CHECKLIST[3].text
    'Data points for a patient are not distributed across training, validation, and test sets.'
    >>> CHECKLIST[3].audit_codes
    ('PF101', 'PF102', 'PF103')
    """

    number: int
    text: str
    pitfall: str
    audit_codes: tuple[str, ...]
    how: str


CHECKLIST: tuple[ChecklistItem, ...] = (
    ChecklistItem(
        1,
        "Oversampling of data is done after splitting data into training, validation, "
        "and test sets.",
        "leakage",
        # Random oversampling before the split copies rows into every split.
        ("PF102", "PF103"),
        "Put the sampler inside pitfalls.pipeline.Pipeline so it only runs in fit; "
        "exact copies across splits are the trace of oversampling before the split.",
    ),
    ChecklistItem(
        2,
        "Data augmentation is applied after splitting data into training, validation, "
        "and test sets.",
        "leakage",
        # Augmented copies of one image land in several splits as near duplicates.
        ("PF104",),
        "Augment on the fly in the training split only (pitfalls.torch.split_datasets "
        "with train_transform=); "
        "near copies across splits are the trace of augmentation before the split.",
    ),
    ChecklistItem(
        3,
        "Feature selection is conducted after splitting data into training, validation, "
        "and test sets.",
        "leakage",
        (),
        "Fit the selector inside pitfalls.pipeline.Pipeline within each training fold; "
        "a manifest cannot show where selection ran.",
    ),
    ChecklistItem(
        4,
        "Data points for a patient are not distributed across training, validation, and test sets.",
        "leakage",
        ("PF101", "PF102", "PF103"),
        "Split by patient with pitfalls.model_selection (StratifiedGroupKFold, "
        "train_val_test_split with groups=) and run pitfalls audit on the result.",
    ),
    ChecklistItem(
        5,
        "Accuracy is not used as a performance indicator for imbalanced datasets.",
        "metrics",
        ("PF301",),
        "Report balanced accuracy, F1, precision and recall with "
        "pitfalls.metrics.classification_summary.",
    ),
    ChecklistItem(
        6,
        "Other performance indicators, such as precision and recall, are reported "
        "alongside accuracy.",
        "metrics",
        (),
        "pitfalls.metrics.classification_summary reports them with confidence intervals.",
    ),
    ChecklistItem(
        7,
        "A baseline for acceptable model performance is provided.",
        "metrics",
        ("PF301",),
        "Report naive baselines beside the model (pitfalls.baselines.naive_baseline_summary); "
        "for segmentation the air-in-body threshold baseline beside Dice/IoU "
        "(pitfalls.baselines.segmentation_baseline_report).",
    ),
    ChecklistItem(
        8,
        "An external dataset is used to provide an unbiased estimate of generalization "
        "error (if possible).",
        "batch effect",
        ("PF203", "PF204"),
        "Hold out whole sites as the test set; compare internal and external scores.",
    ),
    ChecklistItem(
        9,
        "In multicenter studies, similar data distributions across centers are kept to "
        "avoid batch effect.",
        "batch effect",
        ("PF201", "PF202"),
        "Check site-label confounding with pitfalls.batch_effects.confounding_test and "
        "keep the class mix similar across sites.",
    ),
)

_FORMATS = ("text", "markdown", "json")


def format_checklist(fmt: str = "text", *, status: dict[int, str] | None = None) -> str:
    """Render the checklist as plain text, Markdown or JSON.

    Parameters
    ----------
    fmt : {"text", "markdown", "json"}, default="text"
        Output format (``"md"`` is accepted for ``"markdown"``).
    status : dict of int -> str, optional
        Status per item number (e.g. from :meth:`AuditReport.checklist`), shown
        beside each item.

    Returns
    -------
    str

    Examples
    --------
    >>> from pitfalls.audit import format_checklist
    >>> print(format_checklist().splitlines()[2])
     1. [leakage] Oversampling of data is done after splitting data into training, validation, and test sets.
    >>> format_checklist("pdf")
    Traceback (most recent call last):
    ...
    ValueError: fmt='pdf' is not one of 'text', 'markdown', 'json'.
    """
    fmt = "markdown" if fmt == "md" else fmt
    if fmt not in _FORMATS:
        raise ValueError(f"fmt={fmt!r} is not one of {', '.join(map(repr, _FORMATS))}.")
    status = status or {}
    if fmt == "json":
        items = [{**asdict(item), "status": status.get(item.number)} for item in CHECKLIST]
        return json.dumps({"title": _TITLE, "items": items}, indent=2)
    if fmt == "markdown":
        lines = [
            f"## {_TITLE}",
            "",
            "| # | Guideline | Pitfall | How |",
            "| --- | --- | --- | --- |",
        ]
        for item in CHECKLIST:
            mark = f" **{status[item.number]}**" if item.number in status else ""
            lines.append(f"| {item.number} | {item.text}{mark} | {item.pitfall} | {item.how} |")
        return "\n".join(lines) + "\n"
    lines = [_TITLE, "=" * len(_TITLE)]
    for item in CHECKLIST:
        mark = f"  [{status[item.number]}]" if item.number in status else ""
        lines.append(f"{item.number:2d}. [{item.pitfall}] {item.text}{mark}")
        lines.append(f"    how: {item.how}")
    return "\n".join(lines) + "\n"


_TITLE = "Checklist for avoiding methodological pitfalls (Maleki et al., Table 4)"
