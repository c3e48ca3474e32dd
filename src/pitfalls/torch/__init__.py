"""Everything that needs PyTorch: manifest datasets, train-only augmentation, patches,
ResNet-50 training and Integrated Gradients.

Importing this module imports torch; a missing install raises an ``ImportError`` that
names the extra: ``pip install "pitfalls[torch]"``.
"""

from .._optional import import_optional

import_optional("torch", feature="pitfalls.torch")

__all__: list[str] = []
