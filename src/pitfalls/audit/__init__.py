"""Audit a manifest for leakage, duplicates, confounding and misleading class balance."""

__all__: list[str] = []
