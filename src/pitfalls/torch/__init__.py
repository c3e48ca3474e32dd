"""Everything that needs PyTorch: manifest datasets, train-only augmentation, patches,
ResNet-50 training and Integrated Gradients.

Importing this module imports torch; a missing install raises an ``ImportError`` that
names the extra: ``pip install "pitfalls[torch]"``. albumentations, torchvision and
captum load only when a function needs them.
"""

from .._optional import import_optional

import_optional("torch", feature="pitfalls.torch")

from ._attribution import (  # noqa: E402
    attribution_outside_roi,
    integrated_gradients,
    plot_attribution,
)
from ._datasets import (  # noqa: E402
    ManifestImageDataset,
    augment_before_split,
    load_image,
    split_datasets,
)
from ._models import load_state_dict, resnet50_classifier, small_cnn  # noqa: E402
from ._patches import extract_patches, patch_manifest, tissue_mask  # noqa: E402
from ._sklearn import TorchImageClassifier  # noqa: E402
from ._training import FitResult, fit_classifier, predict, resolve_device  # noqa: E402
from ._transforms import is_random_transform  # noqa: E402

__all__ = [
    "FitResult",
    "ManifestImageDataset",
    "TorchImageClassifier",
    "attribution_outside_roi",
    "augment_before_split",
    "extract_patches",
    "fit_classifier",
    "integrated_gradients",
    "is_random_transform",
    "load_image",
    "load_state_dict",
    "patch_manifest",
    "plot_attribution",
    "predict",
    "resnet50_classifier",
    "resolve_device",
    "small_cnn",
    "split_datasets",
    "tissue_mask",
]
