"""The audit checks: small functions in a registry, each with a stable code.

A check takes the prepared manifest (:class:`AuditData`, factorised columns and
hashes) and returns zero or more :class:`Finding`. Each finding carries the complete
list of what it affects (:attr:`Finding.affected`, one record per affected row,
pair, site, class or split). Codes never change meaning:

======  ==============================  ==========================================
code    name                            what it looks for
======  ==============================  ==========================================
PF101   group-in-several-splits         a patient with samples in two splits
PF102   duplicate-images-across-splits  identical decoded pixels in two splits
PF103   duplicate-rows-across-splits    identical feature rows in two splits
PF104   near-duplicate-images           near copies across splits (verified)
PF105   duplicate-images-within-split   identical images inside one split
PF106   duplicate-rows-within-split     identical feature rows inside one split
PF107   conflicting-duplicate-labels    identical samples with different labels
PF108   low-information-images          (nearly) blank images, not searched for near copies
PF109   near-duplicate-rows             near-identical feature rows in two splits
PF110   no-test-split                   no held-out split at all, or none named test
PF111   test-older-than-train           test samples dated before training ones
PF201   site-label-confounding          the site predicts the label (tested on patients)
PF202   site-mix-differs                site proportions differ between splits
PF203   site-in-one-split               a site seen by only one split
PF204   no-external-test                no site held out for testing
PF301   class-imbalance                 accuracy misleads
PF302   class-missing-from-split        a class absent from a split
PF303   tiny-split                      too few rows, patients or class members
PF304   missing-labels                  rows without a label
======  ==============================  ==========================================

Leakage types follow Kapoor & Narayanan (2023, *Patterns*): L1.1 no test set,
L1.2 preprocessing on train+test, L1.3 feature selection on train+test, L1.4
duplicates, L2 illegitimate features, L3.1 temporal leakage, L3.2 non-independence
between train and test, L3.3 sampling bias in the test distribution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._compat import bitwise_count
from .._validation import describe_values
from ._hashing import ImageHashes
from ._search import hamming_pairs, thumbnail_correlation

__all__ = [
    "AFFECTED_COLUMNS",
    "CHECKS",
    "SEVERITIES",
    "AuditData",
    "Check",
    "Finding",
    "NearSearch",
    "split_role",
]

SEVERITIES = ("high", "medium", "low", "info")

# Thresholds, documented in audit()'s docstring.
TINY_SPLIT_ROWS = 30
TINY_SPLIT_GROUPS = 10
TINY_CLASS_ROWS = 5
IMBALANCE_LOW = 1.5
IMBALANCE_MEDIUM = 4.0
MAX_EXAMPLES = 5
# Near-duplicate verification (PF104). Hash candidates are checked on the 64x64
# thumbnails, aligned to a fraction of a pixel within NEAR_MAX_SHIFT px
# (see _search.thumbnail_correlation). A pair is admitted by either of two rules:
# - "fine detail": the fine detail (the thumbnail minus its blur: texture and noise,
#   the anatomy images of one kind share cancelled) correlates at
#   NearSearch.min_correlation (default NEAR_MIN_DETAIL_CORRELATION);
# - "grey levels": where the hashes are discriminative (neither image has more than
#   NEAR_CROWDED coarse-hash candidates in the other split), the aligned grey levels
#   correlate at NEAR_MIN_INTENSITY_CORRELATION. Images of one kind (chest X-rays)
#   crowd each other's hash neighbourhood and unrelated ones correlate at up to
#   0.995 in grey levels, which is why the rule needs an uncrowded neighbourhood.
# Measured: copies after brightness/contrast change, noise, JPEG, resizing, flips
# and 1-px shifts reach 0.8-1 in fine detail; unrelated hash candidates among
# synthetic X-rays (make_batch_xray, 128 px) 0.84 for 1 in 100 and at most 0.94
# (renderings of one template that differ by their noise).
NEAR_MIN_DETAIL_CORRELATION = 0.75
NEAR_MIN_INTENSITY_CORRELATION = 0.9
NEAR_CROWDED = 1
NEAR_MAX_SHIFT = 2

# Columns of the affected records, in this order (see Finding.affected and the
# JSON schema in docs/audit.rst). A check fills the ones that apply to it.
AFFECTED_COLUMNS = (
    "item",
    "row",
    "group",
    "split",
    "path",
    "other_row",
    "other_group",
    "other_split",
    "other_path",
    "distance",
    "detail_distance",
    "row_distance",
    "detail_correlation",
    "intensity_correlation",
    "orientation",
    "rule",
    "measure",
    "site",
    "label",
    "time",
    "n_rows",
    "n_groups",
    "note",
)

_ROLE_NAMES = {
    "train": {"train", "training", "trn", "tr", "fit"},
    "val": {"val", "valid", "validation", "tune", "tuning", "dev", "development"},
    "test": {
        "test",
        "testing",
        "tst",
        "te",
        "holdout",
        "hold-out",
        "hold_out",
        "external",
        "ext",
        "external_test",
        "external-test",
        "ext_test",
        "eval",
        "evaluation",
        "heldout",
        "held-out",
        "held_out",
    },
}


def split_role(name: Any) -> str | None:
    """Role of a split from its name: ``"train"``, ``"val"``, ``"test"`` or None.

    Examples
    --------
    >>> from pitfalls.audit import split_role
    >>> split_role("Training"), split_role("hold-out"), split_role("fold3")
    ('train', 'test', None)
    """
    key = str(name).strip().lower()
    for role, names in _ROLE_NAMES.items():
        if key in names:
            return role
    return None


@dataclass
class Finding:
    """One problem found by a check, with the complete list of what it affects.

    Attributes
    ----------
    code, check, severity, title, detail : str
        Stable code (``PF101``), check name, ``high``/``medium``/``low``/``info``,
        one-line title and a sentence with counts.
    n_affected : int
        Rows (samples) concerned.
    examples : list of str
        The first few affected items in words (at most 5); :attr:`affected` has all.
    checklist : tuple of int
        Items of the paper's Table 4 this bears on.
    leakage_types : tuple of str
        Kapoor & Narayanan leakage types.
    unit : str
        What one affected item is: ``"patient"``, ``"duplicate set"``, ``"pair"``,
        ``"row"``, ``"site"``, ``"class"`` or ``"split"``.
    affected : pandas.DataFrame
        Every affected item, one record per row (or pair, site, class, split), with
        the columns of :data:`AFFECTED_COLUMNS` that apply; records of one item share
        its number in ``item`` (1, 2, ...). Documented in the audit guide.

    Examples
    --------
    >>> from pitfalls.audit import Finding
    >>> f = Finding("PF101", "group-in-several-splits", "high", "t", "d", 2)
    >>> f.severity, f.n_items
    ('high', 0)
    """

    code: str
    check: str
    severity: str
    title: str
    detail: str
    n_affected: int
    examples: list[str] = field(default_factory=list)
    checklist: tuple[int, ...] = ()
    leakage_types: tuple[str, ...] = ()
    unit: str = "row"
    affected: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def n_items(self) -> int:
        """Number of affected items (patients, duplicate sets, pairs, sites...)."""
        if "item" not in self.affected.columns or self.affected.empty:
            return 0
        return int(self.affected["item"].nunique())


@dataclass
class NearSearch:
    """Settings of the near-duplicate image search (PF104), validated by ``audit()``."""

    enabled: bool = True
    threshold: int = 10
    detail_threshold: int = 40
    min_correlation: float = NEAR_MIN_DETAIL_CORRELATION
    orientations: tuple[int, ...] = (0, 1)


@dataclass
class AuditData:
    """The manifest, factorised once for every check (internal)."""

    df: pd.DataFrame
    columns: dict[str, str | None]
    row_ids: np.ndarray  # id of each row: the id column, else the index label
    group: np.ndarray
    group_names: pd.Index
    split: np.ndarray
    split_names: pd.Index
    split_roles: list[str | None]
    label: np.ndarray | None = None  # codes, -1 where missing
    label_names: pd.Index | None = None
    label_continuous: bool = False
    site: np.ndarray | None = None
    site_names: pd.Index | None = None
    images: ImageHashes | None = None
    image_paths: list[str] | None = None
    feature_hash: np.ndarray | None = None  # codes of identical rows, -1 = all missing
    time: np.ndarray | None = None  # datetime64, NaT where missing
    near: NearSearch = field(default_factory=NearSearch)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return int(self.group.size)

    def row(self, position: Any) -> str:
        return str(self.row_ids[int(position)])

    def split_name(self, code: Any) -> str:
        return str(self.split_names[int(code)])

    def split_order(self) -> list[int]:
        """Split codes in reading order: train, validation, unnamed, test."""
        rank = {"train": 0, "val": 1, None: 2, "test": 3}
        return sorted(range(len(self.split_names)), key=lambda s: rank[self.split_roles[s]])

    def rows_table(self, positions: np.ndarray, item: Any, prefix: str = "") -> dict[str, Any]:
        """Record columns naming the rows at ``positions``: row id, group, split, path."""
        positions = np.asarray(positions, dtype=np.int64)
        columns: dict[str, Any] = {}
        if not prefix:
            columns["item"] = item
        columns[prefix + "row"] = self.row_ids[positions]
        columns[prefix + "group"] = self.group_names.take(self.group[positions]).to_numpy()
        columns[prefix + "split"] = self.split_names.take(self.split[positions]).to_numpy()
        if self.image_paths is not None:
            columns[prefix + "path"] = np.asarray(self.image_paths, dtype=object)[positions]
        return columns


@dataclass(frozen=True)
class Check:
    """A registered check (see :data:`CHECKS`).

    Examples
    --------
    >>> from pitfalls.audit import CHECKS
    >>> CHECKS["PF101"].name, CHECKS["PF101"].needs, CHECKS["PF101"].unit
    ('group-in-several-splits', (), 'patient')
    """

    code: str
    name: str
    severity: str
    title: str
    checklist: tuple[int, ...]
    leakage_types: tuple[str, ...]
    needs: tuple[str, ...]
    func: Callable[[AuditData], list[Finding]]
    unit: str = "row"

    def finding(
        self,
        detail: str,
        n_affected: int,
        examples: list[str] | None = None,
        *,
        affected: dict[str, Any] | pd.DataFrame | None = None,
        severity: str | None = None,
    ) -> Finding:
        """Build a finding of this check (severity defaults to the check's)."""
        table = affected if isinstance(affected, pd.DataFrame) else pd.DataFrame(affected or {})
        table = table[[c for c in AFFECTED_COLUMNS if c in table.columns]]
        return Finding(
            code=self.code,
            check=self.name,
            severity=severity or self.severity,
            title=self.title,
            detail=detail,
            n_affected=int(n_affected),
            examples=list(examples or [])[:MAX_EXAMPLES],
            checklist=self.checklist,
            leakage_types=self.leakage_types,
            unit=self.unit,
            affected=table.reset_index(drop=True),
        )


CHECKS: dict[str, Check] = {}


def _register(
    code: str,
    name: str,
    *,
    severity: str,
    title: str,
    unit: str,
    checklist: tuple[int, ...] = (),
    leakage: tuple[str, ...] = (),
    needs: tuple[str, ...] = (),
) -> Callable[[Callable[[AuditData, Check], list[Finding]]], Callable[..., Any]]:
    def decorator(func: Callable[[AuditData, Check], list[Finding]]) -> Callable[..., Any]:
        def run(data: AuditData) -> list[Finding]:
            return func(data, CHECKS[code])

        CHECKS[code] = Check(code, name, severity, title, checklist, leakage, needs, run, unit)
        return func

    return decorator


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {plural or word + 's'}"


def _q(value: Any) -> str:
    # repr of a value as the user wrote it ('a', 3), not numpy's np.int64(3).
    return repr(value.item() if isinstance(value, np.generic) else value)


def _distinct_pairs(a: np.ndarray, b: np.ndarray, n_b: int) -> np.ndarray:
    """Sorted distinct codes ``a * n_b + b`` of two non-negative integer arrays."""
    combined = a.astype(np.int64) * n_b + b
    size = (int(a.max()) + 1) * n_b if a.size else 0
    if size <= 64 * max(combined.size, 1 << 20):
        # A presence table is O(n) and much faster than sorting or hashing.
        present = np.zeros(size, dtype=bool)
        present[combined] = True
        return np.flatnonzero(present)
    combined.sort()
    return combined[np.r_[True, combined[1:] != combined[:-1]]]


def group_split_pairs(data: AuditData) -> np.ndarray:
    """Distinct ``group * n_splits + split`` codes, computed once per audit."""
    if "group_split" not in data.extra:
        data.extra["group_split"] = _distinct_pairs(data.group, data.split, len(data.split_names))
    return data.extra["group_split"]


def _split_counts(data: AuditData, positions: np.ndarray) -> str:
    counts = np.bincount(data.split[positions], minlength=len(data.split_names))
    return ", ".join(f"{data.split_name(s)} ({counts[s]})" for s in data.split_order() if counts[s])


def _crosstab(a: np.ndarray, b: np.ndarray, n_a: int, n_b: int) -> np.ndarray:
    return np.bincount(a * n_b + b, minlength=n_a * n_b).reshape(n_a, n_b)


def _patient_crosstab(
    groups: np.ndarray, a: np.ndarray, b: np.ndarray, n_a: int, n_b: int
) -> np.ndarray:
    """Distinct patients per (a, b) cell: a patient counts once in each cell it has rows in."""
    cells = a.astype(np.int64) * n_b + b
    if cells.size == 0:
        return np.zeros((n_a, n_b), np.int64)
    distinct = _distinct_pairs(groups, cells, n_a * n_b) % (n_a * n_b)
    return np.bincount(distinct, minlength=n_a * n_b).reshape(n_a, n_b)


def _rows_patients(n_rows: Any, n_patients: Any) -> str:
    return f"{_plural(int(n_rows), 'row')}, {_plural(int(n_patients), 'patient')}"


def _patients_in(data: AuditData, mask: np.ndarray) -> int:
    return int(np.unique(data.group[mask]).size)


def _items_from_sorted(keys: np.ndarray) -> np.ndarray:
    """Item numbers 1, 2, ... for runs of equal values in a sorted key array."""
    if keys.size == 0:
        return np.empty(0, np.int64)
    return np.cumsum(np.r_[True, keys[1:] != keys[:-1]]).astype(np.int64)


def _rows_examples(data: AuditData, members: np.ndarray, limit: int = 4) -> str:
    shown = ", ".join(f"{data.row(p)} ({data.split_name(data.split[p])})" for p in members[:limit])
    rest = members.size - limit
    return f"rows {shown}" + (f" and {rest} more" if rest > 0 else "")


# --- groups and splits ------------------------------------------------------------


@_register(
    "PF101",
    "group-in-several-splits",
    severity="high",
    title="Patient (group) in more than one split",
    unit="patient",
    checklist=(4,),
    leakage=("L3.2",),
)
def _group_in_several_splits(data: AuditData, check: Check) -> list[Finding]:
    n_splits = len(data.split_names)
    splits_per_group = np.bincount(
        group_split_pairs(data) // n_splits, minlength=len(data.group_names)
    )
    leaked = np.flatnonzero(splits_per_group > 1)
    if leaked.size == 0:
        return []
    # Items: the patients in order of first appearance; records: their rows.
    item_of_group = np.zeros(len(data.group_names), np.int64)
    item_of_group[leaked] = np.arange(1, leaked.size + 1)
    rows = np.flatnonzero(item_of_group[data.group] > 0)
    rows = rows[np.argsort(item_of_group[data.group[rows]], kind="stable")]
    examples = [
        f"{_q(data.group_names[g])}: {_split_counts(data, np.flatnonzero(data.group == g))}"
        for g in leaked[:MAX_EXAMPLES]
    ]
    detail = (
        f"{len(leaked)} of {len(data.group_names)} groups in column "
        f"{data.columns['group']!r} {'has' if len(leaked) == 1 else 'have'} samples in "
        f"more than one split ({_plural(rows.size, 'row')}); samples of one patient are not "
        "independent, so scores on the other split are inflated. Re-split by group "
        "(pitfalls.model_selection.train_val_test_split(..., groups=))."
    )
    affected = data.rows_table(rows, item_of_group[data.group[rows]])
    return [check.finding(detail, rows.size, examples, affected=affected)]


def _split_records(data: AuditData, splits: list[int]) -> dict[str, Any]:
    n_splits = len(data.split_names)
    rows = np.bincount(data.split, minlength=n_splits)
    groups = np.bincount(group_split_pairs(data) % n_splits, minlength=n_splits)
    return {
        "item": np.arange(1, len(splits) + 1),
        "split": [data.split_name(s) for s in splits],
        "n_rows": rows[splits],
        "n_groups": groups[splits],
        "note": [f"role: {data.split_roles[s] or 'not recognised'}" for s in splits],
    }


@_register(
    "PF110",
    "no-test-split",
    severity="high",
    title="No held-out test split",
    unit="split",
    checklist=(4, 8),
    leakage=("L1.1",),
)
def _no_test_split(data: AuditData, check: Check) -> list[Finding]:
    names = describe_values(map(str, data.split_names))
    splits = data.split_order()
    affected = _split_records(data, splits)
    if len(data.split_names) == 1:
        detail = (
            f"every row is in split {data.split_name(0)!r}: there is no held-out data, so "
            "any score is measured on training data."
        )
        return [check.finding(detail, data.n_rows, [data.split_name(0)], affected=affected)]
    if "test" in data.split_roles:
        return []
    examples = [data.split_name(s) for s in splits]
    if "train" in data.split_roles:
        detail = (
            f"no split is named as a test set (splits: {names}); tuning and reporting on "
            "the same validation split overestimates performance. Keep a test split "
            "untouched until the end (pass test_splits= if it has another name)."
        )
        return [check.finding(detail, 0, examples, affected=affected, severity="medium")]
    detail = (
        f"could not tell which split is the test set from the names ({names}); pass "
        "test_splits= to name it. Checks on external test sites assume none."
    )
    return [check.finding(detail, 0, examples, affected=affected, severity="info")]


def _row_roles(data: AuditData) -> np.ndarray:
    return np.array([r or "" for r in data.split_roles])[data.split]


def _time_text(values: np.ndarray) -> list[str]:
    """Times as text: dates as pandas writes them, numbers (days, years) as Python does."""
    if np.issubdtype(values.dtype, np.datetime64):
        return [str(pd.Timestamp(v)) for v in values]
    return [f"{v:g}" for v in values.astype(float)]


@_register(
    "PF111",
    "test-older-than-train",
    severity="low",
    title="Test samples dated before training samples",
    unit="row",
    checklist=(8,),
    leakage=("L3.1",),
    needs=("time",),
)
def _test_older_than_train(data: AuditData, check: Check) -> list[Finding]:
    assert data.time is not None
    roles = _row_roles(data)
    train_times = data.time[roles == "train"]
    test_mask = roles == "test"
    train_times = train_times[~pd.isna(train_times)]
    if train_times.size == 0 or not test_mask.any():
        return []
    latest_train = train_times.max()
    latest_text = _time_text(train_times.max(keepdims=True))[0]
    earlier = np.flatnonzero(test_mask & ~pd.isna(data.time) & (data.time < latest_train))
    if earlier.size == 0:
        return []
    n_patients = _patients_in(data, np.isin(np.arange(data.n_rows), earlier))
    detail = (
        f"{earlier.size} of {int(test_mask.sum())} test rows ({n_patients} of "
        f"{_patients_in(data, test_mask)} test patients) in column {data.columns['time']!r} "
        f"are dated before the latest training row ({latest_text}); a model "
        "deployed forward in time is better judged on a test set that comes after training "
        "(a temporal split: pitfalls.model_selection.assign_splits(..., time=, test_after=))."
    )
    times = _time_text(data.time[earlier])
    examples = [
        f"row {data.row(p)} ({data.split_name(data.split[p])}): {t}"
        for p, t in zip(earlier[:MAX_EXAMPLES], times, strict=False)
    ]
    affected = data.rows_table(earlier, np.arange(1, earlier.size + 1))
    affected["time"] = times
    return [check.finding(detail, earlier.size, examples, affected=affected)]


# --- duplicates -------------------------------------------------------------------


def _sets_across_splits(data: AuditData, keys: np.ndarray) -> np.ndarray:
    """Rows whose key (content) occurs in more than one split, sorted by set then row."""
    valid = np.flatnonzero(keys >= 0)
    if valid.size == 0:
        return valid
    n_splits = len(data.split_names)
    k = keys[valid]
    key_split = _distinct_pairs(k, data.split[valid], n_splits)
    splits_per_key = np.bincount(key_split // n_splits, minlength=int(k.max()) + 1)
    rows = valid[(splits_per_key > 1)[k]]
    # Keys are numbered by first appearance, so sets come in manifest order.
    return rows[np.argsort(keys[rows], kind="stable")]


def _duplicate_records(
    data: AuditData, rows: np.ndarray, items: np.ndarray, measure: str
) -> dict[str, Any]:
    affected = data.rows_table(rows, items)
    affected["measure"] = measure
    if data.images is not None and data.columns.get("image") is not None:
        blank = data.images.low_information[rows]
        affected["note"] = [("(nearly) blank image" if b else None) for b in blank]
    return affected


def _duplicates_across(
    data: AuditData, keys: np.ndarray, check: Check, what: str, measure: str
) -> list[Finding]:
    rows = _sets_across_splits(data, keys)
    if rows.size == 0:
        return []
    items = _items_from_sorted(keys[rows])
    n_sets = int(items[-1])
    n_groups = len(data.group_names)
    set_groups = _distinct_pairs(items - 1, data.group[rows], n_groups)
    groups_per_set = np.bincount(set_groups // n_groups, minlength=n_sets)
    other_patient = int((groups_per_set > 1).sum())
    starts = np.flatnonzero(np.r_[True, items[1:] != items[:-1]])
    ends = np.r_[starts[1:], rows.size]
    examples = [
        _rows_examples(data, rows[s:e]) for s, e in zip(starts[:MAX_EXAMPLES], ends, strict=False)
    ]
    detail = (
        f"sets of {what} found in more than one split: {n_sets} "
        f"({_plural(rows.size, 'row')}); "
        f"sets spanning different patients, which the group check cannot see: "
        f"{other_patient}. Identical samples on both sides inflate test scores (oversampling or "
        "copying before the split leaves exactly this trace); drop or regroup them."
    )
    affected = _duplicate_records(data, rows, items, measure)
    if "note" in affected:
        blank_sets = int(np.unique(items[pd.notna(affected["note"])]).size)
        if blank_sets:
            detail += (
                f" Of these, {blank_sets} {'is a set' if blank_sets == 1 else 'are sets'} of "
                "(nearly) blank images: identical all the same, often an export error."
            )
    return [check.finding(detail, rows.size, examples, affected=affected)]


def _duplicates_within(
    data: AuditData, keys: np.ndarray, check: Check, what: str, measure: str
) -> list[Finding]:
    valid = np.flatnonzero(keys >= 0)
    if valid.size == 0:
        return []
    n_splits = len(data.split_names)
    combined = keys[valid].astype(np.int64) * n_splits + data.split[valid]
    counts = np.bincount(combined)
    repeated = counts[combined] > 1
    if not repeated.any():
        return []
    order = np.argsort(combined[repeated], kind="stable")
    rows, set_keys = valid[repeated][order], combined[repeated][order]
    items = _items_from_sorted(set_keys)
    starts = np.flatnonzero(np.r_[True, items[1:] != items[:-1]])
    ends = np.r_[starts[1:], rows.size]
    examples = [
        f"split {data.split_name(data.split[rows[s]])!r}: rows "
        + ", ".join(data.row(p) for p in rows[s : min(e, s + 4)])
        + (f" and {e - s - 4} more" if e - s > 4 else "")
        for s, e in zip(starts[:MAX_EXAMPLES], ends, strict=False)
    ]
    detail = (
        f"sets of {what} repeated within a split: {int(items[-1])} ({_plural(rows.size, 'row')} "
        f"in total: {_split_counts(data, rows)}); they weigh those samples more in training "
        "or evaluation. Check whether they are re-exports, oversampled copies or errors."
    )
    affected = _duplicate_records(data, rows, items, measure)
    return [check.finding(detail, rows.size, examples, affected=affected)]


def _image_keys(data: AuditData) -> np.ndarray:
    """Codes of identical decoded images (every image: exact is exact, blank or not)."""
    assert data.images is not None
    if "image_keys" not in data.extra:
        data.extra["image_keys"] = pd.factorize(data.images.exact)[0].astype(np.int64)
    return data.extra["image_keys"]


_SAME_PIXELS = "identical decoded pixels"
_SAME_FEATURES = "identical feature values"


@_register(
    "PF102",
    "duplicate-images-across-splits",
    severity="high",
    title="Identical images in more than one split",
    unit="duplicate set",
    checklist=(1, 4),
    leakage=("L1.4", "L3.2"),
    needs=("image",),
)
def _duplicate_images_across(data: AuditData, check: Check) -> list[Finding]:
    return _duplicates_across(
        data, _image_keys(data), check, "identical images (decoded pixels)", _SAME_PIXELS
    )


@_register(
    "PF103",
    "duplicate-rows-across-splits",
    severity="high",
    title="Identical feature rows in more than one split",
    unit="duplicate set",
    checklist=(1, 4),
    leakage=("L1.4", "L3.2"),
    needs=("features",),
)
def _duplicate_rows_across(data: AuditData, check: Check) -> list[Finding]:
    assert data.feature_hash is not None
    return _duplicates_across(
        data, data.feature_hash, check, "identical feature rows", _SAME_FEATURES
    )


@_register(
    "PF105",
    "duplicate-images-within-split",
    severity="low",
    title="Identical images within a split",
    unit="duplicate set",
    checklist=(1,),
    leakage=("L1.4",),
    needs=("image",),
)
def _duplicate_images_within(data: AuditData, check: Check) -> list[Finding]:
    return _duplicates_within(data, _image_keys(data), check, "identical images", _SAME_PIXELS)


@_register(
    "PF106",
    "duplicate-rows-within-split",
    severity="low",
    title="Identical feature rows within a split",
    unit="duplicate set",
    checklist=(1,),
    leakage=("L1.4",),
    needs=("features",),
)
def _duplicate_rows_within(data: AuditData, check: Check) -> list[Finding]:
    assert data.feature_hash is not None
    return _duplicates_within(
        data, data.feature_hash, check, "identical feature rows", _SAME_FEATURES
    )


def _conflicting_sets(data: AuditData, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of identical content filed under more than one label: (rows, set keys), sorted."""
    assert data.label is not None and data.label_names is not None
    n_labels = len(data.label_names)
    valid = np.flatnonzero((keys >= 0) & (data.label >= 0))
    if valid.size == 0:
        return valid, valid
    pairs = _distinct_pairs(keys[valid], data.label[valid], n_labels)
    labels_per_key = np.bincount(pairs // n_labels, minlength=int(keys.max()) + 1)
    rows = valid[(labels_per_key > 1)[keys[valid]]]
    rows = rows[np.argsort(keys[rows], kind="stable")]
    return rows, keys[rows]


@_register(
    "PF107",
    "conflicting-duplicate-labels",
    severity="medium",
    title="Identical samples with different labels",
    unit="duplicate set",
    leakage=("L1.4",),
    needs=("label",),
)
def _conflicting_labels(data: AuditData, check: Check) -> list[Finding]:
    if data.label is None or data.label_names is None or data.label_continuous:
        return []
    key_sets = []
    if data.images is not None:
        key_sets.append(("image", _image_keys(data)))
    if data.feature_hash is not None:
        key_sets.append(("feature row", data.feature_hash))
    tables: list[pd.DataFrame] = []
    examples: list[str] = []
    n_sets = 0
    for what, keys in key_sets:
        rows, set_keys = _conflicting_sets(data, keys)
        if rows.size == 0:
            continue
        items = _items_from_sorted(set_keys) + n_sets
        for item in np.unique(items)[: MAX_EXAMPLES - len(examples)]:
            members = rows[items == item][:4]
            examples.append(
                f"same {what}: "
                + ", ".join(
                    f"row {data.row(p)} = {_q(data.label_names[data.label[p]])}" for p in members
                )
            )
        table = pd.DataFrame(data.rows_table(rows, items))
        table["label"] = data.label_names.take(data.label[rows]).to_numpy()
        table["measure"] = f"identical {what}"
        tables.append(table)
        n_sets = int(items[-1])
    if not tables:
        return []
    affected = pd.concat(tables, ignore_index=True)
    n_rows = int(affected["row"].nunique())
    detail = (
        f"rows sharing identical content with a row of another label: {n_rows} in "
        f"{_plural(n_sets, 'set')}; label noise or a mix-up (the same image filed under two "
        "classes). Resolve the label before training."
    )
    return [check.finding(detail, n_rows, examples, affected=affected)]


@_register(
    "PF108",
    "low-information-images",
    severity="info",
    title="Nearly blank images (not searched for near duplicates)",
    unit="row",
    needs=("image",),
)
def _low_information(data: AuditData, check: Check) -> list[Finding]:
    assert data.images is not None
    low = np.flatnonzero(data.images.low_information)
    if low.size == 0:
        return []
    _, counts = np.unique(data.images.exact[low].astype(str), return_counts=True)
    n_identical = int(counts[counts > 1].sum())
    detail = (
        f"(nearly) uniform images: {low.size} ({_split_counts(data, low)}); "
        f"{n_identical} of them are pixel-identical to another one. Their perceptual hash "
        "means nothing (every blank image would match every other), so they were left out "
        "of the near-duplicate search; exact copies of them are still reported (PF102, "
        "PF105). Blank images are often export errors."
    )
    paths = data.image_paths or [""] * data.n_rows
    examples = [f"row {data.row(p)}: {paths[p]}" for p in low[:MAX_EXAMPLES]]
    affected = data.rows_table(low, np.arange(1, low.size + 1))
    return [check.finding(detail, low.size, examples, affected=affected)]


# How the second image of a pair is flipped or turned relative to the first, by the
# index of the orientation of ImageHashes.perceptual_orientations that matched (the
# second image taken in orientation o looks like the first). Orientation 5 (a left-
# right flip then a transpose) turns an image a quarter anticlockwise, so a match
# there means the second image is the first turned clockwise; 6 the reverse.
ORIENTATIONS = (
    "as stored",
    "flipped left-right",
    "flipped up-down",
    "turned 180°",
    "transposed",
    "turned 90° clockwise",
    "turned 90° anticlockwise",
    "anti-transposed",
)
_RULES = ("fine detail", "grey levels", "hashes only")


@dataclass
class NearPairs:
    """Verified cross-split near-duplicate pairs (PF104), closest first (internal)."""

    a: np.ndarray
    b: np.ndarray
    distance: np.ndarray  # coarse (64-bit) hash distance
    detail_distance: np.ndarray  # detail (256-bit) hash distance
    orientation: np.ndarray  # index into ORIENTATIONS
    detail_correlation: np.ndarray
    intensity_correlation: np.ndarray
    rule: np.ndarray  # index into _RULES: the rule that admitted the pair

    @property
    def size(self) -> int:
        return int(self.a.size)


@_register(
    "PF104",
    "near-duplicate-images",
    severity="medium",
    title="Near-duplicate images in different splits",
    unit="pair",
    checklist=(2, 4),
    leakage=("L1.4", "L3.2"),
    needs=("image",),
)
def _near_duplicates(data: AuditData, check: Check) -> list[Finding]:
    assert data.images is not None
    if not data.near.enabled:
        return []
    pairs = _near_pairs(data)
    if pairs.size == 0:
        return []
    rows = np.unique(np.concatenate([pairs.a, pairs.b]))
    other_patient = int((data.group[pairs.a] != data.group[pairs.b]).sum())
    by_grey = int((pairs.rule == 1).sum())
    measures = _pair_measures(data, pairs)
    examples = [
        f"rows {data.row(x)} ({data.split_name(data.split[x])}) and {data.row(y)} "
        f"({data.split_name(data.split[y])}): {m}"
        for x, y, m in zip(pairs.a[:MAX_EXAMPLES], pairs.b, measures, strict=False)
    ]
    near = data.near
    detail = (
        f"image pairs in different splits within {near.threshold} of 64 perceptual-hash "
        f"bits and {near.detail_threshold} of 256 detail-hash bits, then confirmed on "
        f"thumbnails aligned within {NEAR_MAX_SHIFT} px by either rule: fine detail "
        f"correlated at {near.min_correlation:.2f} or more, or (where neither image has more "
        f"than {NEAR_CROWDED} hash candidate in the other split) grey levels correlated at "
        f"{NEAR_MIN_INTENSITY_CORRELATION} or more: {pairs.size} "
        f"({_plural(rows.size, 'row')}; admitted by grey levels: {by_grey}; across different "
        f"patients: {other_patient}; flipped or turned: {int((pairs.orientation > 0).sum())}). "
        "Re-encoded, resized, brightness-shifted or augmented copies. Augmentation before "
        "the split leaves exactly this trace; look at the pairs and drop or regroup them."
    )
    affected = data.rows_table(pairs.a, np.arange(1, pairs.size + 1))
    affected.update(data.rows_table(pairs.b, None, prefix="other_"))
    affected.update(
        distance=pairs.distance,
        detail_distance=pairs.detail_distance,
        detail_correlation=np.round(pairs.detail_correlation.astype(np.float64), 3),
        intensity_correlation=np.round(pairs.intensity_correlation.astype(np.float64), 3),
        orientation=np.asarray(ORIENTATIONS, dtype=object)[pairs.orientation],
        rule=np.asarray(_RULES, dtype=object)[pairs.rule],
        measure=measures,
    )
    return [check.finding(detail, rows.size, examples, affected=affected)]


def _pair_measures(data: AuditData, pairs: NearPairs) -> list[str]:
    """What was measured for each pair, in words (captions, examples, the records)."""
    out = []
    for d, f, o, c, g, r in zip(
        pairs.distance,
        pairs.detail_distance,
        pairs.orientation,
        pairs.detail_correlation,
        pairs.intensity_correlation,
        pairs.rule,
        strict=True,
    ):
        text = f"hash distance {d}/64, detail {f}/256, "
        if r == 0:
            text += f"fine-detail correlation {c:.2f}"
        elif r == 1:
            text += f"grey-level correlation {g:.2f} (fine detail {c:.2f})"
        else:
            text += "hashes only (no thumbnails to verify)"
        out.append(text + ("" if o == 0 else f", other image {ORIENTATIONS[o]}"))
    return out


def _near_pairs(data: AuditData) -> NearPairs:
    """Cross-split near-duplicate pairs, closest first, each pair once at its best.

    Candidates within ``near.threshold`` coarse bits and ``near.detail_threshold``
    detail bits are verified on the thumbnails when the hashes carry them.
    """
    assert data.images is not None
    usable = ~data.images.low_information
    # Training-like splits first, so that a pair reads "train ... and test ...".
    order = data.split_order()
    found = []
    for pos, s1 in enumerate(order):
        rows1 = np.flatnonzero(usable & (data.split == s1))
        for s2 in order[pos + 1 :]:
            rows2 = np.flatnonzero(usable & (data.split == s2))
            for o in data.near.orientations:
                found.append(_verified_candidates(data, rows1, rows2, o))
    if not found:
        found.append(np.empty((8, 0)))
    stacked = np.concatenate(found, axis=1)
    a, b, d, f, v, c, g, r = stacked
    a, b, d, f, v, r = (x.astype(np.int64) for x in (a, b, d, f, v, r))
    # Closest first; a pair matched in several orientations is kept once, at its best.
    ranked = np.lexsort((v, b, a, -c, f, d))
    first = np.unique(a[ranked] * np.int64(data.n_rows) + b[ranked], return_index=True)[1]
    keep = ranked[np.sort(first)]
    return NearPairs(a[keep], b[keep], d[keep], f[keep], v[keep], c[keep], g[keep], r[keep])


def _verified_candidates(
    data: AuditData, rows1: np.ndarray, rows2: np.ndarray, orientation: int
) -> np.ndarray:
    """Pairs of rows1 x rows2 (row2 turned by ``orientation``) that pass every rule.

    Returns an (8, n) float array: a, b, coarse distance, detail distance,
    orientation, detail correlation, grey-level correlation, rule.
    """
    images = data.images
    assert images is not None
    i, j, d = hamming_pairs(
        images.perceptual_orientations[rows1, 0],
        images.perceptual_orientations[rows2, orientation],
        data.near.threshold,
    )
    a, b = rows1[i], rows2[j]
    # Coarse candidates are confirmed on the 256-bit detail hash; identical pixels
    # are PF102's business.
    fine = bitwise_count(
        images.detail_orientations[a, 0] ^ images.detail_orientations[b, orientation]
    ).sum(axis=1)
    keys = _image_keys(data)
    keep = np.flatnonzero((keys[a] != keys[b]) & (fine <= data.near.detail_threshold))
    a, b, d, fine = a[keep], b[keep], d[keep], fine[keep]
    detail = np.ones(a.size)
    intensity = np.ones(a.size)
    rule = np.full(a.size, 2)
    if images.thumbnail is not None and a.size:
        # Verify on content: look-alike images of one kind pass the hashes.
        intensity, detail = thumbnail_correlation(
            images.thumbnail[a], _orient(images.thumbnail[b], orientation), max_shift=NEAR_MAX_SHIFT
        )
        # Coarse-hash candidates of each image: few means the hashes already
        # discriminate this kind of image.
        crowd = np.maximum(
            np.bincount(i, minlength=rows1.size)[i], np.bincount(j, minlength=rows2.size)[j]
        )[keep]
        by_detail = detail >= data.near.min_correlation
        by_grey = (crowd <= NEAR_CROWDED) & (intensity >= NEAR_MIN_INTENSITY_CORRELATION)
        rule = np.where(by_detail, 0, np.where(by_grey, 1, -1))
    ok = rule >= 0
    columns = (a, b, d, fine, np.full(a.size, orientation), detail, intensity, rule)
    return np.stack([np.asarray(x, np.float64)[ok] for x in columns])


def _orient(thumbs: np.ndarray, orientation: int) -> np.ndarray:
    """Thumbnails (n, t, t) flipped or turned as orientation ``orientation`` of ImageHashes."""
    flips = (
        thumbs,
        thumbs[:, :, ::-1],
        thumbs[:, ::-1, :],
        thumbs[:, ::-1, ::-1],
    )
    out = flips[orientation % 4]
    if orientation >= 4:
        out = out.transpose(0, 2, 1)
    return np.ascontiguousarray(out)


# --- sites ------------------------------------------------------------------------


def _label_usable(data: AuditData) -> bool:
    return data.label is not None and not data.label_continuous


def _patients_with_several(
    data: AuditData, codes: np.ndarray, n_codes: int, keep: np.ndarray
) -> int:
    """Patients whose rows (among ``keep``) carry more than one value of ``codes``."""
    per_group = _distinct_pairs(data.group[keep], codes[keep], n_codes) // n_codes
    return int((np.bincount(per_group) > 1).sum()) if per_group.size else 0


@_register(
    "PF201",
    "site-label-confounding",
    severity="high",
    title="Site (data source) confounded with the label",
    unit="site",
    checklist=(9,),
    leakage=("L2", "L3.3"),
    needs=("site", "label"),
)
def _site_label_confounding(data: AuditData, check: Check) -> list[Finding]:
    from ..batch_effects import confounding_test

    if not _label_usable(data):
        return []
    assert data.label is not None and data.site is not None
    assert data.label_names is not None and data.site_names is not None
    keep = data.label >= 0
    # Patients are the units: one patient's images are not independent evidence.
    # Integer codes give the same table as the values, several times faster.
    try:
        result = confounding_test(
            data.label[keep], data.site[keep], groups=data.group[keep], warn=False
        )
    except ValueError:  # one class or one site: nothing to be confounded with
        return []
    v = result.cramers_v
    if not np.isfinite(v) or v < 0.1 or result.pvalue >= 0.05:
        return []
    n_patients = _patients_in(data, keep)
    several_sites = _patients_with_several(data, data.site, len(data.site_names), keep)
    several_labels = _patients_with_several(data, data.label, len(data.label_names), keep)
    shares = result.table.div(result.table.sum(axis=1), axis=0)
    examples = [
        f"site {_q(data.site_names[site])}: "
        + ", ".join(f"{_q(data.label_names[lab])} {share:.0%}" for lab, share in row.items())
        + " of patients"
        for site, row in list(shares.iterrows())[:MAX_EXAMPLES]
    ]
    detail = (
        f"the label mix differs between sites, tested on patients (bias-corrected Cramér's "
        f"V = {v:.2f}, {result.method} p = {result.pvalue:.2g}, {result.n_samples} "
        f"patient counts from {n_patients} patients: each patient counts once per (site, "
        f"label) it has; patients at several sites: {several_sites}, with several labels: "
        f"{several_labels}); the site alone predicts the label with balanced accuracy "
        f"{result.label_from_site_score:.2f}. A model can learn the source instead of the "
        "disease: balance classes within sites, or test on an external site "
        "(pitfalls.batch_effects)."
    )
    severity = "high" if v >= 0.5 else "medium" if v >= 0.3 else "low"
    affected = _site_label_records(data, keep)
    return [check.finding(detail, int(keep.sum()), examples, affected=affected, severity=severity)]


def _site_label_records(data: AuditData, keep: np.ndarray) -> dict[str, Any]:
    """One record per (site, label): rows and patients (the whole contingency table)."""
    assert data.site is not None and data.label is not None
    assert data.site_names is not None and data.label_names is not None
    n_sites, n_labels = len(data.site_names), len(data.label_names)
    site, label = data.site[keep], data.label[keep]
    rows = _crosstab(site, label, n_sites, n_labels)
    patients = _patient_crosstab(data.group[keep], site, label, n_sites, n_labels)
    s, k = np.divmod(np.arange(n_sites * n_labels), n_labels)
    return {
        "item": s + 1,
        "site": data.site_names.take(s).to_numpy(),
        "label": data.label_names.take(k).to_numpy(),
        "n_rows": rows.ravel(),
        "n_groups": patients.ravel(),
    }


@_register(
    "PF202",
    "site-mix-differs",
    severity="medium",
    title="Site proportions differ between splits",
    unit="split",
    checklist=(9,),
    leakage=("L3.3",),
    needs=("site",),
)
def _site_mix_differs(data: AuditData, check: Check) -> list[Finding]:
    from scipy.stats import chi2_contingency

    from ..batch_effects import bias_corrected_cramers_v

    assert data.site is not None and data.site_names is not None
    n_splits, n_sites = len(data.split_names), len(data.site_names)
    rows = _crosstab(data.split, data.site, n_splits, n_sites)
    # Patients are the units (a patient counts once per split and site it has).
    patients = _patient_crosstab(data.group, data.split, data.site, n_splits, n_sites)
    # Sites held by a single split are PF203's (often a deliberate external test).
    shared = np.flatnonzero((rows > 0).sum(axis=0) > 1)
    splits = [s for s in data.split_order() if patients[s, shared].sum() > 0]
    table = patients[np.ix_(np.asarray(splits, dtype=np.int64), shared)]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return []
    _, pvalue, _, _ = chi2_contingency(table, correction=False)
    v = bias_corrected_cramers_v(table)
    if not np.isfinite(v) or v < 0.1 or pvalue >= 0.01:
        return []
    shares = table / table.sum(axis=1, keepdims=True)
    examples = [
        f"{data.split_name(s)}: "
        + ", ".join(f"{_q(data.site_names[k])} {x:.0%}" for k, x in zip(shared, share, strict=True))
        for s, share in zip(splits, shares, strict=True)
    ]
    detail = (
        f"the share of each site's patients differs between splits (chi-square p = "
        f"{pvalue:.2g}, Cramér's V = {v:.2f}, over {int(table.sum())} patient counts at the "
        "sites present in several splits); the test set then measures another population "
        "than the one trained on. Stratify the split by site (and label)."
    )
    s_idx, k_idx = np.repeat(splits, shared.size), np.tile(shared, len(splits))
    affected = {
        "item": np.repeat(np.arange(1, len(splits) + 1), shared.size),
        "split": data.split_names.take(s_idx).to_numpy(),
        "site": data.site_names.take(k_idx).to_numpy(),
        "n_rows": rows[s_idx, k_idx],
        "n_groups": patients[s_idx, k_idx],
    }
    n_affected = int(rows[:, shared].sum())
    severity = "medium" if v >= 0.2 else "low"
    return [check.finding(detail, n_affected, examples, affected=affected, severity=severity)]


@_register(
    "PF203",
    "site-in-one-split",
    severity="low",
    title="Site present in only one split",
    unit="site",
    checklist=(8,),
    leakage=("L3.3",),
    needs=("site",),
)
def _site_in_one_split(data: AuditData, check: Check) -> list[Finding]:
    assert data.site is not None and data.site_names is not None
    if len(data.split_names) < 2:
        return []
    n_splits, n_sites = len(data.split_names), len(data.site_names)
    table = _crosstab(data.split, data.site, n_splits, n_sites)
    only = np.flatnonzero((table > 0).sum(axis=0) == 1)
    if only.size == 0:
        return []
    home = table[:, only].argmax(axis=0)
    patients = _patient_crosstab(data.group, data.split, data.site, n_splits, n_sites)
    in_test = np.array([data.split_roles[h] == "test" for h in home])
    examples = [
        f"site {_q(data.site_names[k])} only in {data.split_name(h)} "
        f"({_rows_patients(table[h, k], patients[h, k])})"
        for k, h in zip(only[:MAX_EXAMPLES], home, strict=False)
    ]
    detail = (
        f"sites present in a single split: {only.size} of {n_sites}. That is right for a "
        "deliberate external test set (a site held out for testing); otherwise a site "
        "seen only in training is never evaluated, and one seen only in validation or "
        "test measures a shift the model never saw."
    )
    affected = {
        "item": np.arange(1, only.size + 1),
        "site": data.site_names.take(only).to_numpy(),
        "split": data.split_names.take(home).to_numpy(),
        "n_rows": table[home, only],
        "n_groups": patients[home, only],
    }
    severity = "info" if in_test.all() else "low"
    n_rows = int(table[home, only].sum())
    return [check.finding(detail, n_rows, examples, affected=affected, severity=severity)]


def _temporal_test_note(data: AuditData) -> str:
    """A sentence on whether the test rows all come after the training rows in time."""
    if data.time is None:
        return ""
    roles = _row_roles(data)
    train, test = data.time[roles == "train"], data.time[roles == "test"]
    train, test = train[~pd.isna(train)], test[~pd.isna(test)]
    if train.size == 0 or test.size == 0:
        return ""
    column = data.columns["time"]
    if test.min() > train.max():
        return (
            f" The test set does come after training in time (column {column!r}: first test "
            f"{_time_text(test.min(keepdims=True))[0]}, last training "
            f"{_time_text(train.max(keepdims=True))[0]}), a "
            "temporal validation; a held-out site would also test another population."
        )
    return f" Nor is the test set later than training in time (column {column!r}, see PF111)."


@_register(
    "PF204",
    "no-external-test",
    severity="info",
    title="No external (site-held-out) test set",
    unit="site",
    checklist=(8,),
    leakage=("L3.3",),
    needs=("site",),
)
def _no_external_test(data: AuditData, check: Check) -> list[Finding]:
    assert data.site is not None and data.site_names is not None
    table = _crosstab(data.split, data.site, len(data.split_names), len(data.site_names))
    test = np.array([r == "test" for r in data.split_roles])
    if test.any():
        held_out = (table[test].sum(axis=0) > 0) & (table[~test].sum(axis=0) == 0)
        if held_out.any():
            return []
    detail = (
        "no site is kept entirely for testing, so the reported score is internal "
        "validation only; where possible, hold out a whole site (an external data set) to "
        "estimate generalisation." + _temporal_test_note(data)
    )
    return [check.finding(detail, 0, [])]


# --- labels -----------------------------------------------------------------------


def _label_tables(data: AuditData) -> tuple[np.ndarray, np.ndarray]:
    """Rows and patients per (split, class), unlabelled rows left out."""
    assert data.label is not None and data.label_names is not None
    keep = data.label >= 0
    n_splits, n_labels = len(data.split_names), len(data.label_names)
    split, label = data.split[keep], data.label[keep]
    return (
        _crosstab(split, label, n_splits, n_labels),
        _patient_crosstab(data.group[keep], split, label, n_splits, n_labels),
    )


@_register(
    "PF301",
    "class-imbalance",
    severity="medium",
    title="Imbalanced classes: accuracy misleads",
    unit="class",
    checklist=(5, 7),
    needs=("label",),
)
def _class_imbalance(data: AuditData, check: Check) -> list[Finding]:
    if not _label_usable(data):
        return []
    assert data.label is not None and data.label_names is not None
    table, _ = _label_tables(data)
    counts = table.sum(axis=0)
    present = counts[counts > 0]
    if present.size < 2:
        return []
    ratio = present.max() / present.min()
    if ratio < IMBALANCE_LOW:
        return []
    keep = data.label >= 0
    n_labels = len(data.label_names)
    patients = np.bincount(
        _distinct_pairs(data.group[keep], data.label[keep], n_labels) % n_labels,
        minlength=n_labels,
    )
    patient_ratio = patients[counts > 0].max() / max(patients[counts > 0].min(), 1)
    major = int(counts.argmax())
    baseline = [
        f"{data.split_name(s)} {table[s, major] / table[s].sum():.2f}"
        for s in data.split_order()
        if table[s].sum()
    ]
    order = np.argsort(-counts, kind="stable")
    examples = [
        f"{_q(data.label_names[k])}: {_rows_patients(counts[k], patients[k])}" for k in order
    ]
    detail = (
        f"the largest class is {ratio:.1f} times the smallest in rows ({patient_ratio:.1f} "
        f"times in patients); predicting {_q(data.label_names[major])} for every sample "
        f"scores accuracy {', '.join(baseline)}. Report balanced accuracy, precision, recall "
        "and F1 beside that naive baseline (pitfalls.metrics.classification_summary), not "
        "accuracy alone."
    )
    affected = {
        "item": np.arange(1, order.size + 1),
        "label": data.label_names.take(order).to_numpy(),
        "n_rows": counts[order],
        "n_groups": patients[order],
    }
    severity = "medium" if ratio >= IMBALANCE_MEDIUM else "low"
    return [
        check.finding(detail, int(counts.sum()), examples, affected=affected, severity=severity)
    ]


@_register(
    "PF302",
    "class-missing-from-split",
    severity="medium",
    title="Class missing from a split",
    unit="split",
    checklist=(5,),
    leakage=("L3.3",),
    needs=("label",),
)
def _class_missing(data: AuditData, check: Check) -> list[Finding]:
    if not _label_usable(data):
        return []
    assert data.label_names is not None
    table, _ = _label_tables(data)
    records: list[tuple[Any, ...]] = []
    examples, n_rows = [], 0
    for s in data.split_order():
        missing = np.flatnonzero(table[s] == 0)
        if table[s].sum() == 0 or missing.size == 0:
            continue
        assert data.label is not None
        n_patients = _patients_in(data, (data.split == s) & (data.label >= 0))
        n_rows += int(table[s].sum())
        examples.append(
            f"{data.split_name(s)} has no {describe_values(data.label_names[missing])} "
            f"({_rows_patients(table[s].sum(), n_patients)})"
        )
        records += [
            (len(examples), data.split_name(s), data.label_names[k], table[s].sum(), n_patients)
            for k in missing
        ]
    if not examples:
        return []
    detail = (
        f"splits lacking a class present elsewhere: {len(examples)}; recall, AUC "
        "and per-class metrics are undefined there. Stratify the split by label "
        "(pitfalls.model_selection.StratifiedGroupKFold)."
    )
    affected = pd.DataFrame(records, columns=["item", "split", "label", "n_rows", "n_groups"])
    return [check.finding(detail, n_rows, examples, affected=affected)]


@_register(
    "PF303",
    "tiny-split",
    severity="medium",
    title="Split too small for a stable estimate",
    unit="split",
    checklist=(7,),
)
def _tiny_split(data: AuditData, check: Check) -> list[Finding]:
    n_splits = len(data.split_names)
    rows = np.bincount(data.split, minlength=n_splits)
    groups = np.bincount(group_split_pairs(data) % n_splits, minlength=n_splits)
    tables = _label_tables(data) if _label_usable(data) else None
    records: list[tuple[Any, ...]] = []  # split, class (None: the whole split), rows, groups, note
    affected_rows = np.zeros(data.n_rows, bool)
    for s in data.split_order():
        name = data.split_name(s)
        if rows[s] < TINY_SPLIT_ROWS or groups[s] < TINY_SPLIT_GROUPS:
            records.append((name, None, rows[s], groups[s], _rows_patients(rows[s], groups[s])))
            affected_rows |= data.split == s
        if tables is None:
            continue
        assert data.label_names is not None and data.label is not None
        table, patients = tables
        for k in np.flatnonzero((table[s] > 0) & (table[s] < TINY_CLASS_ROWS)):
            note = f"only {table[s, k]} of class {_q(data.label_names[k])}"
            records.append((name, data.label_names[k], table[s, k], patients[s, k], note))
            affected_rows |= (data.split == s) & (data.label == k)
    if not records:
        return []
    affected = pd.DataFrame(records, columns=["split", "label", "n_rows", "n_groups", "note"])
    affected.insert(0, "item", _items_from_sorted(affected["split"].to_numpy()))
    examples = [
        f"{part['split'].iloc[0]}: " + "; ".join(part["note"])
        for _, part in affected.groupby("item", sort=True)
    ]
    severity = "medium" if any(label is None for _, label, *_ in records) else "low"
    detail = (
        f"splits under {TINY_SPLIT_ROWS} rows or {TINY_SPLIT_GROUPS} patients, or classes "
        f"under {TINY_CLASS_ROWS} samples in a split: {len(records)}; scores "
        "measured there swing widely from one split to the next. Report confidence "
        "intervals, or use (repeated) group cross-validation."
    )
    return [
        check.finding(
            detail, int(affected_rows.sum()), examples, affected=affected, severity=severity
        )
    ]


@_register(
    "PF304",
    "missing-labels",
    severity="low",
    title="Rows without a label",
    unit="row",
    needs=("label",),
)
def _missing_labels(data: AuditData, check: Check) -> list[Finding]:
    assert data.label is not None
    missing = np.flatnonzero(data.label < 0)
    if missing.size == 0:
        return []
    detail = (
        f"rows without a value in {data.columns['label']!r}: {missing.size} "
        f"({_split_counts(data, missing)}; {_patients_in(data, data.label < 0)} patients); "
        "they were left out of the label checks."
    )
    examples = [
        f"row {data.row(p)} ({data.split_name(data.split[p])})" for p in missing[:MAX_EXAMPLES]
    ]
    affected = data.rows_table(missing, np.arange(1, missing.size + 1))
    return [check.finding(detail, missing.size, examples, affected=affected)]
