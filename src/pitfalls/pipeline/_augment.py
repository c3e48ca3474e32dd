"""Data augmentation as a pipeline step that only ever sees training data."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from .._compat import num_samples as _num_samples
from .._deprecation import renamed_attribute, renamed_kwargs, translate_renamed

__all__ = ["AugmentationSampler"]


class AugmentationSampler(BaseEstimator):
    """Add augmented copies of the training rows, in ``fit`` only (a sampler step).

    Inside a :class:`Pipeline` the sampler runs on the training part of each split
    and is skipped at prediction time, so no augmented twin of an evaluation sample can
    reach training: the leak the paper shows for augmentation before the split.

    Parameters
    ----------
    func : callable
        ``func(x, rng) -> x_augmented``, called once per copy of each sample with
        that sample alone (a feature vector of shape ``(n_features,)`` or an image of
        shape ``X.shape[1:]``) and a :class:`numpy.random.Generator`; it must return an
        array of the same shape. Any library works inside it (albumentations,
        torchvision, scipy.ndimage), as long as it draws its randomness from ``rng``.
        In a ``Pipeline(..., memory=...)`` it must be picklable (a module-level
        function or a ``functools.partial`` of one; joblib cannot hash a lambda).
        Named as in :class:`~sklearn.preprocessing.FunctionTransformer`. Formerly
        ``transform`` (deprecated, removed in 0.3), a name the sampler could not store
        under its own name: an attribute called ``transform`` makes pipelines take a
        sampler for a transformer.
    n_copies : int, default=1
        Augmented copies added per sample; the output holds ``(1 + n_copies) *
        n_samples`` rows: the originals first, then the first copy of every row, and
        so on.
    random_state : int, RandomState instance or None, default=None
        Seeds the generator passed to ``func``; an int gives the same copies on
        every call.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_samples * (1 + n_copies),)
        For each output row, the input row it was made from (groups and metadata
        follow it in :class:`Pipeline`).

    See Also
    --------
    Pipeline : Runs the sampler on training data only.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.pipeline import AugmentationSampler
    >>> def jitter(x, rng):
    ...     return x + rng.normal(scale=0.01, size=x.shape)
    >>> X, y = np.zeros((3, 2)), np.array([0, 1, 1])
    >>> X_res, y_res = AugmentationSampler(jitter, n_copies=2, random_state=0).fit_resample(X, y)
    >>> X_res.shape, y_res.tolist()
    ((9, 2), [0, 1, 1, 0, 1, 1, 0, 1, 1])

    It works on image arrays as well, one image at a time:

    >>> images = np.arange(2 * 4 * 4, dtype=float).reshape(2, 4, 4)
    >>> flip = AugmentationSampler(lambda im, rng: im[:, ::-1])
    >>> flip.fit_resample(images, np.array([0, 1]))[0].shape
    (4, 4, 4)
    >>> flip.sample_indices_.tolist()
    [0, 1, 0, 1]
    """

    # Tells pitfalls.experiments.leakage_gap which steps are augmentation steps.
    _sampling_type = "augmentation"
    _required_parameters = ["func"]  # noqa: RUF012
    _RENAMED = {"transform": "func"}  # noqa: RUF012

    @renamed_kwargs(**_RENAMED)
    def __init__(
        self,
        func: Callable[[np.ndarray, np.random.Generator], Any],
        n_copies: int = 1,
        random_state: Any = None,
    ) -> None:
        self.func = func
        self.n_copies = n_copies
        self.random_state = random_state

    transform_func = renamed_attribute("transform_func", "func")

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # NaN reaches func unchanged
        return tags

    def set_params(self, **params: Any) -> AugmentationSampler:
        """Set parameters (``func``, ``n_copies``, ``random_state``).

        ``transform`` is the deprecated spelling of ``func``.

        Parameters
        ----------
        **params : dict
            New parameter values.

        Returns
        -------
        self : AugmentationSampler

        Examples
        --------
        >>> from pitfalls.pipeline import AugmentationSampler
        >>> AugmentationSampler(abs).set_params(n_copies=3).n_copies
        3
        """
        renamed = translate_renamed(params, self._RENAMED, owner="AugmentationSampler")
        return super().set_params(**renamed)

    def _check_params(self) -> None:
        if not callable(self.func):
            raise TypeError(
                f"func={self.func!r} is not callable; pass a function func(x, rng) that "
                "returns an augmented copy of sample x."
            )
        if (
            not isinstance(self.n_copies, numbers.Integral)
            or isinstance(self.n_copies, bool)
            or self.n_copies < 0
        ):
            raise ValueError(
                f"n_copies={self.n_copies!r} is not a non-negative integer; use n_copies >= 0."
            )

    def fit(self, X: Any, y: Any = None, **params: Any) -> AugmentationSampler:
        """Check the parameters and the data; nothing is learned.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples (feature rows or images).
        y : array-like of shape (n_samples,), default=None
            Targets.
        **params : dict
            Ignored.

        Returns
        -------
        self : AugmentationSampler

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.pipeline import AugmentationSampler
        >>> AugmentationSampler(lambda x, rng: x).fit(np.zeros((2, 2)))
        AugmentationSampler(func=<function <lambda> ...>)
        """
        self.fit_resample(X, y)
        return self

    def fit_resample(self, X: Any, y: Any = None, **params: Any) -> tuple[Any, Any]:
        """Return the original samples followed by ``n_copies`` augmented copies of each.

        Parameters
        ----------
        X : array-like of shape (n_samples, ...)
            Samples (feature rows or images); a DataFrame comes back as a DataFrame
            with the same columns and, where the copies allow, the same dtypes. The
            output's dtype is what holds both the input and ``func``'s output
            (uint8 images that ``func`` turns into floats come back as floats).
            SciPy sparse matrices are refused.
        y : array-like of shape (n_samples,), default=None
            Targets, repeated for the copies (``None`` stays ``None``; a Series stays a
            Series with its name).
        **params : dict
            Ignored (accepted so that routed metadata does not break the call).

        Returns
        -------
        X_resampled : ndarray or DataFrame of shape (n_samples * (1 + n_copies), ...)
        y_resampled : ndarray or Series of shape (n_samples * (1 + n_copies),) or None

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.pipeline import AugmentationSampler
        >>> sampler = AugmentationSampler(lambda x, rng: x * 2)
        >>> sampler.fit_resample(np.array([[1.0], [2.0]]), [0, 1])[0].ravel().tolist()
        [1.0, 2.0, 2.0, 4.0]
        """
        self._check_params()
        data = self._check_samples(X)
        n_samples = data.shape[0]
        if y is not None and _num_samples(y) != n_samples:
            raise ValueError(
                f"y has {_num_samples(y)} entries but X has {n_samples} samples; "
                "pass one target per sample."
            )
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        rng = np.random.default_rng(seed)
        copies = [self._augment_all(data, rng) for _ in range(self.n_copies)]
        self.sample_indices_ = np.tile(np.arange(n_samples), 1 + self.n_copies)
        if isinstance(y, pd.Series):
            y_res = y.iloc[self.sample_indices_].reset_index(drop=True)
        else:
            y_res = None if y is None else np.asarray(y)[self.sample_indices_]
        if isinstance(X, pd.DataFrame):
            return _stacked_tables(X, copies), y_res
        # numpy's promotion keeps what func made: uint8 images turned into floats
        # stay floats, jitter added to integer features is not truncated away
        return np.concatenate([data, *copies], axis=0), y_res

    def _check_samples(self, X: Any) -> np.ndarray:
        """``X`` as an array of at least 2 dimensions; records ``n_features_in_``."""
        if sparse.issparse(X):
            raise TypeError(
                f"AugmentationSampler got a SciPy sparse matrix ({type(X).__name__}); "
                "func(x, rng) works on dense samples: pass X.toarray(), or augment "
                "before the step that makes the matrix sparse."
            )
        if isinstance(X, pd.DataFrame):
            data = X.to_numpy()  # any dtypes: _stacked_tables restores them
        else:
            data = _numeric_samples(X)
        for axis, unit in ((0, "sample(s)"), (1, "feature(s)")):
            if data.shape[axis] == 0:  # scikit-learn's wording
                raise ValueError(
                    f"Found array with 0 {unit} (shape={data.shape}) while a minimum of 1 "
                    "is required."
                )
        self.n_features_in_ = data.shape[1]
        return data

    def _augment_all(self, data: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        augmented = []
        for sample in data:
            result = np.asarray(self.func(sample.copy(), rng))
            if result.shape != sample.shape:
                raise ValueError(
                    f"func returned shape {result.shape} for a sample of shape "
                    f"{sample.shape}; it must return an array of the same shape."
                )
            augmented.append(result)
        if not augmented:
            return data[:0].copy()
        return np.stack(augmented)


def _numeric_samples(X: Any) -> np.ndarray:
    """Rows of numbers (feature vectors or images) of any numeric dtype, NaN allowed.

    NaN passes through to ``func``, which decides what a missing value becomes; an
    object array of numbers becomes float64 (numpy's error names anything else).
    """
    data = np.asarray(X)
    if data.dtype.kind == "c":
        raise ValueError("Complex data not supported; pass real-valued samples.")
    if data.dtype.kind == "O":
        data = data.astype(np.float64)
    if data.ndim < 2:
        raise ValueError(
            f"X must hold one row per sample: shape (n_samples, n_features) or images "
            f"(n_samples, height, width[, channels]); got shape {data.shape}. Reshape a "
            "single feature with X.reshape(-1, 1)."
        )
    return data


def _stacked_tables(X: pd.DataFrame, copies: list[np.ndarray]) -> pd.DataFrame:
    """``X`` followed by its augmented copies, each column keeping its dtype where it can.

    The copies' rows come back from ``func`` as arrays (of objects when the table
    mixes numbers and text, of float64 when it mixes int32 and float32 columns): each
    column gets its dtype back when its values survive the cast unchanged (an int32,
    a nullable ``Int64``, a categorical column), else the dtype its values need (an
    integer column with jitter added: float).
    """
    parts = [X.reset_index(drop=True)]
    for copy in copies:
        table = pd.DataFrame(copy, columns=X.columns).infer_objects()
        for position, dtype in enumerate(X.dtypes):
            table.isetitem(position, _restored(table.iloc[:, position], dtype))
        parts.append(table)
    return pd.concat(parts, ignore_index=True)


def _restored(values: pd.Series, dtype: Any) -> pd.Series:
    """``values`` cast back to ``dtype`` when the cast keeps every value, else unchanged."""
    if values.dtype == dtype:
        return values
    if isinstance(dtype, pd.CategoricalDtype) and not values.dropna().isin(dtype.categories).all():
        return values  # a value that is no category: casting would make it NaN
    try:
        cast = values.astype(dtype)
    except (TypeError, ValueError):
        return values
    missing = values.isna().to_numpy()
    if not np.array_equal(cast.isna().to_numpy(), missing):
        return values
    # compared as Python objects: pd.NA and masked dtypes never reach ==
    same = cast.to_numpy(dtype=object)[~missing] == values.to_numpy(dtype=object)[~missing]
    return cast if bool(np.all(same)) else values
