"""Synthetic cohorts that reproduce each pitfall, and loaders for public dataset layouts."""

__all__: list[str] = []
