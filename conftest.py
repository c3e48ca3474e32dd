"""Root pytest configuration: what doctest collection must not import."""

collect_ignore = ["src/pitfalls/__main__.py"]
