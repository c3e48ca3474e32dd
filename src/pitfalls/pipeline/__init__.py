"""Leakage-safe pipelines: resamplers and augmenters act only in ``fit``."""

__all__: list[str] = []
