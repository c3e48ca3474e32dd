"""The study report's inputs: the manifest and the predictions, validated and joined once.

:func:`prepare_study` reads the manifest with the audit's reader (id, group, split,
label, site and subgroup columns as text from a CSV, so ``"007"`` stays ``"007"``),
checks every column named, reads the predictions, joins them on the sample id as
text and encodes every column the sections need as integer codes
(:class:`StudyData`). :func:`plan_evaluation` then decides which rows are evaluated
(:class:`EvaluationSet`). Every section reads these two objects; nothing is read or
joined twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from .._manifest import ManifestError, check_columns, read_manifest
from .._validation import describe_values
from ..audit import split_role

__all__ = [
    "EvaluationSet",
    "StudyData",
    "evaluation_splits_of",
    "plan_evaluation",
    "prepare_study",
    "text_values",
]

# Split roles in reading order (the audit's order), external sets last.
_ROLE_RANK = {"train": 0, "val": 1, None: 2, "test": 3, "external": 4}
ALL_ROWS = "all"  # name of the evaluation set when no split is a test split


@dataclass(frozen=True)
class StudyData:
    """The manifest and its predictions, validated and encoded (internal)."""

    frame: pd.DataFrame
    columns: dict[str, str | None]  # role -> column: group, split, label, site, sample_id
    subgroups: tuple[str, ...]
    sample_index: pd.Index  # the sample ids as text, unique
    group_codes: np.ndarray  # patient index, in order of first appearance
    group_names: np.ndarray  # text
    split_codes: np.ndarray
    split_names: list[str]  # in reading order: train, val, unnamed, test, external
    label_codes: np.ndarray  # 0/1 in the order of label_names; -1 where missing
    label_names: list[str]  # the two labels sorted as text
    pos_index: int
    site_codes: np.ndarray | None = None  # -1 where missing
    site_names: list[str] | None = None
    has_prediction: np.ndarray | None = None  # bool per manifest row: a usable prediction
    listed: np.ndarray | None = None  # bool per manifest row: a row of the predictions
    score: np.ndarray | None = None  # float, NaN where no prediction
    predicted: np.ndarray | None = None  # label codes, -1 where no prediction
    prediction_columns: dict[str, str | None] = field(default_factory=dict)  # score, prediction
    missing: dict[str, int] = field(default_factory=dict)

    @property
    def sample_ids(self) -> np.ndarray:
        return self.sample_index.to_numpy()

    @property
    def n_samples(self) -> int:
        return int(self.group_codes.size)

    @property
    def pos_label(self) -> str:
        return self.label_names[self.pos_index]

    @property
    def has_scores(self) -> bool:
        return self.score is not None


@dataclass(frozen=True)
class EvaluationSet:
    """Rows evaluated together: one split, or every row with a prediction (internal)."""

    name: str
    role: str | None  # "test" or "external" (None for the fallback set of every row)
    rows: np.ndarray  # manifest positions

    @property
    def external(self) -> bool:
        return self.role == "external"


# --- text ids -------------------------------------------------------------------------


def text_values(values: Any) -> np.ndarray:
    """Values as text, as written: ``"007"`` stays ``"007"``; ``1.0`` is ``"1"``; missing: None.

    Integral floats are written as integers so that labels and ids that pandas read
    as floats (a column with a missing value) match those read as integers.

    Examples
    --------
    >>> import pandas as pd
    >>> from pitfalls.report._data import text_values
    >>> text_values(pd.Series(["007", "7", None])).tolist()
    ['007', '7', None]
    >>> text_values(pd.Series([1.0, float("nan"), 0.0])).tolist()
    ['1', None, '0']
    """
    series = pd.Series(values) if not isinstance(values, pd.Series) else values
    missing = series.isna().to_numpy()
    if pd.api.types.is_float_dtype(series):
        finite = series.to_numpy(dtype=float)[~missing]
        if np.all(finite == np.round(finite)) and np.all(np.abs(finite) < 2**53):
            series = series.astype("Int64")
    if pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty"):
        text = series.to_numpy(dtype=object, copy=True)
    elif pd.api.types.is_bool_dtype(series) or series.dtype == object:
        text = series.map(lambda v: v if isinstance(v, str) else str(v)).to_numpy(dtype=object)
    else:
        text = series.astype(str).to_numpy(dtype=object)
    text[missing] = None
    return text


def _ids_sentence(ids: Sequence[Any]) -> str:
    return describe_values(ids, limit=3)


# --- manifest -------------------------------------------------------------------------


def _read(manifest: Any, columns: dict[str, str | None], subgroups: tuple[str, ...]) -> Any:
    text_columns = [c for c in (*columns.values(), *subgroups) if c is not None]
    frame = read_manifest(manifest, text_columns=text_columns)
    check_columns(frame, columns, required_values=("group", "split", "sample_id"))
    for column in subgroups:
        check_columns(frame, {"subgroups": column})
    return frame


def _sample_ids(frame: pd.DataFrame, column: str | None) -> pd.Index:
    """The sample ids as text, unique (the index's hash table then serves the join)."""
    ids = pd.Index(text_values(frame[column] if column is not None else frame.index.to_series()))
    if not ids.is_unique:
        values = ids[ids.duplicated(keep=False)].unique()
        where = (
            f"sample_id column {column!r}"
            if column is not None
            else "the manifest's index (the default sample id)"
        )
        fix = (
            "each row needs its own id"
            if column is not None
            else "pass sample_id= naming a column with one id per row"
        )
        raise ManifestError(
            f"{where} repeats {len(values)} value(s) ({_ids_sentence(values)}); {fix}."
        )
    return ids


def _codes(values: np.ndarray, *, sort: bool) -> tuple[np.ndarray, list[str]]:
    codes, names = pd.factorize(pd.Series(values, dtype=object), sort=sort)
    return codes.astype(np.int64), [str(v) for v in names]


def _labels(frame: pd.DataFrame, column: str, pos_label: Any) -> tuple[np.ndarray, list[str], int]:
    codes, names = _codes(text_values(frame[column]), sort=True)
    if len(names) != 2:
        shown = describe_values(names, limit=5)
        fix = (
            "evaluate one class against the rest (a column such as label == 'disease')"
            if len(names) > 2
            else "a binary evaluation needs both classes in the manifest"
        )
        raise ManifestError(
            f"label column {column!r} has {len(names)} class(es) ({shown}); the study report "
            f"is binary for now: {fix}."
        )
    if pos_label is None:
        return codes, names, 1
    if str(pos_label) not in names:
        raise ManifestError(
            f"pos_label={pos_label!r} is not a label of column {column!r} "
            f"({describe_values(names)}); use one of them."
        )
    return codes, names, names.index(str(pos_label))


def _split_order(names: list[str], external: set[str]) -> list[str]:
    def rank(name: str) -> tuple[int, str]:
        role = "external" if name in external else split_role(name)
        return _ROLE_RANK[role], name

    return sorted(names, key=rank)


def _external_by_name(names: Iterable[str]) -> set[str]:
    return {name for name in names if "external" in name.lower()}


# --- predictions ----------------------------------------------------------------------


def _read_predictions(predictions: Any, sample_id: str | None) -> tuple[pd.DataFrame, np.ndarray]:
    """The predictions table and its ids as text (column ``sample_id``, or the index)."""
    if isinstance(predictions, pd.DataFrame):
        table = predictions
        if sample_id is None:
            return table, text_values(table.index.to_series())
    else:
        try:
            table = read_manifest(predictions, text_columns=[sample_id] if sample_id else ())
        except ManifestError as exc:
            raise ManifestError(str(exc).replace("manifest", "predictions", 1)) from None
        if sample_id is None:  # a file: its first column holds the ids
            return table, text_values(table.iloc[:, 0])
    if sample_id not in table.columns:
        raise ManifestError(
            f"sample_id={sample_id!r} is not a column of the predictions; available columns: "
            f"{describe_values(map(str, table.columns), limit=20)}. The predictions are keyed "
            "by the manifest's sample id."
        )
    return table, text_values(table[sample_id])


def _positions(pred_ids: np.ndarray, sample_index: pd.Index) -> np.ndarray:
    """Manifest row of each prediction; errors name missing, unknown and repeated ids."""
    missing = pd.isna(pred_ids)
    if missing.any():
        raise ManifestError(
            f"predictions have {int(missing.sum())} row(s) without a sample id; every "
            "prediction needs the id of its manifest row."
        )
    if len(pred_ids) == len(sample_index) and np.array_equal(pred_ids, sample_index.to_numpy()):
        return np.arange(len(pred_ids))  # predictions in manifest order: no hashing needed
    positions = sample_index.get_indexer(pred_ids)
    unknown = pred_ids[positions < 0]
    if unknown.size:
        raise ManifestError(
            f"predictions hold {unknown.size} sample id(s) that are not in the manifest: "
            f"{_ids_sentence(unknown)}; predictions are keyed by the manifest's sample id, "
            "compared as text ('007' is not '7')."
        )
    repeated = np.flatnonzero(np.bincount(positions, minlength=len(sample_index)) > 1)
    if repeated.size:
        raise ManifestError(
            f"predictions repeat {repeated.size} sample id(s) "
            f"({_ids_sentence(sample_index[repeated])}); give one prediction per sample "
            "(average a sample's predictions first)."
        )
    return positions


def _score_values(table: pd.DataFrame, column: str) -> np.ndarray:
    values = table[column]
    numbers = pd.to_numeric(values, errors="coerce")
    bad = (numbers.isna() & values.notna()).to_numpy()
    if bad.any() or pd.api.types.is_bool_dtype(values):
        example = describe_values(values[bad] if bad.any() else values, limit=3)
        raise ManifestError(
            f"score column {column!r} of the predictions is not numeric (e.g. {example}); "
            "pass the score (probability) of the positive class, or the predicted labels "
            "with prediction=."
        )
    return numbers.to_numpy(dtype=float)


@dataclass(frozen=True)
class _Predictions:
    positions: np.ndarray
    score: np.ndarray | None
    predicted: np.ndarray | None  # label codes
    n_missing_score: int


def _prediction_codes(
    table: pd.DataFrame, column: str, label_names: list[str], label_column: str
) -> np.ndarray:
    text = text_values(table[column])
    codes = pd.Index(label_names).get_indexer(pd.Series(text, dtype=object).fillna("\0"))
    unknown = pd.unique(text[(codes < 0) & pd.notna(text)])
    if unknown.size:
        raise ManifestError(
            f"prediction column {column!r} holds value(s) that are not labels of column "
            f"{label_column!r} ({describe_values(label_names)}): {_ids_sentence(unknown)}; "
            "predict one of the two labels, as written in the manifest."
        )
    return codes


def _join(
    data: StudyData, table: pd.DataFrame, pred_ids: np.ndarray, threshold: float
) -> _Predictions:
    positions = _positions(pred_ids, data.sample_index)
    score_column = data.prediction_columns.get("score")
    label_column = data.columns["label"]
    assert label_column is not None
    score = predicted = None
    n_missing = 0
    if score_column is not None:
        score = _score_values(table, score_column)
        n_missing = int(np.isnan(score).sum())
    column = data.prediction_columns.get("prediction")
    if column is not None:
        predicted = _prediction_codes(table, column, data.label_names, label_column)
    elif score is not None:
        above = score >= threshold
        predicted = np.where(above, data.pos_index, 1 - data.pos_index)
        predicted[np.isnan(score)] = -1
    return _Predictions(positions, score, predicted, n_missing)


def _prediction_columns(
    table: pd.DataFrame, score: str | None, prediction: str | None, source: str = "predictions"
) -> None:
    if score is None and prediction is None:
        raise ManifestError(
            "predictions were given without score= or prediction=; name the column of the "
            "positive class's score (probability), or of the predicted labels."
        )
    for role, column in (("score", score), ("prediction", prediction)):
        if column is not None and column not in table.columns:
            raise ManifestError(
                f"{role}={column!r} is not a column of the {source}; available columns: "
                f"{describe_values(map(str, table.columns), limit=20)}."
            )


def _attach(data: StudyData, joined: _Predictions) -> StudyData:
    n = data.n_samples
    has = np.zeros(n, dtype=bool)
    predicted = np.full(n, -1, dtype=np.int64)
    valid = np.ones(joined.positions.size, dtype=bool)
    if joined.predicted is not None:
        valid &= joined.predicted >= 0
    if joined.score is not None:
        valid &= ~np.isnan(joined.score)
    has[joined.positions[valid]] = True
    listed = np.zeros(n, dtype=bool)
    listed[joined.positions] = True
    score = None
    if joined.score is not None:
        score = np.full(n, np.nan)
        score[joined.positions] = joined.score
    assert joined.predicted is not None
    predicted[joined.positions] = joined.predicted
    missing = dict(data.missing)
    if joined.score is not None:
        column = str(data.prediction_columns["score"])
        key = column if column not in missing else f"{column} (predictions)"
        missing[key] = joined.n_missing_score
    return replace(
        data, has_prediction=has, listed=listed, score=score, predicted=predicted, missing=missing
    )


# --- main -----------------------------------------------------------------------------


def prepare_study(
    manifest: Any,
    *,
    columns: dict[str, str | None],
    subgroups: Sequence[str],
    pos_label: Any,
    predictions: Any,
    prediction_columns: dict[str, str | None],
    threshold: float,
) -> StudyData:
    """Read and check the manifest, join the predictions, encode every column once."""
    subgroups = tuple([subgroups] if isinstance(subgroups, str) else subgroups)
    frame = _read(manifest, columns, subgroups)
    label = columns["label"]
    assert label is not None and columns["group"] is not None and columns["split"] is not None
    label_codes, label_names, pos_index = _labels(frame, label, pos_label)
    group_codes, group_names = _codes(text_values(frame[columns["group"]]), sort=False)
    split_text = text_values(frame[columns["split"]])
    split_names = _split_order(sorted(set(split_text)), _external_by_name(set(split_text)))
    data = StudyData(
        frame=frame,
        columns=dict(columns),
        subgroups=subgroups,
        sample_index=_sample_ids(frame, columns["sample_id"]),
        group_codes=group_codes,
        group_names=np.asarray(group_names, dtype=object),
        split_codes=pd.Index(split_names).get_indexer(split_text).astype(np.int64),
        split_names=split_names,
        label_codes=label_codes,
        label_names=label_names,
        pos_index=pos_index,
        prediction_columns=dict(prediction_columns),
        missing=_missing_counts(frame, columns, subgroups),
    )
    if columns["site"] is not None:
        site_codes, site_names = _codes(text_values(frame[columns["site"]]), sort=True)
        data = replace(data, site_codes=site_codes, site_names=site_names)
    return _with_predictions(data, predictions, threshold)


def _with_predictions(data: StudyData, predictions: Any, threshold: float) -> StudyData:
    score, prediction = data.prediction_columns["score"], data.prediction_columns["prediction"]
    if predictions is None and score is None and prediction is None:
        return data
    if predictions is None:  # the scores are columns of the manifest
        _prediction_columns(data.frame, score, prediction, source="manifest")
        table, ids = data.frame, data.sample_ids
    else:
        table, ids = _read_predictions(predictions, data.columns["sample_id"])
        _prediction_columns(table, score, prediction)
    return _attach(data, _join(data, table, ids, threshold))


def _missing_counts(
    frame: pd.DataFrame, columns: dict[str, str | None], subgroups: tuple[str, ...]
) -> dict[str, int]:
    used = [c for c in (*columns.values(), *subgroups) if c is not None]
    return {column: int(frame[column].isna().sum()) for column in dict.fromkeys(used)}


# --- evaluation plan ------------------------------------------------------------------


def _named_splits(values: Any, argument: str, data: StudyData) -> list[str] | None:
    if values is None:
        return None
    names = [str(v) for v in ([values] if isinstance(values, str) else values)]
    unknown = [name for name in names if name not in data.split_names]
    if unknown:
        raise ManifestError(
            f"{argument}={describe_values(unknown)} not found in split column "
            f"{data.columns['split']!r}; use split names as written there "
            f"({describe_values(data.split_names)})."
        )
    return list(dict.fromkeys(names))


def evaluation_splits_of(
    data: StudyData, evaluation_splits: Any = None, external_splits: Any = None
) -> tuple[list[str], list[str]]:
    """The evaluation splits and, among them, the external ones (in reading order).

    Default evaluation splits: those whose role (:func:`pitfalls.audit.split_role`)
    is ``"test"``, plus the external ones (default: names containing ``"external"``,
    case-insensitive; among the evaluation splits when those are named). An external
    split is always evaluated.
    """
    evaluation = _named_splits(evaluation_splits, "evaluation_splits", data)
    external = _named_splits(external_splits, "external_splits", data)
    if external is None:
        pool = data.split_names if evaluation is None else evaluation
        external = [name for name in pool if name in _external_by_name(pool)]
    if evaluation is None:
        evaluation = [name for name in data.split_names if split_role(name) == "test"]
    wanted = set(evaluation) | set(external)
    names = [name for name in data.split_names if name in wanted]
    return names, [name for name in names if name in set(external)]


def plan_evaluation(
    data: StudyData, names: Sequence[str], external: Sequence[str]
) -> list[EvaluationSet]:
    """The evaluation sets: the named splits, or every row with a prediction as ``"all"``.

    Empty without predictions. Every row of an evaluation set must have a prediction
    and a label.
    """
    if data.has_prediction is None:
        return []
    if not names:
        rows = np.flatnonzero(data.has_prediction)
        sets = [EvaluationSet(ALL_ROWS, None, rows)] if rows.size else []
    else:
        sets = [
            EvaluationSet(
                name,
                "external" if name in external else "test",
                np.flatnonzero(data.split_codes == data.split_names.index(name)),
            )
            for name in names
        ]
    _check_covered(data, sets)
    return sets


def _check_covered(data: StudyData, sets: list[EvaluationSet]) -> None:
    assert data.has_prediction is not None and data.listed is not None
    if not sets:
        return
    rows = np.concatenate([s.rows for s in sets])
    names = ", ".join(s.name for s in sets)
    lacking = rows[~data.listed[rows]]
    if lacking.size:
        raise ManifestError(
            f"predictions lack {lacking.size} sample id(s) of the evaluation splits ({names}): "
            f"{_ids_sentence(data.sample_ids[lacking])}; give a prediction for every sample "
            "of the splits evaluated, or name the splits to evaluate with evaluation_splits=."
        )
    empty = rows[~data.has_prediction[rows]]
    if empty.size:
        columns = [c for c in data.prediction_columns.values() if c is not None]
        raise ManifestError(
            f"predictions have a missing {' or '.join(map(repr, columns))} for {empty.size} "
            f"sample(s) of the evaluation splits ({names}): "
            f"{_ids_sentence(data.sample_ids[empty])}; every evaluated sample needs one."
        )
    unlabelled = rows[data.label_codes[rows] < 0]
    if unlabelled.size:
        raise ManifestError(
            f"label column {data.columns['label']!r} is missing for {unlabelled.size} "
            f"sample(s) of the evaluation splits ({names}): "
            f"{_ids_sentence(data.sample_ids[unlabelled])}; label them or leave them out of "
            "the manifest."
        )
