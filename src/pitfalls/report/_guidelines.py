"""Reporting-guideline items that a study report can evidence, as data.

Three guidelines, each item with its number as the guideline prints it, a short
topic, the item paraphrased (never quoted at length), what :mod:`pitfalls` can show
for it and which report sections it reads, and what the author has to write when
the data cannot answer:

* the paper's checklist (Maleki et al., Table 4), read from
  :data:`pitfalls.audit.CHECKLIST` (its wording is kept there, once);
* CLAIM 2024: Tejani AS, Klontzas ME, Gatti AA, et al. *Checklist for Artificial
  Intelligence in Medical Imaging (CLAIM): 2024 Update.* Radiol Artif Intell
  2024;6(4):e240300, doi:10.1148/ryai.240300;
* TRIPOD+AI: Collins GS, Moons KGM, Dhiman P, et al. *TRIPOD+AI statement: updated
  guidance for reporting clinical prediction models that use regression or machine
  learning methods.* BMJ 2024;385:e078378, doi:10.1136/bmj-2023-078378.

Item numbers were checked against copies of the published checklists: CLAIM 2024's 44
numbered items (the CLAIM explanation-and-elaboration site's checklist table, which
agrees item by item with two further independent copies); TRIPOD+AI's items and
sub-items (a copy of the BMJ checklist table taken from Europe PMC, PMC11019967,
CC BY 4.0, which agrees with two further copies). CLAIM 2024 renumbered items of
CLAIM 2020 (partitions are items 19 to 21 in both, in a different order), so older
lists disagree with these numbers: the 2024 numbering is the one used here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from ..audit import CHECKLIST

__all__ = [
    "GUIDELINES",
    "GUIDELINE_ITEMS",
    "Guideline",
    "GuidelineItem",
    "format_guideline",
    "guideline_items",
]


@dataclass(frozen=True)
class Guideline:
    """One reporting guideline: its short name and the reference to cite.

    Examples
    --------
    >>> from pitfalls.report import GUIDELINES
    >>> GUIDELINES["claim"].name
    'CLAIM 2024'
    """

    key: str
    name: str
    title: str
    citation: str


GUIDELINES: dict[str, Guideline] = {
    "table4": Guideline(
        "table4",
        "Table 4",
        "Checklist for avoiding methodological pitfalls",
        "Maleki F, et al. Generalizability of machine learning models: quantitative "
        "evaluation of three methodological pitfalls. Radiol Artif Intell, Table 4.",
    ),
    "claim": Guideline(
        "claim",
        "CLAIM 2024",
        "Checklist for Artificial Intelligence in Medical Imaging, 2024 update",
        "Tejani AS, Klontzas ME, Gatti AA, et al. Radiol Artif Intell 2024;6(4):e240300. "
        "doi:10.1148/ryai.240300",
    ),
    "tripod-ai": Guideline(
        "tripod-ai",
        "TRIPOD+AI",
        "Reporting of clinical prediction models that use regression or machine learning",
        "Collins GS, Moons KGM, Dhiman P, et al. BMJ 2024;385:e078378. doi:10.1136/bmj-2023-078378",
    ),
}


@dataclass(frozen=True)
class GuidelineItem:
    """One guideline item and what a study report can say about it.

    Parameters
    ----------
    guideline : str
        ``"Table 4"``, ``"CLAIM 2024"`` or ``"TRIPOD+AI"`` (a :class:`Guideline` name).
    item : str
        The item number as the guideline prints it (``"20"``, ``"23a"``).
    topic : str
        A few words naming the item.
    text : str
        The item, paraphrased (Table 4: the paper's own wording).
    evidence : str
        What the report's data can show for it; empty when only the author can answer.
    author : str
        What the author writes when the data cannot answer.
    sections : tuple of str
        The report sections whose ``data`` the item's rule reads.

    Examples
    --------
    >>> from pitfalls.report import GUIDELINE_ITEMS
    >>> item = next(i for i in GUIDELINE_ITEMS if (i.guideline, i.item) == ("CLAIM 2024", "20"))
    >>> item.topic, item.sections
    ('partitions disjoint by patient', ('cohort', 'audit'))
    """

    guideline: str
    item: str
    topic: str
    text: str
    evidence: str
    author: str
    sections: tuple[str, ...] = ()


# Table 4: topic, sections read, what pitfalls shows, what the author writes. The
# items' wording stays in pitfalls.audit.CHECKLIST.
_TABLE4 = {
    1: (
        "oversampling after the split",
        ("audit", "leakage"),
        "exact copies of samples across splits (audit PF102, PF103) fail it; a leakage_gap "
        "result for oversampling gives the correct protocol's score",
        "say that the sampler ran inside the training folds only, never before the split",
    ),
    2: (
        "augmentation after the split",
        ("audit", "leakage"),
        "near copies of images across splits (audit PF104) fail it; a leakage_gap result "
        "for augmentation gives the correct protocol's score",
        "say that augmentation was applied on the fly to training images only",
    ),
    3: (
        "feature selection after the split",
        ("leakage",),
        "a leakage_gap result for feature selection gives the correct protocol's score",
        "say that features were selected inside each training fold",
    ),
    4: (
        "patients not across splits",
        ("cohort", "audit"),
        "the patients with samples in more than one split (cohort; audit PF101)",
        "say how patients were kept to one split",
    ),
    5: (
        "accuracy not alone on imbalanced data",
        ("performance", "audit"),
        "balanced accuracy, F1 or ROC AUC beside accuracy; class imbalance (audit PF301)",
        "report a metric that is not fooled by class imbalance",
    ),
    6: (
        "precision and recall beside accuracy",
        ("performance",),
        "precision and recall reported on the evaluation splits",
        "report precision and recall beside accuracy",
    ),
    7: (
        "naive baseline",
        ("performance",),
        "majority and stratified baselines beside every metric",
        "report what a naive classifier scores on the same data",
    ),
    8: (
        "external test set",
        ("external",),
        "internal against external (site-held-out) performance and their gap",
        "test on data from another site, or say why that was not possible",
    ),
    9: (
        "similar distributions across centres",
        ("cohort", "audit"),
        "number of sites; site-label confounding (audit PF201) and differing site mix "
        "(audit PF202)",
        "name the sites and show their class mix",
    ),
}


def _table4_items() -> tuple[GuidelineItem, ...]:
    items = []
    for entry in CHECKLIST:
        topic, sections, evidence, author = _TABLE4[entry.number]
        items.append(
            GuidelineItem(
                "Table 4", str(entry.number), topic, entry.text, evidence, author, sections
            )
        )
    return tuple(items)


_CLAIM = "CLAIM 2024"
_TRIPOD = "TRIPOD+AI"

# Paraphrased; numbers checked as the module docstring says.
_CLAIM_ITEMS = (
    GuidelineItem(
        _CLAIM,
        "7",
        "data sources",
        "Name where the data came from (institutions, public datasets with links) and "
        "how well they match the intended use.",
        "the number of sites and the samples each contributes",
        "name each source and link the public datasets",
        ("cohort",),
    ),
    GuidelineItem(
        _CLAIM,
        "12",
        "missing data",
        "Say how missing data were handled and what bias imputation may bring.",
        "missing values in every column the report used (none missing is evidence)",
        "say how rows with missing values were excluded or imputed",
        ("cohort",),
    ),
    GuidelineItem(
        _CLAIM,
        "14",
        "reference standard",
        "Define how the reference standard (the labels) was obtained, precisely enough "
        "to repeat it.",
        "",
        "describe how each label was established (pathology, follow-up, reader consensus)",
    ),
    GuidelineItem(
        _CLAIM,
        "19",
        "assignment to partitions",
        "Say how data were assigned to training, tuning and test partitions, in what proportions.",
        "the partitions with their patients and samples",
        "say how patients were assigned (random, stratified by label, by site or date)",
        ("cohort",),
    ),
    GuidelineItem(
        _CLAIM,
        "20",
        "partitions disjoint by patient",
        "State the level at which partitions are disjoint; images of one patient should "
        "not be in more than one partition.",
        "the patients with samples in more than one split (cohort; audit PF101)",
        "state that partitions are disjoint at the patient level",
        ("cohort", "audit"),
    ),
    GuidelineItem(
        _CLAIM,
        "21",
        "intended sample size",
        "Explain how the size of the test set was chosen (e.g. a power calculation).",
        "",
        "explain how the test-set size was chosen (precision or power calculation)",
        ("cohort",),
    ),
    GuidelineItem(
        _CLAIM,
        "22",
        "model description",
        "Describe the model completely: inputs, outputs, architecture, intermediate layers.",
        "",
        "describe the model architecture, its inputs and outputs",
    ),
    GuidelineItem(
        _CLAIM,
        "23",
        "software",
        "Name the software libraries, frameworks and packages with their versions.",
        "",
        "list the libraries with versions (the report's settings give pitfalls' version)",
    ),
    GuidelineItem(
        _CLAIM,
        "28",
        "performance metrics",
        "Describe the metrics of model performance and why they were chosen.",
        "the metrics computed on each evaluation split",
        "report performance metrics on the test data",
        ("performance",),
    ),
    GuidelineItem(
        _CLAIM,
        "29",
        "uncertainty",
        "Give statistical measures of uncertainty (confidence intervals) and of significance.",
        "patient-level bootstrap confidence intervals of every metric",
        "report confidence intervals for every metric",
        ("performance",),
    ),
    GuidelineItem(
        _CLAIM,
        "32",
        "internal testing",
        "Report performance on held-out internal data.",
        "performance on evaluation splits that are not external",
        "report performance on a held-out internal test set",
        ("performance", "cohort"),
    ),
    GuidelineItem(
        _CLAIM,
        "33",
        "external testing",
        "Report performance on external data, or justify why there is none.",
        "internal against external (site-held-out) performance and their gap",
        "test on external data, or justify why none was used",
        ("external",),
    ),
    GuidelineItem(
        _CLAIM,
        "35",
        "included and excluded",
        "Give the numbers of patients or examinations included and excluded, ideally as "
        "a flow diagram.",
        "",
        "give the numbers excluded at each criterion (a flow diagram)",
        ("cohort",),
    ),
    GuidelineItem(
        _CLAIM,
        "36",
        "characteristics per partition",
        "Describe the demographic and clinical characteristics of the cases in each partition.",
        "",
        "describe demographics and clinical characteristics per partition",
        ("cohort",),
    ),
    GuidelineItem(
        _CLAIM,
        "37",
        "performance with uncertainty",
        "Report the final model's performance metrics with their statistical uncertainty.",
        "the headline metric with its confidence interval",
        "report the headline metric with its confidence interval",
        ("performance",),
    ),
    GuidelineItem(
        _CLAIM,
        "38",
        "diagnostic accuracy and precision",
        "Report estimates of diagnostic performance (e.g. sensitivity, specificity) with "
        "their precision.",
        "sensitivity and specificity with their confidence intervals",
        "report sensitivity and specificity at the operating threshold",
        ("performance",),
    ),
    GuidelineItem(
        _CLAIM,
        "43",
        "availability",
        "Say whether and where software, trained model and data are available.",
        "",
        "say where code, trained model and data can be obtained, and on what terms",
    ),
)

_TRIPOD_ITEMS = (
    GuidelineItem(
        _TRIPOD,
        "6a",
        "setting and centres",
        "Describe the study setting, including the number and location of centres.",
        "the number of sites and the samples each contributes",
        "name the centres and the care setting",
        ("cohort",),
    ),
    GuidelineItem(
        _TRIPOD,
        "10",
        "sample size",
        "Explain how the study size was reached, separately for development and "
        "evaluation, and why it suffices.",
        "",
        "justify the sample size (a sample size calculation)",
        ("cohort",),
    ),
    GuidelineItem(
        _TRIPOD,
        "11",
        "missing data",
        "Describe how missing data were handled and why any data were left out.",
        "missing values in every column the report used (none missing is evidence)",
        "say how missing values were handled and why any data were dropped",
        ("cohort",),
    ),
    GuidelineItem(
        _TRIPOD,
        "12a",
        "use of the data",
        "Describe how the data were used for development and evaluation, including "
        "whether and how they were partitioned.",
        "the partitions with their patients and samples",
        "describe how the data were partitioned for development and evaluation",
        ("cohort",),
    ),
    GuidelineItem(
        _TRIPOD,
        "12d",
        "heterogeneity across clusters",
        "Describe whether and how heterogeneity of performance across clusters "
        "(hospitals, countries) was handled and quantified.",
        "a heterogeneity test of performance across sites",
        "say whether performance was compared across centres, and how",
        ("subgroups", "cohort"),
    ),
    GuidelineItem(
        _TRIPOD,
        "12e",
        "performance measures incl. calibration",
        "Name every measure and plot used to evaluate performance (discrimination, "
        "calibration, clinical utility) and why.",
        "discrimination and calibration (Brier score, calibration slope and intercept)",
        "report calibration beside discrimination, or say why it cannot be assessed",
        ("performance", "calibration"),
    ),
    GuidelineItem(
        _TRIPOD,
        "13",
        "class imbalance",
        "If class imbalance methods were used, say why and how, and how predictions "
        "were recalibrated.",
        "",
        "say whether resampling or class weights were used, and any recalibration",
        ("cohort",),
    ),
    GuidelineItem(
        _TRIPOD,
        "14",
        "fairness",
        "Describe any approach used to address model fairness and why.",
        "",
        "describe how fairness was addressed (the subgroup results support it)",
        ("subgroups",),
    ),
    GuidelineItem(
        _TRIPOD,
        "18e",
        "data sharing",
        "Say whether and how the study data are available.",
        "",
        "say where and on what terms the data can be obtained",
    ),
    GuidelineItem(
        _TRIPOD,
        "18f",
        "code sharing",
        "Say whether and how the analysis code is available.",
        "",
        "give the repository of the analysis code",
    ),
    GuidelineItem(
        _TRIPOD,
        "20a",
        "participant flow",
        "Describe the flow of participants, including how many had and did not have the outcome.",
        "patients and samples included, and the samples of each class",
        "add a flow diagram with the exclusions",
        ("cohort",),
    ),
    GuidelineItem(
        _TRIPOD,
        "20c",
        "development vs evaluation data",
        "For evaluation, compare the distribution of important variables, the outcome "
        "included, with the development data.",
        "the class mix of each split side by side",
        "compare the evaluation data with the development data",
        ("cohort", "performance"),
    ),
    GuidelineItem(
        _TRIPOD,
        "21",
        "participants and events per analysis",
        "Give the number of participants and outcome events in each analysis "
        "(development, tuning, evaluation).",
        "patients per split with the patients of each class",
        "give participants and outcome events for each analysis",
        ("cohort",),
    ),
    GuidelineItem(
        _TRIPOD,
        "22",
        "model specification",
        "Give the full model (formula, code, object or API) so that others can use and "
        "evaluate it, with any access restrictions.",
        "",
        "say where the fitted model can be obtained, and on what terms",
    ),
    GuidelineItem(
        _TRIPOD,
        "23a",
        "performance with CIs, incl. subgroups",
        "Report performance estimates with confidence intervals, including for key "
        "subgroups such as sociodemographic ones.",
        "metrics with confidence intervals, overall and per subgroup level",
        "report performance with confidence intervals for the key subgroups",
        ("performance", "subgroups"),
    ),
    GuidelineItem(
        _TRIPOD,
        "23b",
        "heterogeneity results",
        "If examined, report the heterogeneity of performance across clusters.",
        "per-site performance with a heterogeneity test",
        "report per-centre performance if it was examined",
        ("subgroups", "cohort"),
    ),
)

GUIDELINE_ITEMS: tuple[GuidelineItem, ...] = _table4_items() + _CLAIM_ITEMS + _TRIPOD_ITEMS


def guideline_items(guideline: str = "all") -> tuple[GuidelineItem, ...]:
    """The items of one guideline, or of all three.

    Parameters
    ----------
    guideline : {"table4", "claim", "tripod-ai", "all"}, default="all"

    Returns
    -------
    tuple of GuidelineItem

    Examples
    --------
    >>> from pitfalls.report import guideline_items
    >>> [i.item for i in guideline_items("tripod-ai")][:3]
    ['6a', '10', '11']
    >>> guideline_items("stard")
    Traceback (most recent call last):
    ...
    ValueError: guideline='stard' is not one of 'table4', 'claim', 'tripod-ai', 'all'.
    """
    if guideline == "all":
        return GUIDELINE_ITEMS
    if guideline not in GUIDELINES:
        choices = ", ".join(repr(key) for key in (*GUIDELINES, "all"))
        raise ValueError(f"guideline={guideline!r} is not one of {choices}.")
    name = GUIDELINES[guideline].name
    return tuple(item for item in GUIDELINE_ITEMS if item.guideline == name)


_FORMATS = ("text", "markdown", "json")


def format_guideline(guideline: str = "all", fmt: str = "text") -> str:
    """List a guideline's items with their numbers and what pitfalls can evidence.

    Parameters
    ----------
    guideline : {"table4", "claim", "tripod-ai", "all"}, default="all"
    fmt : {"text", "markdown", "json"}, default="text"
        ``"md"`` is accepted for ``"markdown"``.

    Returns
    -------
    str

    Examples
    --------
    >>> from pitfalls.report import format_guideline
    >>> print(format_guideline("claim").splitlines()[0])
    CLAIM 2024: Checklist for Artificial Intelligence in Medical Imaging, 2024 update
    >>> "| 23a |" in format_guideline("tripod-ai", "md")
    True
    """
    fmt = "markdown" if fmt == "md" else fmt
    if fmt not in _FORMATS:
        raise ValueError(f"fmt={fmt!r} is not one of {', '.join(map(repr, _FORMATS))}.")
    guideline_items(guideline)  # raises the argument's error for an unknown guideline
    keys = list(GUIDELINES) if guideline == "all" else [guideline]
    groups = [(GUIDELINES[key], guideline_items(key)) for key in keys]
    if fmt == "json":
        doc = [{**asdict(g), "items": [asdict(i) for i in items]} for g, items in groups]
        return json.dumps({"guidelines": doc}, indent=2)
    render = _markdown_block if fmt == "markdown" else _text_block
    return "\n".join(render(g, items) for g, items in groups)


def _shows(item: GuidelineItem) -> str:
    if not item.evidence:
        return f"needs the author: {item.author}"
    return f"{item.evidence} (report section: {', '.join(item.sections)})"


def _text_block(guideline: Guideline, items: tuple[GuidelineItem, ...]) -> str:
    head = f"{guideline.name}: {guideline.title}"
    lines = [head, "=" * len(head), guideline.citation]
    for item in items:
        lines.append(f"{item.item:>4}  {item.topic}")
        lines.append(f"      item: {item.text}")
        lines.append(f"      pitfalls: {_shows(item)}")
    return "\n".join(lines) + "\n"


def _markdown_block(guideline: Guideline, items: tuple[GuidelineItem, ...]) -> str:
    lines = [
        f"## {guideline.name}: {guideline.title}",
        "",
        guideline.citation,
        "",
        "| Item | Topic | Item (paraphrased) | What pitfalls can evidence |",
        "| --- | --- | --- | --- |",
    ]
    for item in items:
        lines.append(f"| {item.item} | {item.topic} | {item.text} | {_shows(item)} |")
    return "\n".join(lines) + "\n"
