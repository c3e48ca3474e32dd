"""Group-aware (patient-level) splitters, train/val/test splitting and nested CV.

Every splitter keeps all samples of a group (patient) on one side of each split,
so that no patient is both trained on and tested on. Besides k-fold splitters
stratified on one label (:class:`StratifiedGroupKFold`) or several
(:class:`MultilabelStratifiedGroupKFold`), there are splitters for external
validation (:class:`LeaveOneSiteOut`, :class:`LeavePSitesOut`) and for time
(:class:`GroupTimeSeriesSplit`).

Examples
--------
>>> from pitfalls.model_selection import StratifiedGroupKFold
>>> StratifiedGroupKFold(n_splits=3)
StratifiedGroupKFold(n_splits=3, random_state=None, shuffle=False)
"""

from ._check import check_group_disjoint
from ._multilabel import MultilabelStratifiedGroupKFold
from ._nested import NestedCVResult, nested_cross_validate
from ._permutation import permutation_test_score
from ._site import LeaveOneSiteOut, LeavePSitesOut
from ._split import RepeatedStratifiedGroupKFold, StratifiedGroupKFold
from ._time import GroupTimeSeriesSplit
from ._train_val_test import assign_splits, train_val_test_split

__all__ = [
    "GroupTimeSeriesSplit",
    "LeaveOneSiteOut",
    "LeavePSitesOut",
    "MultilabelStratifiedGroupKFold",
    "NestedCVResult",
    "RepeatedStratifiedGroupKFold",
    "StratifiedGroupKFold",
    "assign_splits",
    "check_group_disjoint",
    "nested_cross_validate",
    "permutation_test_score",
    "train_val_test_split",
]
