"""Run a pipeline the leaky way and the correct way and measure the gap."""

__all__: list[str] = []
