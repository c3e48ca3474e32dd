"""Audit a manifest for leakage, duplicates, confounding and misleading class balance.

:func:`audit` runs every applicable check of the registry :data:`CHECKS` on a
manifest (one row per sample) and returns an :class:`AuditReport`, which renders as
text, Markdown, a self-contained HTML page or versioned JSON, lists every affected
row, pair, site or class of every finding as a table (:meth:`AuditReport.to_frame`,
columns :data:`AFFECTED_COLUMNS`), and fills in the paper's checklist
(:data:`CHECKLIST`, Maleki et al. Table 4).

The image helpers (:func:`pixel_hash`, :func:`perceptual_hash`,
:func:`hash_images`, :func:`hamming_pairs`) are public so that the same hashing
can be used outside an audit, e.g. to de-duplicate a folder before splitting.
"""

from ._audit import audit
from ._checklist import CHECKLIST, ChecklistItem, format_checklist
from ._checks import AFFECTED_COLUMNS, CHECKS, SEVERITIES, Check, Finding, split_role
from ._hashing import (
    ImageHashes,
    detail_hash,
    hash_images,
    load_image,
    perceptual_hash,
    pixel_hash,
    resolve_image_paths,
    thumbnail_png,
)
from ._report import JSON_SCHEMA_VERSION, AuditReport
from ._rows import NearDuplicateRows, find_near_duplicate_rows
from ._search import hamming_pairs

__all__ = [
    "AFFECTED_COLUMNS",
    "CHECKLIST",
    "CHECKS",
    "JSON_SCHEMA_VERSION",
    "SEVERITIES",
    "AuditReport",
    "Check",
    "ChecklistItem",
    "Finding",
    "ImageHashes",
    "NearDuplicateRows",
    "audit",
    "detail_hash",
    "find_near_duplicate_rows",
    "format_checklist",
    "hamming_pairs",
    "hash_images",
    "load_image",
    "perceptual_hash",
    "pixel_hash",
    "resolve_image_paths",
    "split_role",
    "thumbnail_png",
]
