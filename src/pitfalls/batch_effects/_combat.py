"""Empirical-Bayes ComBat harmonisation as a scikit-learn transformer (fit on training data only)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_array, check_is_fitted

from pitfalls._deprecation import renamed_attribute, renamed_kwargs, translate_renamed
from pitfalls._validation import check_sites, describe_values

__all__ = ["ComBat"]

# Rows of the (features x features) likelihood matrix built at once by the
# non-parametric prior; bounds memory to about _CHUNK * n_features floats.
_CHUNK = 512
_TINY = np.finfo(float).tiny


class ComBat(TransformerMixin, BaseEstimator):
    """Empirical-Bayes ComBat harmonisation of site effects (Johnson et al. 2007).

    Every feature is modelled as ``x = grand_mean + covariates @ beta + site_shift +
    site_scale * noise``; the site shifts (``gamma``) and scales (``delta``) are shrunk
    towards their across-feature means by empirical Bayes and removed. Unlike running
    ComBat on a whole data set, this transformer learns all of that in :meth:`fit` on
    the **training** samples only and applies it in :meth:`transform` to new samples
    from sites seen in training, so harmonisation cannot leak information across a
    train/test split. Put it inside a pipeline that is cross-validated.

    The site of each sample is given in one of two ways:

    - ``site``: ``X`` is a DataFrame and this column holds the site. This is the
      way to use ComBat inside :class:`~sklearn.pipeline.Pipeline` and
      :func:`~sklearn.model_selection.cross_validate`, because the site then travels
      with the rows through every split, at fit and at predict time. The site column
      (and ``covariate_cols``) are dropped from the output: the model downstream sees
      harmonised features only.
    - ``sites=`` passed to :meth:`fit` and :meth:`transform` (``X`` any 2-D array).
      Both methods request ``sites`` and ``covariates`` as metadata, so a Pipeline
      routes them with ``sklearn.set_config(enable_metadata_routing=True)``
      (``pipe.fit(X, y, sites=s)``, ``pipe.predict(X, sites=s)``). In
      ``cross_validate(..., params={"sites": s})`` the training folds receive them, but
      scikit-learn's named scorers do not pass metadata to ``predict``: prefer
      ``site`` for cross-validation.

    Parameters
    ----------
    site : str, optional
        Column of a DataFrame ``X`` that holds the site of each sample. Formerly
        ``batch_col`` (deprecated, removed in 0.3).
    covariate_cols : list of str, optional
        Columns of a DataFrame ``X`` whose effects are preserved (e.g. age, sex). Only
        with ``site``; otherwise pass ``covariates=`` to :meth:`fit`.
    parametric : bool, default=True
        Parametric priors (normal for the shifts, inverse gamma for the scales) solved
        iteratively, as in Johnson et al. Otherwise the non-parametric prior (a weighted
        average over the other features' estimates).
    mean_only : bool, default=False
        Only remove site shifts; leave the within-site scale unchanged.
    empirical_bayes : bool, default=True
        Shrink the per-site estimates. With False the plain per-site location/scale
        estimates are removed (useful with many samples per site and few features).
    ref_site : object, optional
        Harmonise every site to this reference site instead of to the pooled average
        (Zhang et al. 2018, as ``neuroCombat``'s ``ref_batch``): the reference site's
        mean and variance are the target and its samples are returned unchanged. Useful
        when the model is developed on one site and the others are mapped onto it.
        Formerly ``ref_batch`` (deprecated, removed in 0.3).
    max_iter : int, default=1000
        Iteration limit of the parametric solver; a ``ConvergenceWarning`` says when
        a site reached it before ``tol``.
    tol : float, default=1e-4
        Relative change at which the parametric solver stops (neuroCombat's value).

    Attributes
    ----------
    sites_ : ndarray of shape (n_sites,)
        Sites seen in fit, sorted (formerly ``batches_``, deprecated).
    n_features_in_ : int
        Number of features harmonised.
    feature_names_in_ : ndarray of str
        Names of the harmonised columns when ``X`` was a DataFrame.
    grand_mean_ : ndarray of shape (n_features,)
        Sample-size-weighted mean of the site means.
    var_pooled_ : ndarray of shape (n_features,)
        Pooled residual variance (inf where it exceeds float64, for features of
        magnitude beyond about 1e154: harmonisation itself works on the standard
        deviation, computed in power-of-two units, and stays exact there).
    covariate_coef_ : ndarray of shape (n_covariate_columns, n_features)
        Preserved covariate effects (empty without covariates).
    gamma_hat_, delta_hat_ : ndarray of shape (n_sites, n_features)
        Per-site shift and scale of the standardised data before shrinkage.
    gamma_star_, delta_star_ : ndarray of shape (n_sites, n_features)
        The shrunk estimates that :meth:`transform` removes.
    n_iter_ : ndarray of shape (n_sites,)
        Iterations of the parametric solver per site (0 when not used).

    Notes
    -----
    ``fit(X).transform(X)`` on the same data reproduces ``neuroCombat`` (Fortin et al.),
    with or without ``ref_site``, with three deliberate differences: a zero-variance
    feature gets the median of the non-zero pooled variances (neuroCombat takes the
    median of a boolean mask), the non-parametric likelihoods are computed in log space
    so large sites do not underflow, and the parametric solver's relative change is
    measured against ``|old value|`` (neuroCombat divides by the signed value, so negative
    shifts never hold it back); results agree to the solver tolerance.

    Covariates given at fit are applied at transform with the new samples' values. If
    ``covariates`` is omitted at transform (``sites=`` mode), the training average
    covariate effect is used, as ``neuroCombatFromTraining`` does; this matters only for
    the scale adjustment and is the way to keep e.g. a diagnosis covariate without
    needing the test labels. Never use the outcome you predict as a covariate of data
    you then evaluate on.

    References
    ----------
    W. E. Johnson, C. Li, A. Rabinovic, "Adjusting batch effects in microarray expression
    data using empirical Bayes methods", Biostatistics 8 (2007) 118-127.
    J.-P. Fortin et al., "Harmonization of cortical thickness measurements across
    scanners and sites", NeuroImage 167 (2018) 104-120.
    Y. Zhang, D. F. Jenkins, S. Manimaran, W. E. Johnson, "Alternative empirical Bayes
    models for adjusting for batch effects in genomic studies", BMC Bioinformatics 19
    (2018) 262 (the reference-batch variant).

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.batch_effects import ComBat
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 3))
    >>> sites = np.tile(["a", "b"], 20)
    >>> X[sites == "b"] += 5.0  # site b is shifted
    >>> combat = ComBat().fit(X, sites=sites)
    >>> Xh = combat.transform(X, sites=sites)
    >>> bool(abs(Xh[sites == "a"].mean() - Xh[sites == "b"].mean()) < 0.5)
    True
    >>> combat.transform(X[:2], sites=["c", "a"])
    Traceback (most recent call last):
    ...
    ValueError: sites has 1 sample(s) from site(s) not seen in fit: 'c' (seen: 'a', 'b'). ComBat can only harmonise sites present in the training data; add samples of that site to the training set or drop them.

    Inside a cross-validated pipeline, with the site as a column of ``X``:

    >>> import pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn.pipeline import make_pipeline
    >>> df = pd.DataFrame(X, columns=["f0", "f1", "f2"]).assign(site=sites)
    >>> y = np.tile([0, 1], 20)
    >>> pipe = make_pipeline(ComBat(site="site"), LogisticRegression())
    >>> cross_val_score(pipe, df, y, cv=2).shape
    (2,)
    """

    # ``batches`` (the deprecated spelling of ``sites``) stays routable until it is removed
    __metadata_request__fit = {"sites": True, "batches": True, "covariates": True}  # noqa: RUF012
    __metadata_request__transform = {"sites": True, "batches": True, "covariates": True}  # noqa: RUF012
    _RENAMED = {"batch_col": "site", "ref_batch": "ref_site"}  # noqa: RUF012

    @renamed_kwargs(**_RENAMED)
    def __init__(
        self,
        *,
        site: str | None = None,
        covariate_cols: list[str] | None = None,
        parametric: bool = True,
        mean_only: bool = False,
        empirical_bayes: bool = True,
        ref_site: Any = None,
        max_iter: int = 1000,
        tol: float = 1e-4,
    ) -> None:
        self.site = site
        self.covariate_cols = covariate_cols
        self.parametric = parametric
        self.mean_only = mean_only
        self.empirical_bayes = empirical_bayes
        self.ref_site = ref_site
        self.max_iter = max_iter
        self.tol = tol

    batches_ = renamed_attribute("batches_", "sites_")

    def set_params(self, **params: Any) -> ComBat:
        """Set parameters; ``batch_col`` and ``ref_batch`` are deprecated spellings.

        Parameters
        ----------
        **params : dict
            New parameter values (``site``, ``ref_site``...).

        Returns
        -------
        self : ComBat

        Examples
        --------
        >>> from pitfalls.batch_effects import ComBat
        >>> ComBat().set_params(site="hospital").site
        'hospital'
        """
        return super().set_params(**translate_renamed(params, self._RENAMED, owner="ComBat"))

    # ---------------------------------------------------------------- input handling

    def _split_input(
        self, X: Any, sites: Any, covariates: Any, *, method: str
    ) -> tuple[Any, np.ndarray | None, Any]:
        """Features, sites and covariates from either the ``site`` column or the arguments.

        ``sites`` may come back None (not given): the caller validates the features first,
        as scikit-learn does, then asks for the sites (:meth:`_require_sites`).
        """
        if self.site is None:
            if self.covariate_cols is not None:
                raise ValueError(
                    "covariate_cols is set but site is None; name the site column with "
                    "site=, or pass covariates= to fit and transform."
                )
            return X, None if sites is None else np.asarray(sites), covariates
        if sites is not None or covariates is not None:
            raise ValueError(
                f"site={self.site!r} is set, so sites and covariates come from the columns "
                f"of X; do not also pass them to {method}."
            )
        if not isinstance(X, pd.DataFrame):
            raise ValueError(
                f"site={self.site!r} needs X to be a pandas DataFrame; got "
                f"{type(X).__name__}. Pass sites= instead for arrays."
            )
        cov_cols = list(self.covariate_cols or [])
        missing = [c for c in [self.site, *cov_cols] if c not in X.columns]
        if missing:
            raise ValueError(
                f"Column(s) {describe_values(missing)} not found in X; available columns: "
                f"{describe_values(X.columns)}."
            )
        features = X.drop(columns=[self.site, *cov_cols])
        cov = X[cov_cols] if cov_cols else None
        return features, X[self.site].to_numpy(), cov

    def _covariate_design(self, covariates: Any, n_samples: int, *, fitting: bool) -> np.ndarray:
        """Numeric design of the covariates: one-hot (first level dropped) for categoricals."""
        if fitting:
            self._covariate_levels: dict[Any, np.ndarray] = {}
            self._covariate_columns: list[Any] = []
        if covariates is None:
            return np.empty((n_samples, 0))
        if not fitting and not self._covariate_columns:
            raise ValueError(
                "covariates were passed to transform but not to fit; pass the same "
                "covariates to both, or none."
            )
        frame = (
            covariates
            if isinstance(covariates, pd.DataFrame)
            else pd.DataFrame(np.asarray(covariates).reshape(n_samples, -1))
        )
        if frame.shape[0] != n_samples:
            raise ValueError(
                f"covariates has {frame.shape[0]} rows but X has {n_samples} samples; pass "
                "one row of covariates per sample."
            )
        if fitting:
            self._covariate_levels = {
                col: np.sort(frame[col].unique())
                for col in frame.columns
                if not pd.api.types.is_numeric_dtype(frame[col])
                or pd.api.types.is_bool_dtype(frame[col])
            }
            self._covariate_columns = list(frame.columns)
        elif list(frame.columns) != self._covariate_columns:
            raise ValueError(
                f"covariates has columns {describe_values(frame.columns)} but fit saw "
                f"{describe_values(self._covariate_columns)}; pass the same covariates."
            )
        blocks = []
        for col in frame.columns:
            if col in self._covariate_levels:
                levels = self._covariate_levels[col]
                values = frame[col].to_numpy()
                unseen = pd.unique(values[~np.isin(values, levels)])
                if unseen.size:
                    raise ValueError(
                        f"covariate {col!r} has level(s) {describe_values(unseen)} not seen in fit."
                    )
                blocks.append((values[:, None] == levels[None, 1:]).astype(float))
            else:
                blocks.append(frame[[col]].to_numpy(dtype=float))
        design = np.hstack(blocks) if blocks else np.empty((n_samples, 0))
        if not np.all(np.isfinite(design)):
            raise ValueError("covariates contains NaN or infinity; impute or drop those samples.")
        return design

    @staticmethod
    def _require_sites(site_arr: np.ndarray | None, n_samples: int, *, method: str) -> np.ndarray:
        if site_arr is None:
            raise ValueError(
                f"sites is None; pass the site of each sample to {method}"
                "(X, sites=...), or set site= (the site column) when X is a DataFrame."
            )
        return check_sites(site_arr, n_samples)

    def _check_features(self, X: Any, *, fitting: bool) -> np.ndarray:
        if fitting:
            self._validate_data_names(X)
        # two sites need two samples at least: fit refuses fewer with scikit-learn's words
        arr = check_array(X, dtype=np.float64, ensure_min_samples=2 if fitting else 1)
        if fitting and self.empirical_bayes and arr.shape[1] < 2:
            raise ValueError(
                f"X has {arr.shape[1]} feature(s); empirical Bayes pools estimates across "
                "features and needs at least 2. Use empirical_bayes=False."
            )
        if fitting:
            self.n_features_in_ = arr.shape[1]
        elif arr.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {arr.shape[1]} features, but ComBat was fitted with "
                f"{self.n_features_in_} features."
            )
        return arr

    def _validate_data_names(self, X: Any) -> None:
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    # ------------------------------------------------------------------ estimation

    @renamed_kwargs(batches="sites")
    def fit(self, X: Any, y: Any = None, *, sites: Any = None, covariates: Any = None) -> ComBat:
        """Learn site shifts and scales from training samples.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training features (with the ``site`` and ``covariate_cols`` columns
            when those are set).
        y : None
            Ignored; present for pipeline compatibility.
        sites : array-like of shape (n_samples,), optional
            Site of each sample, when ``site`` is not set (formerly ``batches``).
        covariates : array-like or DataFrame of shape (n_samples, n_covariates), optional
            Effects to preserve (e.g. age, sex), when ``site`` is not set.
            Non-numeric DataFrame columns are one-hot encoded.

        Returns
        -------
        self : ComBat

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.batch_effects import ComBat
        >>> X = np.array([[1.0, 2.0], [1.2, 2.4], [3.0, 5.0], [3.4, 5.2]])
        >>> ComBat(empirical_bayes=False).fit(X, sites=[0, 0, 1, 1]).sites_.tolist()
        [0, 1]
        """
        _check_solver(self.max_iter, self.tol)
        features, given_sites, cov = self._split_input(X, sites, covariates, method="fit")
        data = self._check_features(features, fitting=True)
        n_samples = data.shape[0]
        site_arr = self._require_sites(given_sites, n_samples, method="fit")
        levels, codes, counts = np.unique(site_arr, return_inverse=True, return_counts=True)
        self._check_sites(levels, counts)
        self.sites_ = levels
        cov_design = self._covariate_design(cov, n_samples, fitting=True)

        one_hot = (codes[:, None] == np.arange(levels.size)[None, :]).astype(float)
        ref = self._reference_code(levels)
        if ref is not None:
            one_hot[:, ref] = 1.0  # the reference site is the intercept
        design = np.hstack([one_hot, cov_design])
        if np.linalg.matrix_rank(design) < design.shape[1]:
            raise ValueError(
                "covariates are collinear with sites (a covariate is constant within each "
                "site, or a site holds a single covariate level): ComBat cannot tell the site "
                "effect from the covariate effect. Drop that covariate; if it is the label, "
                "the site is confounded with it and harmonisation cannot fix that."
            )
        # full column rank (checked above): the normal equations are exact and fast
        beta = np.linalg.solve(design.T @ design, design.T @ data)
        self.covariate_coef_ = beta[levels.size :]
        residuals = data - design @ beta
        if ref is None:
            self.grand_mean_ = (counts / n_samples) @ beta[: levels.size]
        else:  # target: the reference site's mean and residual variance
            self.grand_mean_ = beta[ref]
            residuals = residuals[codes == ref]
        self._pooled_sd = _pooled_sd(residuals)
        with np.errstate(over="ignore"):  # inf for features beyond 1e154; unused below
            self.var_pooled_ = self._pooled_sd**2
        covariate_effect = cov_design @ self.covariate_coef_
        self._mean_covariate_effect = covariate_effect.mean(axis=0)

        standardised = (data - self.grand_mean_ - covariate_effect) / self._pooled_sd
        self._estimate_site_effects(standardised, codes, ref)
        return self

    def _reference_code(self, levels: np.ndarray) -> int | None:
        if self.ref_site is None:
            return None
        matches = np.flatnonzero(levels == self.ref_site)
        if matches.size == 0:
            raise ValueError(
                f"ref_site={self.ref_site!r} is not one of the sites "
                f"({describe_values(levels)}); pass one of them or None."
            )
        return int(matches[0])

    def _check_sites(self, levels: np.ndarray, counts: np.ndarray) -> None:
        if levels.size < 2:
            raise ValueError(
                f"sites has a single value ({describe_values(levels)}); ComBat needs "
                "samples from at least two sites."
            )
        small = levels[counts < 2]
        if small.size and not self.mean_only:
            raise ValueError(
                f"site(s) {describe_values(small)} have a single sample; ComBat needs at "
                "least 2 samples per site to estimate its scale (or use mean_only=True)."
            )

    def _estimate_site_effects(
        self, standardised: np.ndarray, codes: np.ndarray, ref: int | None
    ) -> None:
        n_sites = self.sites_.size
        n_features = standardised.shape[1]
        gamma_hat = np.empty((n_sites, n_features))
        delta_hat = np.ones((n_sites, n_features))
        for b in range(n_sites):
            rows = standardised[codes == b]
            gamma_hat[b] = rows.mean(axis=0)
            if not self.mean_only:
                delta_hat[b] = rows.var(axis=0, ddof=1)
        delta_hat[delta_hat == 0] = 1.0  # a constant feature within a site: leave its scale
        if ref is not None:  # shifts relative to the reference site (its column is all ones)
            others = np.arange(n_sites) != ref
            gamma_hat[others] -= gamma_hat[ref]
        self.gamma_hat_, self.delta_hat_ = gamma_hat, delta_hat
        self.n_iter_ = np.zeros(n_sites, dtype=int)
        if not self.empirical_bayes:
            self.gamma_star_, self.delta_star_ = gamma_hat.copy(), delta_hat.copy()
            self._leave_reference_unchanged(ref)
            return
        gamma_star = np.empty_like(gamma_hat)
        delta_star = np.empty_like(delta_hat)
        gamma_bar = gamma_hat.mean(axis=1)
        tau2 = gamma_hat.var(axis=1, ddof=1)
        for b in range(n_sites):
            rows = standardised[codes == b]
            if not self.parametric:
                gamma_star[b], delta_star[b] = _nonparametric_prior(
                    rows, gamma_hat[b], delta_hat[b]
                )
            elif self.mean_only:
                # neuroCombat / sva: posterior mean with n = 1 and unit scale
                gamma_star[b] = (tau2[b] * gamma_hat[b] + gamma_bar[b]) / (tau2[b] + 1.0)
                delta_star[b] = 1.0
            else:
                gamma_star[b], delta_star[b], self.n_iter_[b] = self._parametric_prior(
                    rows, gamma_hat[b], delta_hat[b], gamma_bar[b], tau2[b]
                )
        self.gamma_star_, self.delta_star_ = gamma_star, delta_star
        self._leave_reference_unchanged(ref)

    def _leave_reference_unchanged(self, ref: int | None) -> None:
        if ref is not None:
            self.gamma_star_[ref] = 0.0
            self.delta_star_[ref] = 1.0

    def _parametric_prior(
        self,
        rows: np.ndarray,
        gamma_hat: np.ndarray,
        delta_hat: np.ndarray,
        gamma_bar: float,
        tau2: float,
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Iterate the posterior means of shift (normal prior) and scale (inverse gamma)."""
        mean_d, var_d = delta_hat.mean(), delta_hat.var(ddof=1)
        if not var_d > 0:  # identical scales everywhere: nothing to shrink
            gamma = (tau2 * rows.shape[0] * gamma_hat + delta_hat * gamma_bar) / (
                tau2 * rows.shape[0] + delta_hat
            )
            return gamma, delta_hat.copy(), 0
        a_prior = (2 * var_d + mean_d**2) / var_d
        b_prior = (mean_d * var_d + mean_d**3) / var_d
        n = rows.shape[0]
        gamma_old, delta_old = gamma_hat.copy(), delta_hat.copy()
        n_iter = 0
        while n_iter < self.max_iter:
            n_iter += 1
            gamma_new = (tau2 * n * gamma_hat + delta_old * gamma_bar) / (tau2 * n + delta_old)
            sum2 = ((rows - gamma_new) ** 2).sum(axis=0)
            delta_new = (0.5 * sum2 + b_prior) / (n / 2.0 + a_prior - 1.0)
            change = max(
                # guarded so an exactly-zero shift cannot divide by zero
                np.max(np.abs(gamma_new - gamma_old) / np.maximum(np.abs(gamma_old), _TINY)),
                np.max(np.abs(delta_new - delta_old) / delta_old),
            )
            gamma_old, delta_old = gamma_new, delta_new
            if change <= self.tol:
                break
        else:
            warnings.warn(
                f"ComBat's parametric empirical Bayes did not converge for a site of "
                f"{n} samples in max_iter={self.max_iter} iterations (relative change "
                f"{change:.2g} > tol={self.tol:g}); its shift and scale estimates are "
                "approximate. Raise max_iter.",
                ConvergenceWarning,
                stacklevel=4,
            )
        return gamma_old, delta_old, n_iter

    # --------------------------------------------------------------------- transform

    @renamed_kwargs(batches="sites")
    def transform(self, X: Any, *, sites: Any = None, covariates: Any = None) -> Any:
        """Remove the site effects learnt in :meth:`fit` from (new) samples.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Samples to harmonise, from sites seen in fit.
        sites : array-like of shape (n_samples,), optional
            Site of each sample, when ``site`` is not set (formerly ``batches``).
        covariates : array-like or DataFrame, optional
            The covariates given to fit, for these samples. When omitted, the
            training-average covariate effect is used.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            Harmonised features (without the site and covariate columns).

        Raises
        ------
        ValueError
            If a sample comes from a site not seen in fit.

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.batch_effects import ComBat
        >>> X = np.array([[1.0, 2.0], [1.2, 2.4], [3.0, 5.0], [3.4, 5.2]])
        >>> combat = ComBat(empirical_bayes=False).fit(X, sites=[0, 0, 1, 1])
        >>> combat.transform([[3.2, 5.1]], sites=[1]).round(2)
        array([[2.15, 3.65]])
        """
        check_is_fitted(self, "gamma_star_")
        features, given_sites, cov = self._split_input(X, sites, covariates, method="transform")
        data = self._check_features(features, fitting=False)
        n_samples = data.shape[0]
        site_arr = self._require_sites(given_sites, n_samples, method="transform")
        codes = self._site_codes(site_arr)
        if cov is None:
            covariate_effect = self._mean_covariate_effect
        else:
            covariate_effect = self._covariate_design(cov, n_samples, fitting=False) @ (
                self.covariate_coef_
            )
        location = self.grand_mean_ + covariate_effect
        scale = self._pooled_sd
        standardised = (data - location) / scale
        adjusted = (standardised - self.gamma_star_[codes]) / np.sqrt(self.delta_star_[codes])
        return adjusted * scale + location

    def _site_codes(self, site_arr: np.ndarray) -> np.ndarray:
        try:
            seen = np.isin(site_arr, self.sites_)
        except TypeError:  # mixed types cannot be compared: treat as unseen
            seen = np.zeros(site_arr.shape[0], dtype=bool)
        if not seen.all():
            unseen = pd.unique(site_arr[~seen])
            raise ValueError(
                f"sites has {int((~seen).sum())} sample(s) from site(s) not seen in fit: "
                f"{describe_values(unseen)} (seen: {describe_values(self.sites_)}). ComBat "
                "can only harmonise sites present in the training data; add samples of that "
                "site to the training set or drop them."
            )
        return np.searchsorted(self.sites_, site_arr)

    @renamed_kwargs(batches="sites")
    def fit_transform(
        self, X: Any, y: Any = None, *, sites: Any = None, covariates: Any = None
    ) -> Any:
        """Fit on ``X`` and harmonise it (same as ``fit(X, ...).transform(X, ...)``).

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Training features.
        y : None
            Ignored.
        sites : array-like of shape (n_samples,), optional
            Site of each sample, when ``site`` is not set (formerly ``batches``).
        covariates : array-like or DataFrame, optional
            Effects to preserve.

        Returns
        -------
        ndarray of shape (n_samples, n_features)

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.batch_effects import ComBat
        >>> X = np.array([[1.0, 2.0], [1.2, 2.4], [3.0, 5.0], [3.4, 5.2]])
        >>> ComBat(empirical_bayes=False).fit_transform(X, sites=[0, 0, 1, 1]).shape
        (4, 2)
        """
        return self.fit(X, sites=sites, covariates=covariates).transform(
            X, sites=sites, covariates=covariates
        )

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the harmonised features (the input names, site and covariates removed).

        Parameters
        ----------
        input_features : array-like of str, optional
            Ignored when fitted on a DataFrame; otherwise names to use.

        Returns
        -------
        ndarray of str

        Examples
        --------
        >>> import pandas as pd
        >>> from pitfalls.batch_effects import ComBat
        >>> df = pd.DataFrame({"f": [1.0, 2.0, 3.0, 5.0], "g": [0.0, 1.0, 1.0, 3.0],
        ...                    "site": ["a", "a", "b", "b"]})
        >>> ComBat(site="site").fit(df).get_feature_names_out().tolist()
        ['f', 'g']
        """
        check_is_fitted(self, "n_features_in_")
        if hasattr(self, "feature_names_in_"):
            return np.asarray(self.feature_names_in_, dtype=object)
        if input_features is not None:
            return np.asarray(input_features, dtype=object)
        return np.asarray([f"x{i}" for i in range(self.n_features_in_)], dtype=object)


def _nonparametric_prior(
    rows: np.ndarray, gamma_hat: np.ndarray, delta_hat: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Non-parametric empirical Bayes: average the other features' estimates.

    Feature j's shift and scale are the averages of the other features' (gamma, delta),
    weighted by the likelihood of feature j's data under each of them.
    """
    n, n_features = rows.shape
    sum1, sum2 = rows.sum(axis=0), (rows**2).sum(axis=0)
    gamma_star = np.empty(n_features)
    delta_star = np.empty(n_features)
    for start in range(0, n_features, _CHUNK):
        stop = min(start + _CHUNK, n_features)
        # residual sum of squares of feature j (rows) under candidate k (columns)
        rss = sum2[start:stop, None] - 2 * sum1[start:stop, None] * gamma_hat + n * gamma_hat**2
        log_lik = -0.5 * n * np.log(2 * np.pi * delta_hat) - rss / (2 * delta_hat)
        log_lik[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # leave feature j out
        weights = np.exp(log_lik - log_lik.max(axis=1, keepdims=True))
        weights /= weights.sum(axis=1, keepdims=True)
        gamma_star[start:stop] = weights @ gamma_hat
        delta_star[start:stop] = weights @ delta_hat
    return gamma_star, delta_star


def _check_solver(max_iter: Any, tol: Any) -> None:
    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer) or max_iter < 1:
        raise ValueError(
            f"max_iter={max_iter!r} must be a positive integer; use e.g. 1000 (the default)."
        )
    if isinstance(tol, bool) or not isinstance(tol, int | float) or not 0 < tol < np.inf:
        raise ValueError(f"tol={tol!r} must be a positive number; use e.g. 1e-4 (the default).")


def _pooled_sd(residuals: np.ndarray) -> np.ndarray:
    """Root mean square of the residuals per feature; zero ones get the median variance's root.

    Computed in a power-of-two unit per feature, so that squares of features near
    the float64 limit (1e160) stay finite; scaling by powers of two is exact, so
    the result is bit for bit that of the plain formula wherever that one is finite.
    """
    unit = np.ldexp(1.0, np.frexp(np.abs(residuals).max(axis=0, initial=0.0))[1])
    scaled_var = ((residuals / unit) ** 2).mean(axis=0)
    sd = np.sqrt(scaled_var) * unit
    positive = scaled_var > 0
    if positive.all():
        return sd
    if not positive.any():
        return np.ones_like(sd)
    # The median of the non-zero variances, in one common unit (exact again).
    common = unit[positive].max()
    fill = np.sqrt(np.median(scaled_var[positive] * (unit[positive] / common) ** 2)) * common
    return np.where(positive, sd, fill)
