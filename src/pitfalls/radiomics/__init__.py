"""pyradiomics feature extraction as a function and a scikit-learn transformer.

pyradiomics is an optional dependency, imported only when extraction runs:
``pip install "pitfalls[radiomics]"`` (pyradiomics builds only without build
isolation: ``pip install numpy versioneer && pip install --no-build-isolation
pyradiomics``).
"""

from ._extract import extract_features
from ._transformer import RadiomicsFeatureExtractor

__all__ = ["RadiomicsFeatureExtractor", "extract_features"]
