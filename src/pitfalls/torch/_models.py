"""Classifiers: the paper's ResNet-50 (Appendix B) and a tiny CNN for quick runs and tests.

Nothing here downloads: pretrained weights load only from a local file or from a file
already in torch's hub cache.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .._optional import import_optional

__all__ = ["load_state_dict", "resnet50_classifier", "small_cnn"]


def _check_dropout(dropout: float) -> None:
    if not 0 <= dropout < 1:
        raise ValueError(f"dropout={dropout!r} must be in [0, 1).")


def small_cnn(
    num_classes: int = 2, *, in_channels: int = 3, width: int = 16, dropout: float = 0.5
) -> nn.Module:
    """A small convolutional classifier for tiny images, CPU tests and quick runs.

    Two conv-batchnorm-ReLU-pool blocks, global average pooling, dropout and a linear
    layer; any input size of at least 4 x 4 pixels.

    Parameters
    ----------
    num_classes : int, default=2
    in_channels : int, default=3
    width : int, default=16
        Channels of the first block (the second has twice as many).
    dropout : float, default=0.5
        Dropout probability before the classifier layer.

    Returns
    -------
    torch.nn.Module
        Maps ``N x in_channels x H x W`` to ``N x num_classes`` logits.

    Examples
    --------
    >>> import torch
    >>> from pitfalls.torch import small_cnn
    >>> small_cnn(3, in_channels=1)(torch.zeros(2, 1, 16, 16)).shape
    torch.Size([2, 3])
    """
    _check_dropout(dropout)
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1, bias=False),
        nn.BatchNorm2d(2 * width),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(dropout),
        nn.Linear(2 * width, num_classes),
    )


def load_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Load a state dict safely (``weights_only=True``), unwrapping common containers.

    Accepts a bare state dict, a :func:`pitfalls.torch.fit_classifier` checkpoint
    (``{"model": state_dict, ...}``) or ``{"state_dict": ...}``; strips the ``module.``
    prefix DistributedDataParallel adds.

    Examples
    --------
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> from pitfalls.torch import load_state_dict
    >>> path = Path(tempfile.mkdtemp()) / "w.pt"
    >>> torch.save({"model": {"module.fc.weight": torch.ones(1)}}, path)
    >>> list(load_state_dict(path))
    ['fc.weight']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file '{path}' does not exist.")
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("model", "state_dict"):
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
    if not isinstance(loaded, dict):
        raise ValueError(f"'{path}' does not hold a state dict; got {type(loaded).__name__}.")
    return {str(k).removeprefix("module."): v for k, v in loaded.items()}


def _torchvision_models() -> Any:
    import_optional("torchvision", feature="resnet50_classifier")
    import torchvision.models

    return torchvision.models


def _torchvision_weights(weights: Any) -> Any:
    """Turn "IMAGENET1K_V2" / "DEFAULT" / an enum member into a ResNet50_Weights member."""
    enum = _torchvision_models().ResNet50_Weights
    if isinstance(weights, str):
        try:
            return enum.DEFAULT if weights == "DEFAULT" else enum[weights]
        except KeyError:
            return None
    return weights if isinstance(weights, enum) else None


def _cached_weights_file(member: Any) -> Path:
    cache = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(member.url)
    if not cache.is_file():
        raise FileNotFoundError(
            f"weights={member} is not in the torch hub cache (expected '{cache}') and "
            "pitfalls never downloads. Fetch it once yourself, e.g. "
            f"torchvision.models.resnet50(weights='{member.name}'), or pass weights= a "
            "local state-dict file."
        )
    return cache


def resnet50_classifier(
    num_classes: int = 2, *, weights: Any = None, dropout: float = 0.5
) -> nn.Module:
    """torchvision ResNet-50 with dropout before a new classifier layer (Appendix B).

    The paper replaced ResNet-50's classifier with a binary one and put a dropout layer
    (p = 0.5) between the backbone and it: ``model.fc`` is
    ``Sequential(Dropout(dropout), Linear(2048, num_classes))``.

    Parameters
    ----------
    num_classes : int, default=2
    weights : None, path-like, str or ``torchvision.models.ResNet50_Weights``
        ``None``: random initialisation. A path: a local state dict (or a
        :func:`fit_classifier` checkpoint), loaded with ``weights_only=True``; backbone-only
        files (e.g. ImageNet weights with a 1000-class ``fc``) load into the backbone and
        leave the new classifier random. A ``ResNet50_Weights`` member or its name
        (``"IMAGENET1K_V2"``, ``"DEFAULT"``): loaded only if the file is already in the
        torch hub cache; nothing is ever downloaded.
    dropout : float, default=0.5

    Returns
    -------
    torchvision.models.ResNet

    Raises
    ------
    FileNotFoundError
        If the weights file (local or cached) does not exist.

    Examples
    --------
    >>> from pitfalls.torch import resnet50_classifier
    >>> model = resnet50_classifier(2)
    >>> model.fc
    Sequential(
      (0): Dropout(p=0.5, inplace=False)
      (1): Linear(in_features=2048, out_features=2, bias=True)
    )
    """
    _check_dropout(dropout)
    model = _torchvision_models().resnet50(weights=None)
    state: dict[str, torch.Tensor] | None = None
    if weights is not None:
        member = _torchvision_weights(weights)
        if member is not None:
            state = load_state_dict(_cached_weights_file(member))
        elif isinstance(weights, str | os.PathLike):
            state = load_state_dict(weights)
        else:
            raise TypeError(
                f"weights={weights!r} is not supported; pass None, a path to a state dict, "
                "or a torchvision ResNet50_Weights member."
            )
    in_features = model.fc.in_features
    head_in_state = state is not None and "fc.1.weight" in state
    if state is not None and not head_in_state:
        # backbone-only weights (e.g. ImageNet): load them before the head is replaced
        backbone = {k: v for k, v in state.items() if not k.startswith("fc.")}
        missing, unexpected = model.load_state_dict(backbone, strict=False)
        unknown = [k for k in missing if not k.startswith("fc.")] + list(unexpected)
        if unknown:
            raise ValueError(
                f"weights do not fit ResNet-50: {len(unknown)} mismatched key(s), e.g. "
                f"{unknown[:3]}; pass weights saved from a ResNet-50."
            )
    model.fc = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, num_classes))
    if head_in_state:
        assert state is not None
        model.load_state_dict(state)
    return model
