"""A scikit-learn classifier around the torch training loop, for image arrays."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted
from torch import nn
from torch.utils.data import Dataset

from .._validation import describe_values
from ._models import resnet50_classifier, small_cnn
from ._training import fit_classifier, predict
from ._transforms import apply_transform, seeded

__all__ = ["TorchImageClassifier"]

_ARCHITECTURES = ("small", "resnet50")


def _images_to_tensor(X: Any) -> torch.Tensor:
    """``N x H x W`` or ``N x H x W x C`` array -> ``N x C x H x W`` tensor.

    ``uint8`` images stay ``uint8`` (a quarter of the memory of float32, which matters at
    the paper's 22,000 patches of 224 px); :func:`_as_float` scales them item by item.
    """
    if sparse.issparse(X):
        raise TypeError(
            f"X is a SciPy sparse matrix ({type(X).__name__}); TorchImageClassifier needs "
            "dense image arrays of shape (n_samples, height, width[, channels])."
        )
    array = np.asarray(X)
    if array.dtype.kind == "c":
        raise ValueError("Complex data not supported; pass real-valued images.")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise ValueError(
            "X contains NaN or infinity; the network would train on NaN losses. Impute or "
            "drop those images."
        )
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4:
        raise ValueError(
            f"X must be an array of images of shape (n_samples, height, width) or "
            f"(n_samples, height, width, channels); got shape {array.shape}."
        )
    array = np.ascontiguousarray(array.transpose(0, 3, 1, 2))
    if not array.flags.writeable:  # torch tensors must own writable memory
        array = array.copy()
    tensor = torch.from_numpy(array)
    return tensor if tensor.dtype == torch.uint8 else tensor.float()


def _as_float(image: torch.Tensor) -> torch.Tensor:
    """Float image(s) as the model sees them: ``uint8`` scaled to ``[0, 1]`` (a new tensor)."""
    return image.float().div_(255.0) if image.dtype == torch.uint8 else image


class _ImageArrayDataset(Dataset):
    def __init__(
        self,
        images: torch.Tensor,
        targets: torch.Tensor | None,
        transform: Callable[..., Any] | None,
    ) -> None:
        self.images, self.targets, self.transform = images, targets, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Any:
        image = _as_float(self.images[index])
        if self.transform is not None:
            # same rules as the manifest datasets: albumentations or tensor transforms
            # a copy, so an in-place transform cannot edit the stored training images
            image = apply_transform(self.transform, image.permute(1, 2, 0).numpy().copy())
        return image if self.targets is None else (image, self.targets[index])


class TorchImageClassifier(ClassifierMixin, BaseEstimator):
    """scikit-learn classifier that trains a torch CNN on image arrays.

    It plugs image models into scikit-learn tools (``cross_validate``, pipelines,
    :func:`pitfalls.experiments.leakage_gap` for the ``"augmentation"`` and
    ``"group_split"`` pitfalls): ``fit`` holds out ``validation_fraction`` of the
    training data (patient-aware when ``groups`` is given), trains with
    :func:`fit_classifier` and keeps the weights with the lowest validation loss (or
    training loss, ``monitor="train_loss"``). Augmentation given as
    ``train_transform`` is applied on the fly to training images only, never to the
    held-out images or at prediction time.

    Parameters
    ----------
    architecture : {"small", "resnet50"}, default="small"
        :func:`small_cnn` (fast on a CPU) or :func:`resnet50_classifier` (single-channel
        images are repeated to three channels).
    module : callable, optional
        ``module(n_classes, n_channels) -> nn.Module``; overrides ``architecture``.
    epochs : int, default=10
    batch_size : int, default=32
    lr : float, default=1e-3
        Adam's learning rate (the paper used 1e-4 with a pretrained ResNet-50; a small
        network trained from scratch wants more).
    betas : tuple of float, default=(0.9, 0.999)
    weight_decay : float, default=0.0
    dropout : float, default=0.5
        Dropout before the classifier layer (both architectures).
    weights : optional
        Passed to :func:`resnet50_classifier`.
    train_transform : callable, optional
        Training-time augmentation: albumentations (gets the channels-last float image) or
        a torchvision / plain callable (gets the float ``C x H x W`` tensor).
        (Not called ``transform``: scikit-learn pipelines would take that for a
        transformer method.)
    validation_fraction : float, default=0.1
        Share of training samples (or patients) held out to pick the best epoch; 0 keeps
        the last epoch (with ``monitor="val_loss"``).
    lr_schedule : {None, "constant", "onecycle"}, default=None
        Learning-rate schedule of :func:`fit_classifier` (None: constant ``lr``).
    monitor : {"val_loss", "train_loss"}, default="val_loss"
        Which loss picks the epoch whose weights are kept (see :func:`fit_classifier`).
    device : str, default="auto"
    amp : bool, default=True
    num_workers : int, default=0
    checkpoint : path-like, optional
        Where :func:`fit_classifier` writes the best weights and, beside them, the
        state after each epoch; a later ``fit`` with the same settings resumes from
        that state (a long run interrupted goes on where it stopped).
    random_state : int, optional
        Seeds initialisation, the validation split, shuffling and augmentation.
    verbose : int, default=0
        Quiet by default; ``verbose=1`` shows a progress bar over epochs.

    Attributes
    ----------
    classes_ : ndarray
        Class labels seen in ``fit``.
    model_ : torch.nn.Module
        The trained network.
    history_ : DataFrame
        Loss per epoch.
    best_epoch_ : int
        The epoch (0-based) whose weights were kept.
    n_channels_ : int
    train_indices_, validation_indices_ : ndarray
        Rows of ``X`` the weights were fitted on, and the rows held out to pick the
        epoch (empty with ``validation_fraction=0``).

    Examples
    --------
    >>> import numpy as np
    >>> from pitfalls.torch import TorchImageClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.array([0, 1] * 10)
    >>> X = rng.random((20, 8, 8)) + y[:, None, None]  # class 1 is brighter
    >>> clf = TorchImageClassifier(epochs=3, random_state=0, device="cpu").fit(X, y)
    >>> clf.predict_proba(X[:2]).shape, clf.classes_.tolist()
    ((2, 2), [0, 1])
    """

    def __init__(
        self,
        architecture: str = "small",
        *,
        module: Callable[[int, int], nn.Module] | None = None,
        epochs: int = 10,
        batch_size: int = 32,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        weight_decay: float = 0.0,
        dropout: float = 0.5,
        weights: Any = None,
        train_transform: Callable[..., Any] | None = None,
        validation_fraction: float = 0.1,
        lr_schedule: str | None = None,
        monitor: str = "val_loss",
        device: str = "auto",
        amp: bool = True,
        num_workers: int = 0,
        checkpoint: Any = None,
        random_state: int | None = None,
        verbose: int = 0,
    ) -> None:
        self.architecture = architecture
        self.module = module
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.betas = betas
        self.weight_decay = weight_decay
        self.dropout = dropout
        self.weights = weights
        self.train_transform = train_transform
        self.validation_fraction = validation_fraction
        self.lr_schedule = lr_schedule
        self.monitor = monitor
        self.device = device
        self.amp = amp
        self.num_workers = num_workers
        self.checkpoint = checkpoint
        self.random_state = random_state
        self.verbose = verbose

    def _build(self, n_classes: int, n_channels: int) -> nn.Module:
        if self.module is not None:
            return self.module(n_classes, n_channels)
        if self.architecture == "small":
            return small_cnn(n_classes, in_channels=n_channels, dropout=self.dropout)
        if self.architecture == "resnet50":
            return resnet50_classifier(n_classes, weights=self.weights, dropout=self.dropout)
        raise ValueError(
            f"architecture={self.architecture!r} is not supported; use one of "
            f"{_ARCHITECTURES} or pass module=."
        )

    def _inputs(self, X: Any) -> torch.Tensor:
        images = _images_to_tensor(X)
        if self.module is None and self.architecture == "resnet50" and images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)  # ResNet-50 takes RGB
        return images

    def _validation_split(self, y: np.ndarray, groups: Any) -> tuple[np.ndarray, np.ndarray | None]:
        everything = np.arange(len(y))
        if not self.validation_fraction:
            return everything, None
        if not 0 < self.validation_fraction < 1:
            raise ValueError(f"validation_fraction={self.validation_fraction!r} must be in [0, 1).")
        kwargs = {"test_size": self.validation_fraction, "random_state": self.random_state}
        if groups is not None:
            splitter: Any = GroupShuffleSplit(n_splits=1, **kwargs)
            train, val = next(splitter.split(everything, y, groups))
            return train, val
        try:
            train, val = next(StratifiedShuffleSplit(n_splits=1, **kwargs).split(everything, y))
        except ValueError:  # too few samples of a class to stratify
            train, val = next(ShuffleSplit(n_splits=1, **kwargs).split(everything))
        return train, val

    @staticmethod
    def _check_targets(y: Any) -> np.ndarray:
        if y is None:
            raise ValueError(
                "TorchImageClassifier requires y to be passed, but the target y is None; "
                "pass one class label per image."
            )
        labels = np.asarray(y)
        check_classification_targets(labels)
        classes = np.unique(labels)
        if classes.size < 2:
            raise ValueError(
                f"y has a single class ({describe_values(classes)}); a classifier needs at "
                "least two classes."
            )
        return labels

    def fit(self, X: Any, y: Any, groups: Any = None) -> TorchImageClassifier:
        """Train on image arrays.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, channels])
            ``uint8`` images are scaled to ``[0, 1]``; floats are used as given.
        y : array-like of shape (n_samples,)
        groups : array-like of shape (n_samples,), optional
            Patient ids; the validation hold-out then takes whole patients.

        Returns
        -------
        self

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.torch import TorchImageClassifier
        >>> clf = TorchImageClassifier(epochs=1, validation_fraction=0, device="cpu")
        >>> clf.fit(np.zeros((4, 6, 6, 3)), ["a", "b", "a", "b"]).n_channels_
        3
        """
        y = self._check_targets(y)
        images = self._inputs(X)
        if len(y) != len(images):
            raise ValueError(f"X has {len(images)} images but y has {len(y)} labels.")
        self.classes_, codes = np.unique(y, return_inverse=True)
        targets = torch.from_numpy(codes.astype(np.int64))
        self.n_channels_ = int(images.shape[1])
        train_idx, val_idx = self._validation_split(codes, groups)
        with seeded(self.random_state):
            model = self._build(len(self.classes_), self.n_channels_)
        train = _ImageArrayDataset(images[train_idx], targets[train_idx], self.train_transform)
        val = (
            None if val_idx is None else _ImageArrayDataset(images[val_idx], targets[val_idx], None)
        )
        result = fit_classifier(
            model,
            train,
            val,
            epochs=self.epochs,
            batch_size=self.batch_size,
            lr=self.lr,
            betas=self.betas,
            weight_decay=self.weight_decay,
            device=self.device,
            amp=self.amp,
            num_workers=self.num_workers,
            checkpoint=self.checkpoint,
            resume=self.checkpoint is not None,
            lr_schedule=self.lr_schedule,
            monitor=self.monitor,
            random_state=self.random_state,
            verbose=self.verbose,
        )
        self.train_indices_ = np.asarray(train_idx)
        self.validation_indices_ = np.asarray([] if val_idx is None else val_idx, dtype=np.intp)
        self.model_ = result.model
        self.history_ = result.history
        self.best_epoch_ = int(result.best_epoch)
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``.

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.torch import TorchImageClassifier
        >>> clf = TorchImageClassifier(epochs=1, validation_fraction=0, device="cpu")
        >>> clf.fit(np.zeros((4, 6, 6)), [0, 1, 0, 1]).predict_proba(np.zeros((1, 6, 6))).shape
        (1, 2)
        """
        check_is_fitted(self, "model_")
        images = self._inputs(X)
        if images.shape[1] != self.n_channels_:
            raise ValueError(
                f"X has {images.shape[1]} channel(s) but the model was fitted on "
                f"{self.n_channels_}."
            )
        return predict(
            self.model_,
            _ImageArrayDataset(images, None, None),
            batch_size=max(self.batch_size, 64),
            device=self.device,
            amp=self.amp,
        )

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class of each image.

        Examples
        --------
        >>> import numpy as np
        >>> from pitfalls.torch import TorchImageClassifier
        >>> clf = TorchImageClassifier(epochs=1, validation_fraction=0, device="cpu")
        >>> clf.fit(np.zeros((4, 6, 6)), ["a", "b", "a", "b"]).predict(np.zeros((2, 6, 6))).shape
        (2,)
        """
        proba = self.predict_proba(X)  # checks that the model is fitted first
        return self.classes_[np.argmax(proba, axis=1)]
