"""Apply image transforms the same way for albumentations, torchvision and plain callables,
and tell whether a transform is random (so it can be kept out of evaluation data).

The rule used by :func:`is_random_transform` (documented in its docstring) combines what a
transform *declares* (its class name and probability ``p``) with what it *does* on a probe
image (two calls giving different outputs). Either one is enough to call it random.
"""

from __future__ import annotations

import contextlib
import itertools
import random
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

__all__ = ["apply_transform", "is_albumentations", "is_random_transform", "seeded", "to_tensor"]

# torchvision transforms whose output is random although the name does not start with "Random".
_RANDOM_TORCHVISION_NAMES = frozenset(
    {
        "AugMix",
        "AutoAugment",
        "ColorJitter",
        "CutMix",
        "ElasticTransform",
        "GaussianNoise",
        "JPEG",
        "MixUp",
        "RandAugment",
        "ScaleJitter",
        "TrivialAugmentWide",
    }
)
# albumentations containers that pick among their children at random.
_RANDOM_ALBUMENTATIONS_CONTAINERS = frozenset(
    {"OneOf", "SomeOf", "OneOrOther", "SelectiveChannelTransform"}
)
_PROBE_CALLS = 6


def is_albumentations(transform: Any) -> bool:
    """Whether ``transform`` is an albumentations transform or composition.

    Decided from the class's module, so albumentations is never imported here.

    Examples
    --------
    >>> from pitfalls.torch._transforms import is_albumentations
    >>> is_albumentations(lambda x: x)
    False
    """
    return any(cls.__module__.startswith("albumentations") for cls in type(transform).__mro__)


def to_tensor(image: Any) -> torch.Tensor:
    """Convert an image to a float tensor ``C x H x W``; ``uint8`` is scaled to ``[0, 1]``.

    Accepts a NumPy array ``H x W`` or ``H x W x C`` (channels last, as read from disk or
    returned by albumentations), a PIL image, or a tensor (returned as float, unscaled
    unless it is ``uint8``).

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.torch._transforms import to_tensor
    >>> to_tensor(np.full((2, 3), 255, dtype=np.uint8)).shape
    torch.Size([1, 2, 3])
    >>> float(to_tensor(np.full((2, 3), 255, dtype=np.uint8)).max())
    1.0
    """
    if isinstance(image, torch.Tensor):
        tensor = image
    else:
        array = np.asarray(image)
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3:
            raise ValueError(
                f"an image must be H x W or H x W x C; got an array of shape {array.shape}."
            )
        array = np.ascontiguousarray(array.transpose(2, 0, 1))
        if not array.flags.writeable:  # torch tensors must own writable memory
            array = array.copy()
        tensor = torch.from_numpy(array)
    if tensor.dtype == torch.uint8:
        return tensor.float().div_(255.0)
    if tensor.dtype == torch.uint16:
        return tensor.float().div_(65535.0)
    return tensor.float()


def apply_transform(transform: Callable[..., Any] | None, image: np.ndarray) -> torch.Tensor:
    """Apply ``transform`` to a channels-last NumPy image and return a ``C x H x W`` tensor.

    albumentations transforms get the NumPy image (``transform(image=...)["image"]``) and
    draw their randomness from torch's generator (so DataLoader workers differ and
    ``torch.manual_seed`` makes them reproducible); any other callable (torchvision v1 or
    v2 transforms, functions) gets the float tensor from :func:`to_tensor`.

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.torch._transforms import apply_transform
    >>> apply_transform(lambda t: t * 2, np.ones((2, 2), dtype=np.float32)).sum().item()
    8.0
    """
    if transform is None:
        return to_tensor(image)
    if is_albumentations(transform):
        _reseed_albumentations(transform, itertools.count(int(torch.randint(0, 2**31, ()))))
        return to_tensor(transform(image=image)["image"])
    result = transform(to_tensor(image))
    return to_tensor(result)


def _reseed_albumentations(transform: Any, seeds: Iterator[int]) -> None:
    # Compose.set_random_seed gives every child the *same* seed, which makes e.g. two
    # p=0.5 flips always fire together; so seed top-down, a different seed per node.
    if hasattr(transform, "set_random_seed"):
        transform.set_random_seed(next(seeds) % 2**32)
    for child in _children(transform):
        _reseed_albumentations(child, seeds)


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Run a block with python, NumPy and torch generators seeded, then restore them.

    Examples
    --------
    >>> import torch
    >>> from pitfalls.torch._transforms import seeded
    >>> with seeded(0):
    ...     a = torch.rand(1)
    >>> with seeded(0):
    ...     b = torch.rand(1)
    >>> bool(a == b)
    True
    """
    py_state, np_state = random.getstate(), np.random.get_state()  # noqa: NPY002
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            random.seed(seed)
            np.random.seed(seed % 2**32)  # noqa: NPY002 (legacy global used by transforms)
            torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)  # noqa: NPY002


def _children(transform: Any) -> list[Any]:
    for attribute in ("transforms", "transforms_list"):
        children = getattr(transform, attribute, None)
        if isinstance(children, list | tuple):
            return list(children)
    if isinstance(transform, torch.nn.Sequential):
        return list(transform)
    return []


def _declared_random(transform: Any) -> bool:
    name = type(transform).__name__
    probability = getattr(transform, "p", None)
    if isinstance(probability, int | float) and probability == 0:
        return False  # never applied
    if is_albumentations(transform):
        if name in _RANDOM_ALBUMENTATIONS_CONTAINERS:
            return True
        if isinstance(probability, int | float) and 0 < probability < 1:
            return True
        if name.startswith("Random"):
            return True
    elif name.startswith("Random") or name in _RANDOM_TORCHVISION_NAMES:
        return True
    return any(_declared_random(child) for child in _children(transform))


def _outputs_differ(transform: Callable[..., Any], image: np.ndarray) -> bool:
    with seeded(None):  # keep the caller's generators untouched
        first = apply_transform(transform, image)
        for _ in range(_PROBE_CALLS - 1):
            again = apply_transform(transform, image)
            if again.shape != first.shape or not torch.equal(again, first):
                return True
    return False


def is_random_transform(transform: Any, sample: np.ndarray | None = None) -> bool:
    """Whether a transform can give different outputs for the same input.

    The rule, applied recursively through compositions (albumentations ``Compose``,
    ``OneOf``..., torchvision ``Compose``, ``RandomApply``..., ``nn.Sequential``):

    1. ``None`` and any transform with ``p == 0`` are deterministic.
    2. *Declared* randomness: a torchvision class whose name starts with ``Random``
       (``RandomResizedCrop``, ``RandomApply``, ``RandomChoice``...) or that is random by
       nature (``ColorJitter``, ``AutoAugment``, ``RandAugment``, ``TrivialAugmentWide``,
       ``AugMix``, ``ElasticTransform``, ``GaussianNoise``, ``JPEG``, ``MixUp``, ``CutMix``,
       ``ScaleJitter``); an albumentations transform with ``0 < p < 1``, a ``Random*``
       class, or a container that picks among children (``OneOf``, ``SomeOf``,
       ``OneOrOther``).
    3. *Observed* randomness: the transform is called several times on a probe image
       (``sample``, or a random 64 x 64 RGB image) and its outputs differ. This catches
       random transforms with ``p=1`` (albumentations ``Rotate``, ``Affine``...) and
       arbitrary callables. The caller's random generators are restored afterwards.

    A transform that fails on the probe image is judged by rule 2 alone.

    Parameters
    ----------
    transform : callable or None
        albumentations transform, torchvision transform, or any callable on a float
        ``C x H x W`` tensor.
    sample : ndarray, optional
        A real channels-last image to probe with (better than the synthetic one when the
        transform expects a given size or channel count).

    Returns
    -------
    bool

    Examples
    --------
    >>> import torch
    >>> import torchvision.transforms.v2 as T
    >>> from pitfalls.torch import is_random_transform
    >>> is_random_transform(T.Compose([T.Resize(8), T.RandomHorizontalFlip()]))
    True
    >>> is_random_transform(T.Compose([T.Resize(8), T.Normalize([0.5], [0.5])]))
    False
    >>> is_random_transform(lambda t: t + torch.rand(1))
    True
    """
    if transform is None:
        return False
    if _declared_random(transform):
        return True
    if sample is None:
        sample = np.random.default_rng(0).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
    try:
        return _outputs_differ(transform, sample)
    except Exception:  # a transform may reject the probe's size or channels
        return False
