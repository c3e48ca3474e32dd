"""The audit checks: small functions in a registry, each with a stable code.

A check takes the prepared manifest (:class:`AuditData`, factorised columns and
hashes) and returns zero or more :class:`Finding`. Codes never change meaning:

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
PF108   low-information-images          (nearly) blank images, not compared
PF109   near-duplicate-rows             near-identical feature rows in two splits
PF110   no-test-split                   no held-out split at all, or none named test
PF111   test-older-than-train           test samples dated before training ones
PF201   site-label-confounding          the site predicts the label
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

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._validation import describe_values
from ._hashing import ImageHashes
from ._search import hamming_pairs, thumbnail_correlation

__all__ = ["CHECKS", "SEVERITIES", "AuditData", "Check", "Finding", "split_role"]

SEVERITIES = ("high", "medium", "low", "info")

# Thresholds, documented in audit()'s docstring.
TINY_SPLIT_ROWS = 30
TINY_SPLIT_GROUPS = 10
TINY_CLASS_ROWS = 5
IMBALANCE_LOW = 1.5
IMBALANCE_MEDIUM = 4.0
MAX_EXAMPLES = 5
MAX_PAIRS = 200
# Near-duplicate verification (PF104). Hash candidates are checked on the 64x64
# thumbnails, aligned to a fraction of a pixel within NEAR_MAX_SHIFT px
# (see _search.thumbnail_correlation). Where the hashes are discriminative (neither
# image has more than NEAR_CROWDED coarse-hash candidates in the other split), the
# aligned grey levels must correlate at NEAR_MIN_INTENSITY_CORRELATION. Images of
# one kind (chest X-rays) crowd each other's hash neighbourhood, and unrelated ones
# correlate at up to 0.995 in grey levels; there the fine detail (the thumbnail
# minus its blur: texture and noise, the shared anatomy cancelled) must correlate
# at NEAR_MIN_DETAIL_CORRELATION. Measured: copies after brightness/contrast change,
# noise, JPEG, resizing, flips and 1-px shifts reach 0.8-1 in fine detail; unrelated
# hash candidates among synthetic X-rays (make_batch_xray, 128 px) 0.84 for 1 in
# 100 and at most 0.94 (renderings of one template that differ by their noise).
NEAR_MIN_DETAIL_CORRELATION = 0.75
NEAR_MIN_INTENSITY_CORRELATION = 0.9
NEAR_CROWDED = 1
NEAR_MAX_SHIFT = 2

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
    """One problem found by a check.

    Attributes
    ----------
    code, check, severity, title, detail : str
        Stable code (``PF101``), check name, ``high``/``medium``/``low``/``info``,
        one-line title and a sentence with counts.
    n_affected : int
        Rows (samples) concerned.
    examples : list of str
        A few concrete cases (patient ids, row labels).
    checklist : tuple of int
        Items of the paper's Table 4 this bears on.
    leakage_types : tuple of str
        Kapoor & Narayanan leakage types.
    pairs : list of tuple
        ``(row_a, row_b, distance)`` row positions of duplicate pairs (images:
        Hamming distance; feature rows: standardised Euclidean distance).

    Examples
    --------
    >>> from pitfalls.audit import Finding
    >>> Finding("PF101", "group-in-several-splits", "high", "t", "d", 2).severity
    'high'
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
    pairs: list[tuple[int, int, float]] = field(default_factory=list)


@dataclass
class AuditData:
    """The manifest, factorised once for every check (internal)."""

    df: pd.DataFrame
    columns: dict[str, str | None]
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
    date: np.ndarray | None = None  # datetime64, NaT where missing
    near_duplicates: bool = True
    near_threshold: int = 10
    near_detail_threshold: int = 40
    near_orientations: tuple[int, ...] = (0, 1)
    near_min_correlation: float = NEAR_MIN_DETAIL_CORRELATION
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return int(self.group.size)

    def row(self, position: Any) -> str:
        return str(self.df.index[int(position)])

    def split_name(self, code: Any) -> str:
        return str(self.split_names[int(code)])

    def split_order(self) -> list[int]:
        """Split codes in reading order: train, validation, unnamed, test."""
        rank = {"train": 0, "val": 1, None: 2, "test": 3}
        return sorted(range(len(self.split_names)), key=lambda s: rank[self.split_roles[s]])


@dataclass(frozen=True)
class Check:
    """A registered check (see :data:`CHECKS`).

    Examples
    --------
    >>> from pitfalls.audit import CHECKS
    >>> CHECKS["PF101"].name, CHECKS["PF101"].needs
    ('group-in-several-splits', ())
    """

    code: str
    name: str
    severity: str
    title: str
    checklist: tuple[int, ...]
    leakage_types: tuple[str, ...]
    needs: tuple[str, ...]
    func: Callable[[AuditData], list[Finding]]

    def finding(
        self,
        detail: str,
        n_affected: int,
        examples: list[str] | None = None,
        *,
        severity: str | None = None,
        pairs: Sequence[tuple[int, int, float]] | None = None,
    ) -> Finding:
        """Build a finding of this check (severity defaults to the check's)."""
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
            pairs=list(pairs or []),
        )


CHECKS: dict[str, Check] = {}


def _register(
    code: str,
    name: str,
    *,
    severity: str,
    title: str,
    checklist: tuple[int, ...] = (),
    leakage: tuple[str, ...] = (),
    needs: tuple[str, ...] = (),
) -> Callable[[Callable[[AuditData, Check], list[Finding]]], Callable[..., Any]]:
    def decorator(func: Callable[[AuditData, Check], list[Finding]]) -> Callable[..., Any]:
        def run(data: AuditData) -> list[Finding]:
            return func(data, CHECKS[code])

        CHECKS[code] = Check(code, name, severity, title, checklist, leakage, needs, run)
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


def _group_split_pairs(data: AuditData) -> np.ndarray:
    if "group_split" not in data.extra:
        data.extra["group_split"] = _distinct_pairs(data.group, data.split, len(data.split_names))
    return data.extra["group_split"]


def _split_counts(data: AuditData, positions: np.ndarray) -> str:
    counts = np.bincount(data.split[positions], minlength=len(data.split_names))
    return ", ".join(f"{data.split_name(s)} ({counts[s]})" for s in data.split_order() if counts[s])


# --- groups and splits ------------------------------------------------------------


@_register(
    "PF101",
    "group-in-several-splits",
    severity="high",
    title="Patient (group) in more than one split",
    checklist=(4,),
    leakage=("L3.2",),
)
def _group_in_several_splits(data: AuditData, check: Check) -> list[Finding]:
    n_splits = len(data.split_names)
    pairs = _group_split_pairs(data)
    splits_per_group = np.bincount(pairs // n_splits, minlength=len(data.group_names))
    leaked = np.flatnonzero(splits_per_group > 1)
    if leaked.size == 0:
        return []
    in_leaked = (splits_per_group > 1)[data.group]
    examples = []
    for g in leaked[:MAX_EXAMPLES]:
        rows = np.flatnonzero(data.group == g)
        examples.append(f"{_q(data.group_names[g])}: {_split_counts(data, rows)}")
    detail = (
        f"{len(leaked)} of {len(data.group_names)} groups in column "
        f"{data.columns['group']!r} {'has' if len(leaked) == 1 else 'have'} samples in "
        "more than one split "
        f"({_plural(int(in_leaked.sum()), 'row')}); samples of one patient are not "
        "independent, so scores on the other split are inflated. Re-split by group "
        "(pitfalls.model_selection.train_val_test_split(..., groups=))."
    )
    return [check.finding(detail, int(in_leaked.sum()), examples)]


@_register(
    "PF110",
    "no-test-split",
    severity="high",
    title="No held-out test split",
    checklist=(4, 8),
    leakage=("L1.1",),
)
def _no_test_split(data: AuditData, check: Check) -> list[Finding]:
    names = describe_values(map(str, data.split_names))
    if len(data.split_names) == 1:
        detail = (
            f"every row is in split {data.split_name(0)!r}: there is no held-out data, so "
            "any score is measured on training data."
        )
        return [check.finding(detail, data.n_rows, [data.split_name(0)])]
    if "test" in data.split_roles:
        return []
    if "train" in data.split_roles:
        detail = (
            f"no split is named as a test set (splits: {names}); tuning and reporting on "
            "the same validation split overestimates performance. Keep a test split "
            "untouched until the end (pass test_splits= if it has another name)."
        )
        return [check.finding(detail, 0, [], severity="medium")]
    detail = (
        f"could not tell which split is the test set from the names ({names}); pass "
        "test_splits= to name it. Checks on external test sites assume none."
    )
    return [check.finding(detail, 0, [], severity="info")]


@_register(
    "PF111",
    "test-older-than-train",
    severity="low",
    title="Test samples dated before training samples",
    checklist=(8,),
    leakage=("L3.1",),
    needs=("date",),
)
def _test_older_than_train(data: AuditData, check: Check) -> list[Finding]:
    assert data.date is not None
    roles = np.array([r or "" for r in data.split_roles])[data.split]
    train_dates = data.date[roles == "train"]
    test_mask = roles == "test"
    train_dates = train_dates[~np.isnat(train_dates)]
    if train_dates.size == 0 or not test_mask.any():
        return []
    latest_train = train_dates.max()
    earlier = np.flatnonzero(test_mask & ~np.isnat(data.date) & (data.date < latest_train))
    if earlier.size == 0:
        return []
    detail = (
        f"{earlier.size} of {int(test_mask.sum())} test rows are dated before the latest "
        f"training row ({np.datetime_as_string(latest_train, unit='D')}); a model deployed "
        "forward in time is better judged on a test set that comes after training (a "
        "temporal split)."
    )
    examples = [f"row {data.row(p)}" for p in earlier[:MAX_EXAMPLES]]
    return [check.finding(detail, earlier.size, examples)]


# --- duplicates -------------------------------------------------------------------


def _duplicates_across(data: AuditData, keys: np.ndarray, check: Check, what: str) -> list[Finding]:
    valid = np.flatnonzero(keys >= 0)
    if valid.size == 0:
        return []
    n_splits = len(data.split_names)
    k = keys[valid]
    key_split = _distinct_pairs(k, data.split[valid], n_splits)
    splits_per_key = np.bincount(key_split // n_splits, minlength=int(k.max()) + 1)
    if not (splits_per_key > 1).any():
        return []
    rows = valid[(splits_per_key > 1)[k]]
    # Sort the affected rows by (key, group): sets are runs of equal keys, and the
    # distinct groups of a set are the group changes within its run.
    order = np.lexsort((data.group[rows], keys[rows]))
    rows = rows[order]
    row_keys, row_groups = keys[rows], data.group[rows]
    starts = np.flatnonzero(np.r_[True, row_keys[1:] != row_keys[:-1]])
    new_group = np.r_[True, (row_keys[1:] != row_keys[:-1]) | (row_groups[1:] != row_groups[:-1])]
    groups_per_set = np.add.reduceat(new_group.astype(np.int64), starts)
    other_patient = int((groups_per_set > 1).sum())
    ends = np.r_[starts[1:], rows.size]
    examples: list[str] = []
    pairs: list[tuple[int, int, int]] = []
    for start, end in zip(starts[:MAX_PAIRS], ends[:MAX_PAIRS], strict=True):
        members = np.sort(rows[start:end])
        if len(examples) < MAX_EXAMPLES:
            examples.append(
                "rows "
                + ", ".join(
                    f"{data.row(p)} ({data.split_name(data.split[p])})" for p in members[:4]
                )
            )
        first = members[0]
        second = members[np.flatnonzero(data.split[members] != data.split[first])[0]]
        pairs.append((int(first), int(second), 0))
    detail = (
        f"sets of {what} found in more than one split: {starts.size} "
        f"({_plural(rows.size, 'row')}); "
        f"sets spanning different patients, which the group check cannot see: "
        f"{other_patient}. Identical samples on both sides inflate test scores (oversampling or "
        "copying before the split leaves exactly this trace); drop or regroup them."
    )
    return [check.finding(detail, rows.size, examples, pairs=pairs)]


def _duplicates_within(data: AuditData, keys: np.ndarray, check: Check, what: str) -> list[Finding]:
    valid = np.flatnonzero(keys >= 0)
    if valid.size == 0:
        return []
    n_splits = len(data.split_names)
    combined = keys[valid].astype(np.int64) * n_splits + data.split[valid]
    counts = np.bincount(combined)
    repeated = counts[combined] > 1
    if not repeated.any():
        return []
    rows = valid[repeated]
    n_sets = int((counts > 1).sum())
    examples = []
    for u in np.flatnonzero(counts > 1)[:MAX_EXAMPLES]:
        members = valid[combined == u]
        examples.append(
            f"split {data.split_name(int(u % n_splits))!r}: rows "
            + ", ".join(data.row(p) for p in members[:4])
        )
    detail = (
        f"sets of {what} repeated within a split: {n_sets} ({_plural(rows.size, 'row')} in "
        f"total: {_split_counts(data, rows)}); they weigh those samples more in training "
        "or evaluation. Check whether they are re-exports, oversampled copies or errors."
    )
    return [check.finding(detail, rows.size, examples)]


def _image_keys(data: AuditData) -> np.ndarray:
    assert data.images is not None
    if "image_keys" not in data.extra:
        # Blank images are left out: two black frames are identical without sharing
        # anything of a patient (PF108 reports them).
        keys = pd.factorize(data.images.exact)[0].astype(np.int64)
        keys[data.images.low_information] = -1
        data.extra["image_keys"] = keys
    return data.extra["image_keys"]


@_register(
    "PF102",
    "duplicate-images-across-splits",
    severity="high",
    title="Identical images in more than one split",
    checklist=(1, 4),
    leakage=("L1.4", "L3.2"),
    needs=("image",),
)
def _duplicate_images_across(data: AuditData, check: Check) -> list[Finding]:
    return _duplicates_across(data, _image_keys(data), check, "identical images (decoded pixels)")


@_register(
    "PF103",
    "duplicate-rows-across-splits",
    severity="high",
    title="Identical feature rows in more than one split",
    checklist=(1, 4),
    leakage=("L1.4", "L3.2"),
    needs=("features",),
)
def _duplicate_rows_across(data: AuditData, check: Check) -> list[Finding]:
    assert data.feature_hash is not None
    return _duplicates_across(data, data.feature_hash, check, "identical feature rows")


@_register(
    "PF105",
    "duplicate-images-within-split",
    severity="low",
    title="Identical images within a split",
    checklist=(1,),
    leakage=("L1.4",),
    needs=("image",),
)
def _duplicate_images_within(data: AuditData, check: Check) -> list[Finding]:
    return _duplicates_within(data, _image_keys(data), check, "identical images")


@_register(
    "PF106",
    "duplicate-rows-within-split",
    severity="low",
    title="Identical feature rows within a split",
    checklist=(1,),
    leakage=("L1.4",),
    needs=("features",),
)
def _duplicate_rows_within(data: AuditData, check: Check) -> list[Finding]:
    assert data.feature_hash is not None
    return _duplicates_within(data, data.feature_hash, check, "identical feature rows")


@_register(
    "PF107",
    "conflicting-duplicate-labels",
    severity="medium",
    title="Identical samples with different labels",
    leakage=("L1.4",),
    needs=("label",),
)
def _conflicting_labels(data: AuditData, check: Check) -> list[Finding]:
    assert data.label is not None
    findings_rows: list[np.ndarray] = []
    examples: list[str] = []
    key_sets = []
    if data.images is not None:
        key_sets.append(("image", _image_keys(data)))
    if data.feature_hash is not None:
        key_sets.append(("feature row", data.feature_hash))
    if not key_sets or data.label_continuous:
        return []
    n_labels = len(data.label_names) if data.label_names is not None else 0
    for what, keys in key_sets:
        valid = np.flatnonzero((keys >= 0) & (data.label >= 0))
        if valid.size == 0:
            continue
        pairs = _distinct_pairs(keys[valid], data.label[valid], n_labels)
        labels_per_key = np.bincount(pairs // n_labels, minlength=int(keys.max()) + 1)
        bad = np.flatnonzero(labels_per_key > 1)
        if bad.size == 0:
            continue
        rows = valid[(labels_per_key > 1)[keys[valid]]]
        findings_rows.append(rows)
        for key in bad[: MAX_EXAMPLES - len(examples)]:
            members = valid[keys[valid] == key][:4]
            assert data.label_names is not None
            examples.append(
                f"same {what}: "
                + ", ".join(
                    f"row {data.row(p)} = {_q(data.label_names[data.label[p]])}" for p in members
                )
            )
    if not findings_rows:
        return []
    rows = np.unique(np.concatenate(findings_rows))
    detail = (
        f"rows sharing identical content with a row of another label: {rows.size}; "
        "label noise or a mix-up (the same image filed under two classes). Resolve the "
        "label before training."
    )
    return [check.finding(detail, rows.size, examples)]


@_register(
    "PF108",
    "low-information-images",
    severity="info",
    title="Nearly blank images (not compared for near duplicates)",
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
        f"{n_identical} of them are pixel-identical to another one. They carry no "
        "patient information, so they were left out of the duplicate and near-duplicate "
        "checks (every blank image would match every other). Blank images are often "
        "export errors."
    )
    examples = (
        [f"row {data.row(p)}: {data.image_paths[p]}" for p in low[:MAX_EXAMPLES]]
        if data.image_paths
        else []
    )
    return [check.finding(detail, low.size, examples)]


@_register(
    "PF104",
    "near-duplicate-images",
    severity="medium",
    title="Near-duplicate images in different splits",
    checklist=(2, 4),
    leakage=("L1.4", "L3.2"),
    needs=("image",),
)
def _near_duplicates(data: AuditData, check: Check) -> list[Finding]:
    assert data.images is not None
    if not data.near_duplicates:
        return []
    a, b, d, f, v, c = _near_pairs(data)
    if a.size == 0:
        return []
    rows = np.unique(np.concatenate([a, b]))
    other_patient = int((data.group[a] != data.group[b]).sum())
    examples = [
        f"rows {data.row(x)} ({data.split_name(data.split[x])}) and {data.row(y)} "
        f"({data.split_name(data.split[y])}{_ORIENTATION_NOTES[o]}), distance {dist}/64, "
        f"{fd}/256, detail correlation {cc / 1000:.2f}"
        for x, y, dist, fd, o, cc in list(zip(a, b, d, f, v, c, strict=True))[:MAX_EXAMPLES]
    ]
    flipped = int((v > 0).sum())
    detail = (
        f"image pairs in different splits within {data.near_threshold} of 64 "
        f"perceptual-hash bits and {data.near_detail_threshold} of 256 detail-hash bits, "
        f"fine detail correlated at {data.near_min_correlation:.2f} or more: "
        f"{a.size} ({_plural(rows.size, 'row')}; across different patients: {other_patient}; "
        f"flipped or turned: {flipped}). Re-encoded, resized, "
        "brightness-shifted or augmented copies. Augmentation before the split leaves "
        "exactly this trace; look at the pairs and drop or regroup them."
    )
    pairs = [
        (int(x), int(y), int(z))
        for x, y, z in zip(a[:MAX_PAIRS], b[:MAX_PAIRS], d[:MAX_PAIRS], strict=True)
    ]
    return [check.finding(detail, rows.size, examples, pairs=pairs)]


_ORIENTATION_NOTES = (
    "",
    ", flipped left-right",
    ", flipped up-down",
    ", turned 180°",
    ", transposed",
    ", turned 90°",
    ", turned 90°",
    ", anti-transposed",
)


def _near_pairs(data: AuditData) -> tuple[np.ndarray, ...]:
    """Cross-split near-duplicate pairs, closest first.

    Returns (a, b, coarse distance, detail distance, orientation, detail
    correlation x 1000). Candidates within ``near_threshold`` coarse bits and
    ``near_detail_threshold`` detail bits are verified on the thumbnails (see
    :data:`NEAR_MIN_DETAIL_CORRELATION`) when the hashes carry them.
    """
    assert data.images is not None
    images = data.images
    usable = ~images.low_information
    keys = _image_keys(data)
    # Training-like splits first, so that a pair reads "train ... and test ...".
    split_order = data.split_order()
    orientations = data.near_orientations
    found = []
    for pos, s1 in enumerate(split_order):
        rows1 = np.flatnonzero(usable & (data.split == s1))
        for s2 in split_order[pos + 1 :]:
            rows2 = np.flatnonzero(usable & (data.split == s2))
            for o in orientations:
                i, j, d = hamming_pairs(
                    images.perceptual_orientations[rows1, 0],
                    images.perceptual_orientations[rows2, o],
                    data.near_threshold,
                )
                a, b = rows1[i], rows2[j]
                # Candidates from the coarse hash are confirmed on the 256-bit
                # detail hash; identical pixels are PF102's business.
                fine = np.bitwise_count(
                    images.detail_orientations[a, 0] ^ images.detail_orientations[b, o]
                ).sum(axis=1)
                keep = np.flatnonzero((keys[a] != keys[b]) & (fine <= data.near_detail_threshold))
                a, b, d, fine = a[keep], b[keep], d[keep], fine[keep]
                corr = np.ones(a.size)
                ok = np.ones(a.size, bool)
                if images.thumbnail is not None and a.size:
                    # Verify on content: look-alike images of one kind pass the hashes.
                    intensity, corr = thumbnail_correlation(
                        images.thumbnail[a],
                        _orient(images.thumbnail[b], o),
                        max_shift=NEAR_MAX_SHIFT,
                    )
                    # Coarse-hash candidates of each image: few means the hashes
                    # already discriminate this kind of image.
                    crowd = np.maximum(
                        np.bincount(i, minlength=rows1.size)[i],
                        np.bincount(j, minlength=rows2.size)[j],
                    )[keep]
                    ok = (corr >= data.near_min_correlation) | (
                        (crowd <= NEAR_CROWDED) & (intensity >= NEAR_MIN_INTENSITY_CORRELATION)
                    )
                milli = np.round(np.asarray(corr[ok], np.float64) * 1000)
                found.append(np.stack([a[ok], b[ok], d[ok], fine[ok], np.full(ok.sum(), o), milli]))
    if not found:
        return tuple(np.empty(0, np.int64) for _ in range(6))
    a, b, d, f, v, c = np.concatenate(found, axis=1).astype(np.int64)
    # Closest first; a pair matched in several orientations is kept once, at its best.
    order = np.lexsort((v, b, a, -c, f, d))
    a, b, d, f, v, c = a[order], b[order], d[order], f[order], v[order], c[order]
    _, first = np.unique(a * np.int64(data.n_rows) + b, return_index=True)
    first.sort()
    return a[first], b[first], d[first], f[first], v[first], c[first]


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


@_register(
    "PF201",
    "site-label-confounding",
    severity="high",
    title="Site (data source) confounded with the label",
    checklist=(9,),
    leakage=("L2", "L3.3"),
    needs=("site", "label"),
)
def _site_label_confounding(data: AuditData, check: Check) -> list[Finding]:
    from ..batch_effects import confounding_test

    assert data.label is not None and data.site is not None
    assert data.label_names is not None and data.site_names is not None
    if not _label_usable(data):
        return []
    keep = data.label >= 0
    # Integer codes give the same table as the values, several times faster.
    try:
        result = confounding_test(data.label[keep], data.site[keep], warn=False)
    except ValueError:  # one class or one site: nothing to be confounded with
        return []
    v = result.cramers_v
    if not np.isfinite(v) or v < 0.1 or result.pvalue >= 0.05:
        return []
    severity = "high" if v >= 0.5 else "medium" if v >= 0.3 else "low"
    shares = result.table.div(result.table.sum(axis=1), axis=0)
    examples = [
        f"site {_q(data.site_names[site])}: "
        + ", ".join(f"{_q(data.label_names[lab])} {share:.0%}" for lab, share in row.items())
        for site, row in list(shares.iterrows())[:MAX_EXAMPLES]
    ]
    detail = (
        f"the label mix differs between sites (bias-corrected Cramér's V = {v:.2f}, "
        f"{result.method} p = {result.pvalue:.2g}); the site alone predicts the label with "
        f"balanced accuracy {result.label_from_batch_score:.2f}. A model can learn the "
        "source instead of the disease: balance classes within sites, or test on an "
        "external site (pitfalls.batch_effects)."
    )
    return [check.finding(detail, result.n_samples, examples, severity=severity)]


@_register(
    "PF202",
    "site-mix-differs",
    severity="medium",
    title="Site proportions differ between splits",
    checklist=(9,),
    leakage=("L3.3",),
    needs=("site",),
)
def _site_mix_differs(data: AuditData, check: Check) -> list[Finding]:
    from scipy.stats import chi2_contingency

    from ..batch_effects import bias_corrected_cramers_v

    assert data.site is not None and data.site_names is not None
    table = _crosstab(data.split, data.site, len(data.split_names), len(data.site_names))
    # Sites held by a single split are PF203's (often a deliberate external test).
    table = table[:, (table > 0).sum(axis=0) > 1]
    table = table[table.sum(axis=1) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return []
    _, pvalue, _, _ = chi2_contingency(table, correction=False)
    v = bias_corrected_cramers_v(table)
    if not np.isfinite(v) or v < 0.1 or pvalue >= 0.01:
        return []
    shared_sites = np.flatnonzero(
        (_crosstab(data.split, data.site, len(data.split_names), len(data.site_names)) > 0).sum(
            axis=0
        )
        > 1
    )
    full = _crosstab(data.split, data.site, len(data.split_names), len(data.site_names))
    examples = []
    for s in range(len(data.split_names)):
        total = full[s, shared_sites].sum()
        if total:
            mix = ", ".join(
                f"{_q(data.site_names[k])} {full[s, k] / total:.0%}" for k in shared_sites
            )
            examples.append(f"{data.split_name(s)}: {mix}")
    detail = (
        f"the share of each site differs between splits (chi-square p = {pvalue:.2g}, "
        f"Cramér's V = {v:.2f}, over sites present in several splits); the test set then "
        "measures another population than the one trained on. Stratify the split by site "
        "(and label)."
    )
    return [check.finding(detail, data.n_rows, examples, severity="medium" if v >= 0.2 else "low")]


def _crosstab(a: np.ndarray, b: np.ndarray, n_a: int, n_b: int) -> np.ndarray:
    return np.bincount(a * n_b + b, minlength=n_a * n_b).reshape(n_a, n_b)


@_register(
    "PF203",
    "site-in-one-split",
    severity="low",
    title="Site present in only one split",
    checklist=(8,),
    leakage=("L3.3",),
    needs=("site",),
)
def _site_in_one_split(data: AuditData, check: Check) -> list[Finding]:
    assert data.site is not None and data.site_names is not None
    if len(data.split_names) < 2:
        return []
    table = _crosstab(data.split, data.site, len(data.split_names), len(data.site_names))
    only = np.flatnonzero((table > 0).sum(axis=0) == 1)
    if only.size == 0:
        return []
    home = table[:, only].argmax(axis=0)
    in_test = np.array([data.split_roles[h] == "test" for h in home])
    examples = [
        f"site {_q(data.site_names[k])} only in {data.split_name(h)} ({table[h, k]} rows)"
        for k, h in zip(only[:MAX_EXAMPLES], home[:MAX_EXAMPLES], strict=True)
    ]
    n_rows = int(table[home, only].sum())
    detail = (
        f"sites present in a single split: {only.size} of {len(data.site_names)}. That is "
        "right for a "
        "deliberate external test set (a site held out for testing); otherwise a site "
        "seen only in training is never evaluated, and one seen only in validation or "
        "test measures a shift the model never saw."
    )
    severity = "info" if in_test.all() else "low"
    return [check.finding(detail, n_rows, examples, severity=severity)]


@_register(
    "PF204",
    "no-external-test",
    severity="info",
    title="No external (site-held-out) test set",
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
        "estimate generalisation."
    )
    return [check.finding(detail, 0, [])]


# --- labels -----------------------------------------------------------------------


def _label_table(data: AuditData) -> np.ndarray:
    assert data.label is not None and data.label_names is not None
    keep = data.label >= 0
    return _crosstab(
        data.split[keep], data.label[keep], len(data.split_names), len(data.label_names)
    )


@_register(
    "PF301",
    "class-imbalance",
    severity="medium",
    title="Imbalanced classes: accuracy misleads",
    checklist=(5, 7),
    needs=("label",),
)
def _class_imbalance(data: AuditData, check: Check) -> list[Finding]:
    if not _label_usable(data):
        return []
    assert data.label_names is not None
    table = _label_table(data)
    counts = table.sum(axis=0)
    present = counts[counts > 0]
    if present.size < 2:
        return []
    ratio = present.max() / present.min()
    if ratio < IMBALANCE_LOW:
        return []
    major = int(counts.argmax())
    baseline = []
    for s in range(len(data.split_names)):
        if table[s].sum():
            baseline.append(f"{data.split_name(s)} {table[s, major] / table[s].sum():.2f}")
    examples = [f"{_q(data.label_names[k])}: {counts[k]}" for k in np.argsort(-counts)]
    detail = (
        f"the largest class is {ratio:.1f} times the smallest; predicting "
        f"{_q(data.label_names[major])} for every sample scores accuracy "
        f"{', '.join(baseline)}. Report balanced accuracy, precision, recall and F1 beside "
        "that naive baseline (pitfalls.metrics.classification_summary), not accuracy alone."
    )
    severity = "medium" if ratio >= IMBALANCE_MEDIUM else "low"
    return [check.finding(detail, int(counts.sum()), examples, severity=severity)]


@_register(
    "PF302",
    "class-missing-from-split",
    severity="medium",
    title="Class missing from a split",
    checklist=(5,),
    leakage=("L3.3",),
    needs=("label",),
)
def _class_missing(data: AuditData, check: Check) -> list[Finding]:
    if not _label_usable(data):
        return []
    assert data.label_names is not None
    table = _label_table(data)
    examples = []
    n_rows = 0
    for s in range(len(data.split_names)):
        if table[s].sum() == 0:
            continue
        missing = np.flatnonzero(table[s] == 0)
        if missing.size:
            names = describe_values(data.label_names[missing])
            examples.append(f"{data.split_name(s)} has no {names}")
            n_rows += int(table[s].sum())
    if not examples:
        return []
    detail = (
        f"splits lacking a class present elsewhere: {len(examples)}; recall, AUC "
        "and per-class metrics are undefined there. Stratify the split by label "
        "(pitfalls.model_selection.StratifiedGroupKFold)."
    )
    return [check.finding(detail, n_rows, examples)]


@_register(
    "PF303",
    "tiny-split",
    severity="medium",
    title="Split too small for a stable estimate",
    checklist=(7,),
)
def _tiny_split(data: AuditData, check: Check) -> list[Finding]:
    n_splits = len(data.split_names)
    rows = np.bincount(data.split, minlength=n_splits)
    groups = np.bincount(_group_split_pairs(data) % n_splits, minlength=n_splits)
    examples, severity = [], "low"
    tiny = (rows < TINY_SPLIT_ROWS) | (groups < TINY_SPLIT_GROUPS)
    affected = tiny[data.split]
    for s in np.flatnonzero(tiny):
        examples.append(f"{data.split_name(s)}: {rows[s]} rows, {groups[s]} groups")
        severity = "medium"
    if _label_usable(data):
        assert data.label_names is not None
        table = _label_table(data)
        for s, k in zip(*np.nonzero((table > 0) & (table < TINY_CLASS_ROWS)), strict=True):
            examples.append(
                f"{data.split_name(s)}: only {table[s, k]} of class {_q(data.label_names[k])}"
            )
            assert data.label is not None
            affected |= (data.split == s) & (data.label == k)
    if not examples:
        return []
    detail = (
        f"splits under {TINY_SPLIT_ROWS} rows or {TINY_SPLIT_GROUPS} patients, or classes "
        f"under {TINY_CLASS_ROWS} samples in a split: {len(examples)}; scores "
        "measured there swing widely from one split to the next. Report confidence "
        "intervals, or use (repeated) group cross-validation."
    )
    return [check.finding(detail, int(affected.sum()), examples, severity=severity)]


@_register(
    "PF304",
    "missing-labels",
    severity="low",
    title="Rows without a label",
    needs=("label",),
)
def _missing_labels(data: AuditData, check: Check) -> list[Finding]:
    assert data.label is not None
    missing = np.flatnonzero(data.label < 0)
    if missing.size == 0:
        return []
    detail = (
        f"rows without a value in {data.columns['label']!r}: {missing.size} "
        f"({_split_counts(data, missing)}); they were left out of the label checks."
    )
    return [
        check.finding(detail, missing.size, [f"row {data.row(p)}" for p in missing[:MAX_EXAMPLES]])
    ]
