"""Group-aware (patient-level) splitters, train/val/test splitting and nested CV."""

__all__: list[str] = []
