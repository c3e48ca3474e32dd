"""One small function per section of the study report (internal).

Each builder takes the validated inputs (:class:`~pitfalls.report._data.StudyData`, the
evaluation plan, the bootstrap settings) and calls the library's public functions;
the ones that can raise report-level findings return ``(Section, findings)``.
"""

from ._audit import audit_findings, audit_section
from ._calibration import calibration_section
from ._cohort import cohort_section
from ._common import Resampling
from ._external import external_section
from ._leakage import leakage_section
from ._performance import curves_section, performance_section, summarise
from ._subgroups import subgroups_section

__all__ = [
    "Resampling",
    "audit_findings",
    "audit_section",
    "calibration_section",
    "cohort_section",
    "curves_section",
    "external_section",
    "leakage_section",
    "performance_section",
    "subgroups_section",
    "summarise",
]
