"""Naive baselines a model must beat, including the air-in-body lung CT baseline."""

__all__: list[str] = []
