"""pyradiomics extraction as a scikit-learn transformer."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sized
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._extract import extract_features

__all__ = ["RadiomicsFeatureExtractor"]


class RadiomicsFeatureExtractor(TransformerMixin, BaseEstimator):
    """Turn (image, mask) pairs into pyradiomics features inside a scikit-learn pipeline.

    Putting extraction in the pipeline keeps every later step (scaling,
    ``VarianceThreshold``, ``SelectKBest``, the model) inside cross-validation.
    Extraction itself learns nothing from the data, so it cannot leak; ``fit``
    only records the feature names (from the first case).

    Parameters
    ----------
    settings : dict, path or None, default=None
        pyradiomics settings, as in :func:`extract_features` (``None``:
        pyradiomics' defaults).
    image_column, mask_column : str, default="image", "mask"
        Columns of ``X`` holding the images and masks when ``X`` is a DataFrame.
    spacing : sequence of float, optional
        Voxel spacing (numpy axis order) of array inputs; ignored for paths
        and SimpleITK images.
    n_jobs : int, optional
        Cases extracted in parallel with joblib.
    verbose : int, default=0
        Quiet by default; ``verbose=1`` shows a progress bar over cases.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
        pyradiomics feature names, in output column order.

    Examples
    --------
    >>> import pandas as pd
    >>> from pitfalls.datasets import make_ct_tumours
    >>> from pitfalls.radiomics import RadiomicsFeatureExtractor
    >>> volumes, masks, _ = make_ct_tumours(2, shape=(12, 24, 24), random_state=0)
    >>> X = pd.DataFrame({"image": list(volumes), "mask": list(masks)})
    >>> extractor = RadiomicsFeatureExtractor(settings={"binWidth": 10})
    >>> extractor.fit_transform(X).shape
    (2, 107)
    >>> extractor.get_feature_names_out()[0]
    'original_shape_Elongation'
    """

    def __init__(
        self,
        settings: Mapping[str, Any] | str | os.PathLike | None = None,
        *,
        image_column: str = "image",
        mask_column: str = "mask",
        spacing: Any = None,
        n_jobs: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.settings = settings
        self.image_column = image_column
        self.mask_column = mask_column
        self.spacing = spacing
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _pairs(self, X: Any) -> tuple[list[Any], list[Any]]:
        if isinstance(X, pd.DataFrame):
            for role, column in (
                ("image_column", self.image_column),
                ("mask_column", self.mask_column),
            ):
                if column not in X.columns:
                    raise ValueError(
                        f"{role}={column!r} is not a column of X; available columns: "
                        f"{list(map(str, X.columns))}. Set {role} to the right column."
                    )
            return list(X[self.image_column]), list(X[self.mask_column])
        if sparse.issparse(X):
            raise TypeError(
                f"X is a SciPy sparse matrix ({type(X).__name__}); RadiomicsFeatureExtractor "
                "takes a DataFrame with image and mask columns or a sequence of (image, mask) "
                "pairs."
            )
        pairs = list(X)
        if not all(isinstance(pair, Sized) and len(pair) == 2 for pair in pairs):
            raise ValueError(
                "X must be a DataFrame with image and mask columns or a sequence of "
                "(image, mask) pairs."
            )
        return [pair[0] for pair in pairs], [pair[1] for pair in pairs]

    def _extract(self, X: Any) -> pd.DataFrame:
        images, masks = self._pairs(X)
        return extract_features(
            images,
            masks,
            ids=range(len(images)),
            spacing=self.spacing,
            settings=self.settings,
            n_jobs=self.n_jobs,
            verbose=self.verbose,
        )

    def fit(self, X: Any, y: Any = None) -> RadiomicsFeatureExtractor:
        """Record the feature names by extracting the first case.

        Parameters
        ----------
        X : DataFrame or sequence of (image, mask) pairs
            Images and masks as paths, SimpleITK images or arrays.
        y : ignored

        Returns
        -------
        self

        Examples
        --------
        >>> from pitfalls.datasets import make_ct_tumours
        >>> from pitfalls.radiomics import RadiomicsFeatureExtractor
        >>> volumes, masks, _ = make_ct_tumours(1, shape=(12, 24, 24), random_state=0)
        >>> len(RadiomicsFeatureExtractor().fit([(volumes[0], masks[0])]).feature_names_out_)
        107
        """
        images, masks = self._pairs(X)
        if not images:
            raise ValueError("X has no cases; give at least one (image, mask) pair.")
        first = extract_features(
            images[:1], masks[:1], spacing=self.spacing, settings=self.settings, verbose=False
        )
        self.feature_names_out_ = np.asarray(first.columns, dtype=object)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Extract the features of every case.

        Parameters
        ----------
        X : DataFrame or sequence of (image, mask) pairs

        Returns
        -------
        ndarray of shape (n_cases, n_features)
            Columns in the order of ``feature_names_out_``; use
            ``set_output(transform="pandas")`` for a DataFrame.

        Examples
        --------
        >>> from pitfalls.datasets import make_ct_tumours
        >>> from pitfalls.radiomics import RadiomicsFeatureExtractor
        >>> volumes, masks, _ = make_ct_tumours(2, shape=(12, 24, 24), random_state=0)
        >>> pairs = list(zip(volumes, masks))
        >>> RadiomicsFeatureExtractor().fit(pairs[:1]).transform(pairs).shape
        (2, 107)
        """
        check_is_fitted(self, "feature_names_out_")
        features = self._extract(X)
        return features.reindex(columns=self.feature_names_out_).to_numpy(dtype=float)

    def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> np.ndarray:
        """Extract every case once and record the feature names.

        Parameters
        ----------
        X : DataFrame or sequence of (image, mask) pairs
        y : ignored
        **fit_params : ignored

        Returns
        -------
        ndarray of shape (n_cases, n_features)

        Examples
        --------
        >>> from pitfalls.datasets import make_ct_tumours
        >>> from pitfalls.radiomics import RadiomicsFeatureExtractor
        >>> volumes, masks, _ = make_ct_tumours(2, shape=(12, 24, 24), random_state=0)
        >>> RadiomicsFeatureExtractor().fit_transform(list(zip(volumes, masks))).shape
        (2, 107)
        """
        features = self._extract(X)
        self.feature_names_out_ = np.asarray(features.columns, dtype=object)
        return features.to_numpy(dtype=float)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """pyradiomics names of the output columns.

        Parameters
        ----------
        input_features : ignored

        Returns
        -------
        ndarray of str

        Examples
        --------
        >>> from pitfalls.datasets import make_ct_tumours
        >>> from pitfalls.radiomics import RadiomicsFeatureExtractor
        >>> volumes, masks, _ = make_ct_tumours(1, shape=(12, 24, 24), random_state=0)
        >>> names = RadiomicsFeatureExtractor().fit([(volumes[0], masks[0])]).get_feature_names_out()
        >>> "original_glcm_Contrast" in names
        True
        """
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()
