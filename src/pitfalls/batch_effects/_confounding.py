"""Is the data source (site, scanner, batch) confounded with the label?"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from pitfalls._deprecation import renamed_attribute, renamed_kwargs
from pitfalls._tables import format_number, frame_to_markdown
from pitfalls._validation import check_groups, check_sites, describe_values
from pitfalls.exceptions import BatchEffectWarning

__all__ = ["ConfoundingResult", "confounding_test"]

# Cochran's rule: the chi-square approximation is trusted when every expected count is >= 5.
_MIN_EXPECTED_COUNT = 5.0


@dataclass(frozen=True, repr=False, eq=False)
class ConfoundingResult:
    """Association between the data source and the label.

    Attributes
    ----------
    table : pandas.DataFrame
        Contingency table: one row per site, one column per label, sample counts.
    statistic : float
        Pearson chi-square statistic of ``table`` (no continuity correction).
    pvalue : float
        p-value of the test named by ``method`` (null hypothesis: site and label independent).
    dof : int
        Degrees of freedom of the chi-square test, ``(n_sites - 1) * (n_labels - 1)``.
    method : {"chi2", "fisher"}
        Test that gave ``pvalue``.
    cramers_v : float
        Bias-corrected Cramér's V (Bergsma 2013) in [0, 1]: 0 when site and label are
        independent, 1 when the site determines the label.
    label_from_site_score : float
        Balanced accuracy of the best rule that predicts the label from the site alone
        (every sample gets the label chosen for its site). ``1 / n_labels`` is chance; 1
        means the site alone classifies every sample. It is an in-sample score: with many
        small sites it is optimistic.
    site_rule : dict
        The label that rule assigns to each site.
    n_samples : int
        Number of samples (of patients, when ``groups`` was given).

    Examples
    --------
    >>> from pitfalls.batch_effects import confounding_test
    >>> res = confounding_test([0, 0, 0, 1, 1, 1], ["a", "a", "b", "b", "b", "b"], warn=False)
    >>> res.to_frame()
    label  0  1
    site
    a      2  0
    b      1  3
    >>> print(res.to_markdown())
    Site-label confounding: Cramér's V 0.612, p = 0.4 (fisher), label from site alone 0.833, 6 samples.
    <BLANKLINE>
    | site | 0 | 1 |
    | :--- | ---: | ---: |
    | a | 2 | 0 |
    | b | 1 | 3 |
    """

    table: pd.DataFrame
    statistic: float
    pvalue: float
    dof: int
    method: str
    cramers_v: float
    label_from_site_score: float
    site_rule: dict[Any, Any]
    n_samples: int

    label_from_batch_score = renamed_attribute("label_from_batch_score", "label_from_site_score")
    batch_rule = renamed_attribute("batch_rule", "site_rule")

    def __repr__(self) -> str:
        n_sites, n_labels = self.table.shape
        return (
            f"ConfoundingResult(cramers_v={self.cramers_v:.3f}, pvalue={self.pvalue:.3g} "
            f"({self.method}), label_from_site_score={self.label_from_site_score:.3f}, "
            f"n_samples={self.n_samples}, n_sites={n_sites}, n_labels={n_labels})"
        )

    def to_frame(self) -> pd.DataFrame:
        """The contingency table: one row per site, one column per label, counts.

        Returns
        -------
        DataFrame
            A copy of :attr:`table`.

        Examples
        --------
        >>> from pitfalls.batch_effects import confounding_test
        >>> confounding_test([0, 1, 1], ["a", "b", "b"], warn=False).to_frame().shape
        (2, 2)
        """
        return self.table.copy()

    def to_markdown(self, digits: int = 3) -> str:
        """A one-line verdict and the contingency table, in Markdown.

        Parameters
        ----------
        digits : int, default=3
            Decimals of the effect size and the rule's score.

        Returns
        -------
        str

        Examples
        --------
        >>> from pitfalls.batch_effects import confounding_test
        >>> res = confounding_test([0, 1, 1], ["a", "b", "b"], warn=False)
        >>> res.to_markdown().splitlines()[2]
        '| site | 0 | 1 |'
        """
        verdict = (
            f"Site-label confounding: Cramér's V {format_number(self.cramers_v, digits)}, "
            f"p = {self.pvalue:.3g} ({self.method}), label from site alone "
            f"{format_number(self.label_from_site_score, digits)}, {self.n_samples} samples."
        )
        return f"{verdict}\n\n{frame_to_markdown(self.table, index=str(self.table.index.name))}"

    def plot(self, ax: Any = None, *, normalize: bool = True) -> Any:
        """Stacked bars of the label mix within each site.

        See :func:`pitfalls.batch_effects.plot_site_label`.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw on; a new figure is created when None.
        normalize : bool, default=True
            Fractions within each site (True) or counts (False).

        Returns
        -------
        matplotlib.axes.Axes

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from pitfalls.batch_effects import confounding_test
        >>> res = confounding_test([0, 0, 1, 1], ["a", "a", "b", "b"], warn=False)
        >>> res.plot().get_ylabel()
        'fraction of samples'
        """
        from pitfalls.batch_effects._plotting import plot_site_label

        return plot_site_label(self.table, ax=ax, normalize=normalize)


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (-1 for missing) and sorted uniques; insertion order if unsortable."""
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:  # mixed types cannot be sorted
        codes, uniques = pd.factorize(values, sort=False)
    return codes, np.asarray(uniques)


def contingency_table(labels: Any, sites: Any, groups: Any = None) -> pd.DataFrame:
    """Validated sites x labels count table (rows: sites, columns: labels).

    With ``groups``, each group (patient) counts once per (site, label) it has.

    Examples
    --------
    >>> from pitfalls.batch_effects._confounding import contingency_table
    >>> contingency_table([0, 1, 1], ["a", "b", "b"])
    label  0  1
    site
    a      1  0
    b      0  2
    """
    label_arr = np.asarray(labels)
    if label_arr.ndim != 1:
        raise ValueError(
            f"labels must be 1-D with one label per sample; got shape {label_arr.shape}."
        )
    site_arr = check_sites(sites)
    if site_arr.shape[0] != label_arr.shape[0]:
        raise ValueError(
            f"labels has {label_arr.shape[0]} entries but sites has {site_arr.shape[0]}; "
            "pass one site per sample."
        )
    label_codes, label_levels = _factorize(label_arr)
    missing = np.flatnonzero(label_codes < 0)
    if missing.size:
        raise ValueError(
            f"labels has {missing.size} missing value(s) (at positions {describe_values(missing)}); "
            "drop unlabelled samples before testing for confounding."
        )
    if label_levels.size < 2:
        raise ValueError(
            f"labels has a single class ({describe_values(label_levels)}); a confounding "
            "test needs at least two classes."
        )
    site_codes, site_levels = _factorize(site_arr)
    if site_levels.size < 2:
        raise ValueError(
            f"sites has a single value ({describe_values(site_levels)}); a confounding "
            "test needs samples from at least two sites."
        )
    n_labels = label_levels.size
    cells = site_codes * n_labels + label_codes
    if groups is not None:
        group_arr = check_groups(groups)
        if group_arr.shape[0] != label_arr.shape[0]:
            raise ValueError(
                f"groups has {group_arr.shape[0]} entries but labels has "
                f"{label_arr.shape[0]}; pass one group (patient) id per sample."
            )
        group_codes = _factorize(group_arr)[0]
        # one count per distinct (group, cell): a patient's many images are one patient
        pairs = np.unique(group_codes.astype(np.int64) * (site_levels.size * n_labels) + cells)
        cells = pairs % (site_levels.size * n_labels)
    counts = np.bincount(cells, minlength=site_levels.size * n_labels).reshape(
        site_levels.size, n_labels
    )
    return pd.DataFrame(
        counts,
        index=pd.Index(site_levels, name=getattr(sites, "name", None) or "site"),
        columns=pd.Index(label_levels, name=getattr(labels, "name", None) or "label"),
    )


def bias_corrected_cramers_v(table: Any) -> float:
    """Bias-corrected Cramér's V of a contingency table (Bergsma 2013).

    The plain Cramér's V is biased upwards in small samples and for tables with many
    cells; the correction subtracts the chi-square expected under independence and
    shrinks the table dimensions accordingly.

    Parameters
    ----------
    table : array-like of shape (n_rows, n_columns)
        Counts.

    Returns
    -------
    float
        Value in [0, 1].

    References
    ----------
    W. Bergsma, "A bias-correction for Cramér's V and Tschuprow's T", Journal of the
    Korean Statistical Society 42 (2013) 323-328.

    Examples
    --------
    >>> from pitfalls.batch_effects import bias_corrected_cramers_v
    >>> round(bias_corrected_cramers_v([[50, 0], [0, 50]]), 3)
    1.0
    >>> bias_corrected_cramers_v([[25, 25], [25, 25]])
    0.0
    """
    counts = np.asarray(table, dtype=float)
    n = counts.sum()
    n_rows, n_cols = counts.shape
    if n <= 1:
        return float("nan")
    chi2 = stats.chi2_contingency(counts, correction=False)[0]
    phi2 = chi2 / n
    phi2_corrected = max(0.0, phi2 - (n_rows - 1) * (n_cols - 1) / (n - 1))
    rows_corrected = n_rows - (n_rows - 1) ** 2 / (n - 1)
    cols_corrected = n_cols - (n_cols - 1) ** 2 / (n - 1)
    denominator = min(rows_corrected - 1, cols_corrected - 1)
    if denominator <= 0:
        return float("nan")
    return float(min(1.0, np.sqrt(phi2_corrected / denominator)))


def _best_site_rule(table: pd.DataFrame) -> tuple[dict[Any, Any], float]:
    """Site -> label rule with the highest balanced accuracy, and that accuracy.

    Balanced accuracy is the mean over labels of (correct samples of the label) / (samples
    of the label), so it is a sum over sites of ``count[s, rule(s)] / label_total[rule(s)]``
    divided by the number of labels: each site's best label is chosen independently, as the
    label that is most frequent in the site after weighting every sample by the inverse of
    its class size. With balanced classes this is the site's majority label.
    """
    counts = table.to_numpy(dtype=float)
    label_totals = counts.sum(axis=0)
    weighted = counts / label_totals
    best = weighted.argmax(axis=1)  # ties: the first label in sorted order
    score = weighted[np.arange(len(best)), best].sum() / counts.shape[1]
    rule = {
        (s.item() if isinstance(s, np.generic) else s): (
            lab.item() if isinstance(lab, np.generic) else lab
        )
        for s, lab in zip(table.index, table.columns[best], strict=True)
    }
    return rule, float(score)


@renamed_kwargs(batches="sites")
def confounding_test(
    labels: Any,
    sites: Any,
    *,
    groups: Any = None,
    method: Literal["auto", "chi2", "fisher"] = "auto",
    warn: bool = True,
    warn_threshold: float = 0.5,
) -> ConfoundingResult:
    """Test whether the data source (site, scanner, batch) is associated with the label.

    A batch effect inflates scores when the label mix differs between sources: a model
    can then learn the source instead of the disease (in the paper, pediatric pneumonia
    against adult normal X-rays). This test quantifies that association before training.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        Class label of each sample. Missing labels are an error.
    sites : array-like of shape (n_samples,)
        Data source of each sample (site, scanner, dataset of origin). Formerly
        ``batches`` (deprecated, removed in 0.3).
    groups : array-like of shape (n_samples,), optional
        Patient of each sample. The test assumes independent units: with many images
        per patient, counting images overstates the evidence, so with ``groups`` each
        patient counts once per (site, label) it has, and ``n_samples`` is that count.
    method : {"auto", "chi2", "fisher"}, default="auto"
        Test for the p-value. ``"auto"`` uses Fisher's exact test for a 2x2 table whose
        smallest expected count is below 5 (Cochran's rule) and Pearson's chi-square test
        (no continuity correction) otherwise. ``"fisher"`` needs a 2x2 table. For larger
        tables with expected counts below 5 the chi-square p-value is approximate; the
        effect size (``cramers_v``) is the number to read there.
    warn : bool, default=True
        Emit a :class:`~pitfalls.exceptions.BatchEffectWarning` when the association is
        strong. Set to False to call the test silently (e.g. from an audit).
    warn_threshold : float, default=0.5
        Warn when the bias-corrected Cramér's V is at least this value. By Cohen's
        conventions V >= 0.5 is a large effect for a two-class label: the site then
        explains a large part of the label.

    Returns
    -------
    ConfoundingResult
        With ``table``, ``statistic``, ``pvalue``, ``dof``, ``method``, ``cramers_v``,
        ``label_from_site_score`` and ``site_rule``.

    Warns
    -----
    BatchEffectWarning
        When ``warn`` is True and ``cramers_v >= warn_threshold``.

    Raises
    ------
    ValueError
        If the lengths differ, a label or site is missing, or there is only one label or
        one site.

    See Also
    --------
    batch_predictability : Can the site be predicted from the features?

    Examples
    --------
    >>> from pitfalls.batch_effects import confounding_test
    >>> labels = ["pneumonia"] * 6 + ["normal"] * 6
    >>> sites = ["pediatric"] * 5 + ["adult"] * 7
    >>> res = confounding_test(labels, sites, warn=False)
    >>> res.table
    label      normal  pneumonia
    site
    adult           6          1
    pediatric       0          5
    >>> res
    ConfoundingResult(cramers_v=0.828, pvalue=0.0152 (fisher), label_from_site_score=0.917, n_samples=12, n_sites=2, n_labels=2)
    >>> res.site_rule
    {'adult': 'normal', 'pediatric': 'pneumonia'}
    """
    if method not in ("auto", "chi2", "fisher"):
        raise ValueError(f"method={method!r} is not supported; use 'auto', 'chi2' or 'fisher'.")
    if not 0.0 <= warn_threshold <= 1.0:
        raise ValueError(f"warn_threshold={warn_threshold!r} is outside [0, 1]; use e.g. 0.5.")
    table = contingency_table(labels, sites, groups)
    counts = table.to_numpy(dtype=float)
    chi2, chi2_pvalue, dof, expected = stats.chi2_contingency(counts, correction=False)

    is_2x2 = counts.shape == (2, 2)
    if method == "fisher" and not is_2x2:
        raise ValueError(
            f"method='fisher' needs a 2x2 table but sites x labels is {counts.shape[0]}x"
            f"{counts.shape[1]}; use method='chi2' or 'auto'."
        )
    use_fisher = method == "fisher" or (
        method == "auto" and is_2x2 and expected.min() < _MIN_EXPECTED_COUNT
    )
    if use_fisher:
        pvalue = float(stats.fisher_exact(counts.astype(np.int64)).pvalue)
    else:
        pvalue = float(chi2_pvalue)

    rule, rule_score = _best_site_rule(table)
    result = ConfoundingResult(
        table=table,
        statistic=float(chi2),
        pvalue=pvalue,
        dof=int(dof),
        method="fisher" if use_fisher else "chi2",
        cramers_v=bias_corrected_cramers_v(counts),
        label_from_site_score=rule_score,
        site_rule=rule,
        n_samples=int(counts.sum()),
    )
    if warn and result.cramers_v >= warn_threshold:
        warnings.warn(
            f"The label is strongly associated with the site (bias-corrected Cramér's V = "
            f"{result.cramers_v:.2f} >= warn_threshold={warn_threshold}; the site alone "
            f"predicts the label with balanced accuracy {rule_score:.2f}). A model can learn "
            "the source instead of the disease: balance labels within each site, or evaluate "
            "on an external site.",
            BatchEffectWarning,
            stacklevel=2,
        )
    return result
