"""Single source of the package version (read by hatchling and ``pitfalls --version``)."""

__version__ = "0.1.0.dev0"
