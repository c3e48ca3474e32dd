"""Probes for batch effects: site-label confounding, site predictability, harmonisation."""

__all__: list[str] = []
