"""The one module through which pitfalls uses other libraries' private names.

scikit-learn and imbalanced-learn rename or remove their private names (a leading
underscore) without deprecation. Every one pitfalls cannot do without lives here,
with what it is for, why no public API does it, and the versions it was checked on,
so that a new release is checked by reading this one file (and running
``tests/test_code_rules.py``, which fails when such a name is used anywhere else).
imbalanced-learn keeps the same kind of module (``imblearn.utils._sklearn_compat``).

It also holds what depends on the version of another library (the shims for the
declared floors, last section): each names the versions it was checked on, and goes
when a floor in ``pyproject.toml`` rises past the version it serves
(``constraints-min.txt`` pins the floors; ``bin/test`` runs the core suite there).
"""

from __future__ import annotations

import numbers
import warnings
from math import ceil
from typing import Any, NamedTuple

import imblearn
import numpy as np
import sklearn
from imblearn import pipeline as _imblearn_pipeline
from imblearn.over_sampling import SMOTE
from sklearn import get_config
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection._split import GroupsConsumerMixin as _GroupsConsumerMixin
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils.validation import _is_arraylike_not_scalar, _num_samples

# =====================================================================================
# Private names of scikit-learn and imbalanced-learn (issue 12).
# Checked on scikit-learn 1.9.1 and imbalanced-learn 0.14.2, the versions pinned in
# constraints.txt. (The dependency floors, and what differs at them, are another
# section of this module.)
# =====================================================================================

# ---------------------------------------------------------------- arrays and metadata

# Rows of an array, a DataFrame, a sparse matrix or a list alike. Listed in
# sklearn.utils.__all__ and in scikit-learn's API reference, yet named private; under
# this import path since scikit-learn 0.24. Checked on scikit-learn 1.9.1.
safe_indexing = _safe_indexing

# The number of rows of anything scikit-learn accepts as X (sparse matrices, lists,
# DataFrames); no public equivalent. Checked on scikit-learn 1.9.1.
num_samples = _num_samples

# The test scikit-learn's cross-validation (_check_method_params) applies to decide
# which fit parameters are per-sample metadata, to be cut with the rows; using the same
# test keeps our Pipeline's re-indexing in line with cross_validate's slicing.
# Checked on scikit-learn 1.9.1.
is_arraylike_not_scalar = _is_arraylike_not_scalar

# A splitter that asks for ``groups`` in split() under metadata routing: the mixin
# scikit-learn's own group splitters use (sets __metadata_request__split and brings
# get_metadata_routing to classes that are not BaseCrossValidators).
# Checked on scikit-learn 1.9.1 (since 1.3).
GroupsConsumerMixin = _GroupsConsumerMixin


def routing_enabled() -> bool:
    """Whether scikit-learn's metadata routing is on.

    Public API (``sklearn.get_config``) in place of the private
    ``sklearn.utils.metadata_routing._routing_enabled``.

    Examples
    --------
    >>> import sklearn
    >>> from pitfalls._compat import routing_enabled
    >>> with sklearn.config_context(enable_metadata_routing=True):
    ...     routing_enabled()
    True
    >>> routing_enabled()
    False
    """
    return bool(get_config().get("enable_metadata_routing", False))


# ------------------------------------------------------------------------------ scorers

try:  # scorers that only read the model's predictions (or estimator.score)
    from sklearn.metrics._scorer import _BaseScorer, _PassthroughScorer

    _PREDICTION_SCORERS: tuple[type, ...] = (_BaseScorer, _PassthroughScorer)
except ImportError:  # pragma: no cover - another layout: no scorer is known to be one
    _PREDICTION_SCORERS = ()


def is_prediction_scorer(scorer: Any) -> bool:
    """Whether ``scorer`` only reads predictions, as scorers from ``make_scorer`` do.

    Such a scorer gives the same number on a pipeline's final step with transformed
    rows as on the whole pipeline with raw rows (what ``nested_cross_validate`` relies
    on to fit the steps before the model once). scikit-learn's scorer classes are
    private; any other callable (a plain function ``f(estimator, X, y)``) is not known
    to be one. Checked on scikit-learn 1.9.1.

    Examples
    --------
    >>> from sklearn.metrics import get_scorer
    >>> from pitfalls._compat import is_prediction_scorer
    >>> is_prediction_scorer(get_scorer("f1")), is_prediction_scorer(lambda est, X, y: 0.0)
    (True, False)
    """
    return isinstance(scorer, _PREDICTION_SCORERS)


# ---------------------------------------------------------------- imbalanced-learn

# Private hooks of scikit-learn / imbalanced-learn base classes that a pitfalls class
# overrides ("Class.attribute" of the class defining it -> what relies on it).
OVERRIDDEN_HOOKS: dict[str, str] = {
    "Pipeline._fit": (
        "pitfalls.pipeline.Pipeline: imbalanced-learn's Pipeline.fit, fit_transform, "
        "fit_predict and fit_resample call self._fit(X, y, routed_params, raw_params) "
        "to fit the steps before the final one; checked on imbalanced-learn 0.14.2"
    ),
}

# Fit a transformer step / a sampler step, cached by the pipeline's memory, printing the
# pipeline's verbose message: the functions imbalanced-learn's Pipeline._fit uses
# (imblearn.pipeline._fit_transform_one is scikit-learn's). Checked on
# imbalanced-learn 0.14.2.
fit_transform_one = _imblearn_pipeline._fit_transform_one
fit_resample_one = _imblearn_pipeline._fit_resample_one


def validate_pipeline_steps(pipeline: Any) -> None:
    """imbalanced-learn's checks of a pipeline's steps, with its error messages.

    (``Pipeline._validate_steps``; checked on imbalanced-learn 0.14.2.)
    """
    pipeline._validate_steps()


def pipeline_step_params(pipeline: Any, position: int, routed_params: Any, raw_params: Any) -> Any:
    """The metadata routed to the step at ``position``, ``transform_input`` applied.

    (``Pipeline._get_metadata_for_step``; checked on scikit-learn 1.9.1.)
    """
    return pipeline._get_metadata_for_step(
        step_idx=position, step_params=routed_params, all_params=raw_params
    )


def pipeline_step_message(pipeline: Any, position: int) -> str | None:
    """The pipeline's ``verbose`` message for a step, None when quiet.

    (``Pipeline._log_message``; checked on scikit-learn 1.9.1.)
    """
    message: str | None = pipeline._log_message(position)
    return message


def sampling_type(step: Any) -> str | None:
    """imbalanced-learn's kind of sampler (``"over-sampling"``, ...); None for others.

    imbalanced-learn marks each sampler class with ``_sampling_type`` (its combined
    samplers such as ``SMOTEENN`` as ``"over-sampling"``), and has no public way to ask;
    pitfalls' :class:`~pitfalls.pipeline.AugmentationSampler` sets ``"augmentation"``.
    Checked on imbalanced-learn 0.14.2.

    Examples
    --------
    >>> from imblearn.over_sampling import SMOTE
    >>> from imblearn.under_sampling import RandomUnderSampler
    >>> from pitfalls._compat import sampling_type
    >>> sampling_type(SMOTE()), sampling_type(RandomUnderSampler()), sampling_type(abs)
    ('over-sampling', 'under-sampling', None)
    """
    kind = getattr(step, "_sampling_type", None)
    return kind if isinstance(kind, str) else None


# ------------------------------------------------------------------ SMOTE's seed rows
# imbalanced-learn's SMOTE does not say which row each synthetic row was grown from (it
# has no sample_indices_). With an integer random_state its draws can be replayed:
# SMOTE._fit_resample visits the classes of sampling_strategy_ in order, skips those
# with no row to make, and BaseSMOTE._make_samples draws, from a fresh
# check_random_state(random_state) for each class, randint(0, n_class * k, n_samples)
# then uniform(size=n_samples), with k = nn_k_.n_neighbors - 1: draw // k is the seed
# row's position in the class, draw % k the neighbour's column, the uniform number the
# step. pitfalls uses these only as hints that speed up the source search: that search
# proves each answer itself (pitfalls.pipeline._provenance), so a wrong hint costs time,
# never a wrong source. Checked on imbalanced-learn 0.13.0 and 0.14.2;
# tests/test_pipeline_smote_sources.py rebuilds SMOTE's rows bit for bit from the
# replayed draws and fails when a release draws differently.
SMOTE_DRAWS_CHECKED_ON = ((0, 13), (0, 14))


class SmoteClassDraws(NamedTuple):
    """What SMOTE drew for one class (:func:`smote_seed_rows`)."""

    label: Any
    rows: np.ndarray
    """For each synthetic row, the position of its seed row among the class's rows."""
    columns: np.ndarray
    """Which of the seed's neighbours it goes towards (a column of ``kneighbors``
    without its first one, the row itself)."""
    steps: np.ndarray
    """How far it goes, in [0, 1)."""


class SmoteSeeds(NamedTuple):
    """SMOTE's draws, replayed (:func:`smote_seed_rows`)."""

    n_neighbors: int
    """``nn_k_.n_neighbors``: the seed row itself and the ``k`` neighbours drawn from."""
    classes: list[SmoteClassDraws]
    """One per class grown, in the order of SMOTE's output."""


def smote_seed_rows(sampler: Any, y: Any) -> SmoteSeeds | None:
    """The row each synthetic row of a fitted SMOTE was grown from, from its draws.

    None when they cannot be replayed: another sampler (subclasses included), a
    ``random_state`` that is not an integer (``None`` or a ``RandomState``, whose
    draws are spent), a neighbour search without ``n_neighbors``, or an
    imbalanced-learn release not in ``SMOTE_DRAWS_CHECKED_ON``.

    Examples
    --------
    >>> import numpy as np
    >>> from imblearn.over_sampling import SMOTE
    >>> from pitfalls._compat import smote_seed_rows
    >>> X = np.arange(16.0).reshape(8, 2)
    >>> y = np.array([0, 0, 0, 0, 0, 1, 1, 1])
    >>> smote = SMOTE(k_neighbors=2, random_state=0)
    >>> _ = smote.fit_resample(X, y)
    >>> seeds = smote_seed_rows(smote, y)
    >>> seeds.n_neighbors, [(int(draws.label), draws.rows.size) for draws in seeds.classes]
    (3, [(1, 2)])
    >>> smote_seed_rows(SMOTE(k_neighbors=2).fit(X, y), y) is None  # random_state=None
    True
    """
    if type(sampler) is not SMOTE or _minor_version(imblearn.__version__) not in (
        SMOTE_DRAWS_CHECKED_ON
    ):
        return None
    seed = getattr(sampler, "random_state", None)
    n_neighbors = getattr(getattr(sampler, "nn_k_", None), "n_neighbors", None)
    strategy = getattr(sampler, "sampling_strategy_", None)
    if not isinstance(seed, numbers.Integral) or strategy is None:
        return None
    if not isinstance(n_neighbors, numbers.Integral) or n_neighbors < 2:
        return None
    labels = np.asarray(y).ravel()
    k = int(n_neighbors) - 1
    classes = []
    for label, n_samples in strategy.items():
        if n_samples == 0:
            continue
        n_class = int(np.count_nonzero(labels == label))
        random_state = check_random_state(seed)  # a fresh stream for each class
        draws = random_state.randint(low=0, high=n_class * k, size=n_samples)
        steps = random_state.uniform(size=n_samples)
        classes.append(SmoteClassDraws(label, draws // k, draws % k, steps))
    return SmoteSeeds(int(n_neighbors), classes)


# ------------------------------------------------------------------ lean random forests
# On a radiomics-sized table (a hundred rows, ten features) scikit-learn builds one tree
# of a RandomForestClassifier in a fraction of a millisecond, and spends longer on the
# Python work around it: cloning the tree and setting its parameters and seed, then
# checking again the targets and sample weights the forest has already checked. The two
# classes below skip that work and hand the same arguments to the same Cython builder,
# so the trees are identical, node by node (tests/test_nested.py); a forest of 300 to
# 1000 such trees fits 2 to 3 times faster (benchmarks/bench_nested_cv.py). They rely on
#   BaseEnsemble._make_estimator(append, random_state)              (overridden)
#   BaseDecisionTree._fit(X, y, sample_weight, check_input,
#                         missing_values_in_feature_mask)           (overridden, mirrored)
#   BaseDecisionTree._prune_tree, sklearn.tree._classes.CRITERIA_CLF and DENSE_SPLITTERS,
#   sklearn.tree._tree.DepthFirstTreeBuilder and Tree.
# Checked on scikit-learn 1.9.1. On another minor version LEAN_FORESTS is False and
# nothing uses them: forests fit the ordinary way (the same trees, slower).

LEAN_FORESTS_CHECKED_ON = ((1, 9),)


def _minor_version(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int("".join(c for c in minor if c.isdigit()) or 0)


try:
    from sklearn.tree._classes import CRITERIA_CLF, DENSE_SPLITTERS
    from sklearn.tree._tree import DepthFirstTreeBuilder, Tree

    LEAN_FORESTS = _minor_version(sklearn.__version__) in LEAN_FORESTS_CHECKED_ON
except ImportError:  # pragma: no cover - another scikit-learn layout
    LEAN_FORESTS = False

_MAX_INT = np.iinfo(np.int32).max


class _LeanTreeClassifier(DecisionTreeClassifier):
    """A forest's tree whose ``_fit`` skips the checks its forest has already made.

    Mirrors ``BaseDecisionTree._fit`` step for step in the case a
    ``RandomForestClassifier`` calls it in (``check_input=False``, dense data, one
    output, no ``max_leaf_nodes``, no monotonic constraints, no class weight on the
    tree); any other case goes to scikit-learn's own ``_fit``.
    """

    def _fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        check_input: bool = True,
        missing_values_in_feature_mask: Any = None,
    ) -> Any:
        if (
            check_input
            or not isinstance(X, np.ndarray)
            or y.ndim != 2
            or y.shape[1] != 1
            or self.max_leaf_nodes is not None
            or self.monotonic_cst is not None
            or self.class_weight is not None
            or not isinstance(self.criterion, str)
            or not isinstance(self.splitter, str)
        ):
            return super()._fit(X, y, sample_weight, check_input, missing_values_in_feature_mask)
        random_state = check_random_state(self.random_state)
        n_samples, self.n_features_in_ = X.shape
        self.n_outputs_ = 1
        classes, encoded = np.unique(y[:, 0], return_inverse=True)
        n_classes = np.array([classes.shape[0]], dtype=np.intp)
        y_encoded = np.ascontiguousarray(encoded.reshape(-1, 1), dtype=np.float64)
        min_samples_leaf, min_samples_split = self._min_samples(n_samples)
        self.max_features_ = self._n_max_features()
        if sample_weight is not None:
            sample_weight = np.ascontiguousarray(sample_weight, dtype=np.float64)
            min_weight_leaf = self.min_weight_fraction_leaf * np.sum(sample_weight)
        else:
            min_weight_leaf = self.min_weight_fraction_leaf * n_samples

        criterion = CRITERIA_CLF[self.criterion](self.n_outputs_, n_classes)
        splitter = DENSE_SPLITTERS[self.splitter](
            criterion, self.max_features_, min_samples_leaf, min_weight_leaf, random_state, None
        )
        self.tree_ = Tree(self.n_features_in_, n_classes, self.n_outputs_)
        builder = DepthFirstTreeBuilder(
            splitter,
            min_samples_split,
            min_samples_leaf,
            min_weight_leaf,
            _MAX_INT if self.max_depth is None else self.max_depth,
            self.min_impurity_decrease,
        )
        builder.build(self.tree_, X, y_encoded, sample_weight, missing_values_in_feature_mask)
        self.n_classes_ = n_classes[0]
        self.classes_ = classes
        self._prune_tree()
        return self

    def _min_samples(self, n_samples: int) -> tuple[int, int]:
        """(min_samples_leaf, min_samples_split) as counts, as scikit-learn derives them."""
        if isinstance(self.min_samples_leaf, numbers.Integral):
            leaf = int(self.min_samples_leaf)
        else:
            leaf = ceil(float(self.min_samples_leaf) * n_samples)
        if isinstance(self.min_samples_split, numbers.Integral):
            split = int(self.min_samples_split)
        else:
            split = max(2, ceil(float(self.min_samples_split) * n_samples))
        return leaf, max(split, 2 * leaf)

    def _n_max_features(self) -> int:
        n_features = self.n_features_in_
        if isinstance(self.max_features, str):
            if self.max_features == "sqrt":
                return max(1, int(np.sqrt(n_features)))
            return max(1, int(np.log2(n_features)))  # "log2"
        if self.max_features is None:
            return n_features
        if isinstance(self.max_features, numbers.Integral):
            return int(self.max_features)
        return max(1, int(self.max_features * n_features)) if self.max_features > 0.0 else 0


class LeanRandomForestClassifier(RandomForestClassifier):
    """A RandomForestClassifier whose trees are built without per-tree Python overhead.

    Same parameters, same trees (same seeds, same bootstrap draws, same Cython
    builder) as :class:`sklearn.ensemble.RandomForestClassifier`; only use it where
    :data:`LEAN_FORESTS` is True. pitfalls fits it only for models that are scored and
    then discarded (the inner fits of ``nested_cross_validate(lean_forests=True)``), so
    no user ever holds one.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> from pitfalls._compat import LeanRandomForestClassifier
    >>> X, y = make_classification(n_samples=40, random_state=0)
    >>> params = dict(n_estimators=20, max_depth=3, random_state=0)
    >>> lean = LeanRandomForestClassifier(**params).fit(X, y)
    >>> plain = RandomForestClassifier(**params).fit(X, y)
    >>> bool(np.array_equal(lean.predict_proba(X), plain.predict_proba(X)))
    True
    """

    def _make_estimator(self, append: bool = True, random_state: Any = None) -> Any:
        # BaseEnsemble's: clone(DecisionTreeClassifier()), set_params(forest's tree
        # parameters), then one seed drawn for the tree's one random_state parameter.
        tree = _LeanTreeClassifier(**{name: getattr(self, name) for name in self.estimator_params})
        if random_state is not None:
            tree.random_state = check_random_state(random_state).randint(_MAX_INT)
        if append:
            self.estimators_.append(tree)
        return tree


def lean_forests_unavailable_warning() -> None:
    """Warn that ``lean_forests=True`` has no effect with this scikit-learn."""
    checked = " and ".join(f"{major}.{minor}" for major, minor in LEAN_FORESTS_CHECKED_ON)
    warnings.warn(
        f"lean_forests=True has no effect with scikit-learn {sklearn.__version__}: the "
        f"lean forest was checked on scikit-learn {checked} only, so forests fit the "
        "ordinary way (the same results, slower).",
        UserWarning,
        stacklevel=3,
    )


__all__ = [
    "LEAN_FORESTS",
    "OVERRIDDEN_HOOKS",
    "SMOTE_DRAWS_CHECKED_ON",
    "GroupsConsumerMixin",
    "LeanRandomForestClassifier",
    "SmoteClassDraws",
    "SmoteSeeds",
    "add_note",
    "bitwise_count",
    "fit_resample_one",
    "fit_transform_one",
    "is_arraylike_not_scalar",
    "is_prediction_scorer",
    "num_samples",
    "pipeline_step_message",
    "pipeline_step_params",
    "routing_enabled",
    "safe_indexing",
    "sampling_type",
    "smote_seed_rows",
    "validate_pipeline_steps",
]


# --------------------------------------------------------------------------------------
# Version shims for the declared floors: Python 3.10, numpy 1.26, scipy 1.11, pandas 2.1,
# scikit-learn 1.6, imbalanced-learn 0.13 (constraints-min.txt; bin/test-floors)
# --------------------------------------------------------------------------------------


def add_note(error: BaseException, note: str) -> None:
    """Attach ``note`` to ``error`` as ``error.add_note`` does (PEP 678, Python 3.11+).

    Python 3.10 has no ``add_note``; there the note goes into ``error.__notes__`` all
    the same, so code (and tests) read it alike on every supported Python; only 3.10's
    traceback does not print it. Checked on Python 3.10.13, 3.11.7 and 3.12.1.

    Examples
    --------
    >>> from pitfalls._compat import add_note
    >>> error = ValueError("boom")
    >>> add_note(error, "in fold 2 of 5")
    >>> error.__notes__
    ['in fold 2 of 5']
    """
    if hasattr(error, "add_note"):
        error.add_note(note)
        return
    notes = getattr(error, "__notes__", None)
    if not isinstance(notes, list):
        notes = []
        error.__notes__ = notes
    notes.append(note)


# Number of set bits of every byte value, for numpy < 2.0 (no np.bitwise_count).
_BYTE_POPCOUNT = np.array([bin(value).count("1") for value in range(256)], dtype=np.uint8)


def _bitwise_count_by_bytes(x: Any) -> Any:
    values = np.asarray(x)
    if values.dtype.kind not in "ui":
        raise TypeError(
            f"bitwise_count needs integers; got dtype {values.dtype}; "
            "pass an unsigned integer array (e.g. hashes as uint64)."
        )
    if values.dtype.kind == "i":  # numpy counts the bits of the absolute value
        values = np.abs(values).astype(values.dtype.str.replace("i", "u"))
    as_bytes = np.ascontiguousarray(values).reshape(-1).view(np.uint8)
    counts = _BYTE_POPCOUNT[as_bytes.reshape(-1, values.dtype.itemsize)].sum(axis=1, dtype=np.uint8)
    counts = counts.reshape(values.shape)
    return counts[()] if counts.ndim == 0 else counts


def bitwise_count(x: Any) -> Any:
    """Number of 1-bits of each integer, as ``np.bitwise_count`` (numpy >= 2.0).

    numpy 1.26 (our floor) has no ``np.bitwise_count``; there the bits are counted
    byte by byte through a 256-entry table. Same dtype (uint8), shape and values as
    numpy's; checked on numpy 1.26.0 (table) and 2.4.6 (numpy's own).

    Parameters
    ----------
    x : array-like of int
        Integers (the audit passes uint64 hashes and their XORs).

    Returns
    -------
    numpy.ndarray of uint8, or a numpy scalar for a scalar input

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls._compat import bitwise_count
    >>> bitwise_count(np.array([0, 1, 255, 2**64 - 1], dtype=np.uint64)).tolist()
    [0, 1, 8, 64]
    """
    return _BITWISE_COUNT(x)


_BITWISE_COUNT = getattr(np, "bitwise_count", _bitwise_count_by_bytes)
