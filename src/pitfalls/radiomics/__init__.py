"""pyradiomics feature extraction as a function and a scikit-learn transformer.

pyradiomics is an optional dependency, imported only when extraction runs. It has no
wheels and its source builds only without build isolation, on Python <= 3.11:
``pip install numpy versioneer setuptools wheel``, then ``pip install
--no-build-isolation pyradiomics``, then the radiomics extra (see the install guide).
"""

from ._extract import extract_features
from ._transformer import RadiomicsFeatureExtractor

__all__ = ["RadiomicsFeatureExtractor", "extract_features"]
