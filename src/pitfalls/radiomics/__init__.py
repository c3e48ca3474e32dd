"""pyradiomics feature extraction as a function and a scikit-learn transformer."""

__all__: list[str] = []
