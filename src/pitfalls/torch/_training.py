"""The paper's training loop (Adam, cross-entropy, best validation loss), fast and scalable.

One function runs on a CPU, one GPU, or under ``torchrun`` on several GPUs and machines
(DistributedDataParallel): the process group is set up from torchrun's environment, each
process sees its shard of the training data, validation losses are summed over all
processes, and only rank 0 writes checkpoints and progress.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from torch.utils.data.distributed import DistributedSampler
from tqdm.auto import tqdm

from .._tables import format_number, markdown_table
from ._transforms import seeded

__all__ = ["FitResult", "fit_classifier", "predict", "resolve_device"]


@dataclass(repr=False)
class FitResult:
    """What :func:`fit_classifier` returns.

    Attributes
    ----------
    model : torch.nn.Module
        The trained model (not wrapped in DDP) holding the weights of ``best_epoch``.
    history : DataFrame
        One row per epoch: ``epoch``, ``train_loss``, ``val_loss`` (NaN without
        validation data).
    best_epoch : int
        Epoch (0-based) whose weights were kept: the lowest validation loss (the last
        epoch without validation data), or the lowest training loss with
        ``monitor="train_loss"``.
    best_val_loss : float
        Its validation loss (NaN without validation data).

    Examples
    --------
    >>> import pandas as pd, torch
    >>> from pitfalls.torch import FitResult
    >>> history = pd.DataFrame({"epoch": [0, 1], "train_loss": [0.9, 0.6], "val_loss": [0.8, 0.7]})
    >>> res = FitResult(torch.nn.Identity(), history, 1, 0.7)
    >>> res
    FitResult(model=Identity, n_epochs=2, best_epoch=1, best_val_loss=0.7, final_train_loss=0.6)
    >>> print(res.to_markdown())
    | epoch | train_loss | val_loss |
    | :--- | ---: | ---: |
    | 0 | 0.9000 | 0.8000 |
    | 1 | 0.6000 | 0.7000 |
    """

    model: nn.Module
    history: pd.DataFrame
    best_epoch: int
    best_val_loss: float

    def __repr__(self) -> str:
        final = float(self.history["train_loss"].iloc[-1]) if len(self.history) else math.nan
        return (
            f"FitResult(model={type(self.model).__name__}, n_epochs={len(self.history)}, "
            f"best_epoch={self.best_epoch}, best_val_loss={self.best_val_loss:.4g}, "
            f"final_train_loss={final:.4g})"
        )

    def to_frame(self) -> pd.DataFrame:
        """The training history, one row per epoch (a copy of :attr:`history`).

        Returns
        -------
        DataFrame
            Columns ``epoch``, ``train_loss``, ``val_loss``.

        Examples
        --------
        >>> import pandas as pd, torch
        >>> from pitfalls.torch import FitResult
        >>> h = pd.DataFrame({"epoch": [0], "train_loss": [0.5], "val_loss": [0.4]})
        >>> FitResult(torch.nn.Identity(), h, 0, 0.4).to_frame().columns.tolist()
        ['epoch', 'train_loss', 'val_loss']
        """
        return self.history.copy()

    def to_markdown(self, digits: int = 4) -> str:
        """The training history as a Markdown table.

        Parameters
        ----------
        digits : int, default=4
            Decimals of the losses.

        Returns
        -------
        str

        Examples
        --------
        >>> import pandas as pd, torch
        >>> from pitfalls.torch import FitResult
        >>> h = pd.DataFrame({"epoch": [0], "train_loss": [0.5], "val_loss": [float("nan")]})
        >>> FitResult(torch.nn.Identity(), h, 0, float("nan")).to_markdown().splitlines()[-1]
        '| 0 | 0.5000 | nan |'
        """
        rows = [
            [format_number(float(v), digits) if isinstance(v, float) else str(v) for v in row]
            for row in self.history.itertuples(index=False)
        ]
        return markdown_table([str(c) for c in self.history.columns], rows)

    def plot(self, ax: Any = None) -> Any:
        """Training and validation loss per epoch, the best epoch marked.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw on; a new figure when None.

        Returns
        -------
        matplotlib.axes.Axes

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import pandas as pd, torch
        >>> from pitfalls.torch import FitResult
        >>> h = pd.DataFrame({"epoch": [0, 1], "train_loss": [0.9, 0.6], "val_loss": [0.8, 0.7]})
        >>> ax = FitResult(torch.nn.Identity(), h, 1, 0.7).plot()
        >>> [line.get_label() for line in ax.get_lines()]
        ['train', 'validation', 'best epoch (1)']
        """
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots()
        epochs = self.history["epoch"]
        ax.plot(epochs, self.history["train_loss"], marker="o", label="train")
        if self.history["val_loss"].notna().any():
            ax.plot(epochs, self.history["val_loss"], marker="o", label="validation")
        ax.axvline(
            self.best_epoch, color="k", linestyle=":", label=f"best epoch ({self.best_epoch})"
        )
        ax.set_xlabel("epoch")
        ax.set_ylabel("cross-entropy loss")
        ax.legend()
        return ax


def _local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``"auto"``, ``"cuda"``, ``"cpu"``... into a device (the local GPU under torchrun).

    ``"auto"`` picks CUDA when available, then Apple's MPS, then the CPU. Under
    ``torchrun`` a bare ``"cuda"`` becomes ``cuda:LOCAL_RANK``.

    Examples
    --------
    >>> from pitfalls.torch import resolve_device
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            device = "cuda"
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    resolved = torch.device(device)
    if resolved.type == "cuda" and resolved.index is None:
        resolved = torch.device("cuda", _local_rank() if "LOCAL_RANK" in os.environ else 0)
    return resolved


@contextlib.contextmanager
def _process_group(device: torch.device) -> Iterator[tuple[int, int]]:
    """Yield ``(rank, world_size)``; start the process group from torchrun's variables."""
    started_here = False
    if (
        dist.is_available()
        and not dist.is_initialized()
        and int(os.environ.get("WORLD_SIZE", "1")) > 1
    ):
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        started_here = True
    try:
        if dist.is_available() and dist.is_initialized():
            yield dist.get_rank(), dist.get_world_size()
        else:
            yield 0, 1
    finally:
        if started_here:
            dist.destroy_process_group()


def _seed_worker(worker_id: int) -> None:
    # torch seeds each worker differently; python and NumPy need the same treatment
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (third-party transforms use the legacy global)


def _default_workers(device: torch.device, world_size: int) -> int:
    if device.type != "cuda":
        return 0
    return max(1, min(8, (os.cpu_count() or 1) // max(1, world_size)))


def _batch_inputs(batch: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(batch, list | tuple):
        return batch[0], (batch[1] if len(batch) > 1 else None)
    return batch, None


def _shared_seed(random_state: int | None, world_size: int, device: torch.device) -> int:
    """The shuffling seed; drawn by rank 0 and shared when no random_state is given."""
    if random_state is not None:
        return int(random_state)
    seed = torch.randint(0, 2**31 - 1, (1,)).to(device)  # NCCL broadcasts device tensors
    if world_size > 1:
        dist.broadcast(seed, src=0)  # every shard must come from the same permutation
    return int(seed.item())


_SCHEDULES = (None, "constant", "onecycle")
_MONITORS = ("val_loss", "train_loss")


def _check_fit_args(
    epochs: int, batch_size: int, lr: float, lr_schedule: str | None, monitor: str = "val_loss"
) -> None:
    if lr_schedule not in _SCHEDULES:
        raise ValueError(
            f"lr_schedule={lr_schedule!r} is not supported; use None, 'constant' or 'onecycle'."
        )
    if monitor not in _MONITORS:
        raise ValueError(f"monitor={monitor!r} is not supported; use 'val_loss' or 'train_loss'.")
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs={epochs!r} must be a positive integer.")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r} must be a positive integer.")
    if not lr > 0:
        raise ValueError(f"lr={lr!r} must be positive.")


class _Trainer:
    """State of one training run; split out so each step is a small method."""

    def __init__(
        self,
        model: nn.Module,
        device: torch.device,
        rank: int,
        world_size: int,
        *,
        amp: bool,
        channels_last: bool,
    ) -> None:
        self.device = device
        self.rank = rank
        self.world_size = world_size
        self.channels_last = channels_last
        use_bf16 = amp and device.type == "cuda" and torch.cuda.is_bf16_supported()
        self.autocast_kwargs: dict[str, Any] = {
            "device_type": device.type,
            "dtype": torch.bfloat16,
            "enabled": use_bf16,
        }
        model.to(device)
        if channels_last:
            model.to(memory_format=torch.channels_last)
        self.model = model
        self.net: nn.Module = model
        if world_size > 1:
            ids = [device.index] if device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(model, device_ids=ids)
        self.criterion = nn.CrossEntropyLoss(reduction="sum")

    def _to_device(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def _sum(self, loss_sum: torch.Tensor, count: int) -> float:
        totals = torch.stack(
            [loss_sum.detach().float(), torch.tensor(float(count), device=loss_sum.device)]
        )
        if self.world_size > 1:
            dist.all_reduce(totals)
        return float(totals[0] / totals[1]) if totals[1] > 0 else math.nan

    def train_epoch(
        self,
        loader: DataLoader,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    ) -> float:
        self.net.train()
        loss_sum = torch.zeros((), device=self.device)
        count = 0
        for batch in loader:
            x, y = _batch_inputs(batch)
            x, y = self._to_device(x), y.to(self.device, non_blocking=True)  # type: ignore[union-attr]
            with torch.autocast(**self.autocast_kwargs):
                loss = self.criterion(self.net(x), y)
            optimizer.zero_grad(set_to_none=True)
            (loss / len(y)).backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()  # one-cycle schedules move every step
            loss_sum += loss.detach().float()  # stays on the device: no sync per step
            count += len(y)
        if self.world_size > 1:
            # DDP syncs buffers at the *start* of each forward, so after the last step the
            # BatchNorm statistics differ per rank; take rank 0's, so all ranks hold one model.
            for buffer in self.model.buffers():
                dist.broadcast(buffer, src=0)
        return self._sum(loss_sum, count)

    @torch.no_grad()
    def evaluate(self, loader: DataLoader) -> float:
        self.model.eval()
        loss_sum = torch.zeros((), device=self.device)
        count = 0
        for batch in loader:
            x, y = _batch_inputs(batch)
            x, y = self._to_device(x), y.to(self.device, non_blocking=True)  # type: ignore[union-attr]
            with torch.autocast(**self.autocast_kwargs):
                logits = self.model(x)  # no DDP wrapper: each rank scores its own shard
            loss_sum += self.criterion(logits.float(), y)
            count += len(y)
        return self._sum(loss_sum, count)


def _loaders(
    train: Dataset,
    val: Dataset | None,
    *,
    batch_size: int,
    num_workers: int,
    pin_memory: bool,
    epochs: int,
    rank: int,
    world_size: int,
    seed: int,
) -> tuple[DataLoader, DataLoader | None, DistributedSampler | None]:
    common: dict[str, Any] = {
        "batch_size": batch_size,
        "num_workers": num_workers,
        "pin_memory": pin_memory,
        "worker_init_fn": _seed_worker,
        "persistent_workers": num_workers > 0 and epochs > 1,
    }
    n_train = len(train)  # type: ignore[arg-type]
    per_rank = math.ceil(n_train / world_size)
    # A final batch of one sample breaks BatchNorm in training mode; drop only that case.
    drop_last = per_rank % batch_size == 1 and per_rank > 1
    sampler: DistributedSampler | None = None
    if world_size > 1:
        sampler = DistributedSampler(
            train, num_replicas=world_size, rank=rank, shuffle=True, seed=seed
        )
        train_loader = DataLoader(train, sampler=sampler, drop_last=drop_last, **common)
    else:
        generator = torch.Generator().manual_seed(seed)
        train_loader = DataLoader(
            train, shuffle=True, generator=generator, drop_last=drop_last, **common
        )
    val_loader = None
    if val is not None:
        # shard without padding so the summed validation loss counts every sample once
        shard = Subset(val, range(rank, len(val), world_size))  # type: ignore[arg-type]
        val_loader = DataLoader(shard, shuffle=False, **common)
    return train_loader, val_loader, sampler


def fit_classifier(
    model: nn.Module,
    train: Dataset,
    val: Dataset | None = None,
    *,
    epochs: int = 100,
    batch_size: int = 32,
    lr: float = 1e-4,
    betas: tuple[float, float] = (0.9, 0.999),
    weight_decay: float = 0.0,
    device: str | torch.device = "auto",
    amp: bool = True,
    channels_last: bool | None = None,
    num_workers: int | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
    lr_schedule: str | None = None,
    monitor: str = "val_loss",
    random_state: int | None = None,
    verbose: int = 0,
) -> FitResult:
    """Train a classifier as in the paper and keep the weights with the lowest validation loss.

    Adam (``lr=1e-4``, ``betas=(0.9, 0.999)``), cross-entropy, batch size 32, 100 epochs;
    after every epoch the validation loss is computed and the best weights are kept (and
    written to ``checkpoint``). Speed: bf16 autocast and channels-last memory on CUDA,
    pinned memory and worker processes for the DataLoader, no host-device sync inside an
    epoch. Under ``torchrun --nproc_per_node=N`` (several GPUs or machines) it runs with
    DistributedDataParallel unchanged: the process group starts from torchrun's
    environment (NCCL on GPUs, gloo on CPUs), each process trains on its
    DistributedSampler shard, the validation loss is summed over all processes, and only
    rank 0 writes the checkpoint and shows progress.

    Parameters
    ----------
    model : torch.nn.Module
        Maps a batch of images to logits (e.g. :func:`resnet50_classifier`). Moved to
        ``device`` and trained in place.
    train, val : Dataset
        Items ``(image, label)`` with integer labels (e.g. from :func:`split_datasets`).
        Without ``val`` the last epoch's weights are kept.
    epochs, batch_size, lr, betas, weight_decay
        Optimisation settings (paper: 100, 32, 1e-4, (0.9, 0.999), 0). ``batch_size`` is
        per process under torchrun.
    device : {"auto", "cpu", "cuda", ...} or torch.device, default="auto"
    amp : bool, default=True
        bf16 autocast on CUDA (ignored on other devices).
    channels_last : bool, optional
        Channels-last memory format; default: on for CUDA.
    num_workers : int, optional
        DataLoader worker processes; default 0 on the CPU, ``min(8, cpus / processes)``
        on CUDA.
    checkpoint : path-like, optional
        File for the best weights: ``{"model", "epoch", "val_loss", "optimizer"}``, loadable
        with ``torch.load(path, weights_only=True)``. Beside it, ``<checkpoint>.last`` holds
        the state after the latest epoch (weights, optimizer, schedule, random generators,
        history, best weights so far), rewritten after every epoch, for ``resume``.
    resume : bool, default=False
        Continue from ``<checkpoint>.last`` when it exists (after a crash or a time
        limit): training goes on from the epoch after the saved one, with the same
        shuffling and dropout streams, so on a CPU the result equals an uninterrupted
        run's. Needs ``checkpoint``; the saved run must have the same ``epochs``,
        ``lr_schedule`` and ``monitor``.
    lr_schedule : {None, "constant", "onecycle"}, default=None
        None or ``"constant"``: ``lr`` throughout (the paper). ``"onecycle"``: warm up
        to ``lr`` over the first 30% of the steps, then anneal to ``lr / 10**4``
        (``torch.optim.lr_scheduler.OneCycleLR``); a small network trained from scratch
        fits its training data in far fewer epochs this way. The best epoch is then
        picked among the epochs after the warm-up: during it the network has barely
        trained, and when the validation data share little with the training data
        (other patients) a near-untrained model that answers 50/50 can have the lowest
        validation loss of all.
    monitor : {"val_loss", "train_loss"}, default="val_loss"
        The loss whose lowest epoch's weights are kept (Keras' ``monitor``). The
        paper (Appendix B) says only "the model with the lowest loss was selected";
        the validation loss, the default, keeps the weights that do best on ``val``. The
        training loss keeps the weights that fit the training data best (the validation
        loss is still computed and recorded): with a small network trained from scratch
        and validation data from other patients, the validation loss can rise from the
        first epoch on, so it keeps weights that have not fitted their own training data.
    random_state : int, optional
        Seeds model-independent randomness (shuffling, dropout, augmentation, workers) for
        the run; the caller's random generators are restored afterwards. Seed the model's
        initialisation yourself (e.g. ``torch.manual_seed`` before building it).
    verbose : int, default=0
        Quiet by default, as in scikit-learn; ``verbose=1`` (or True) shows a tqdm
        progress bar with the losses (rank 0 only).

    Returns
    -------
    FitResult

    Examples
    --------
    >>> import torch
    >>> from torch.utils.data import TensorDataset
    >>> from pitfalls.torch import fit_classifier, small_cnn
    >>> x, y = torch.rand(8, 1, 8, 8), torch.tensor([0, 1] * 4)
    >>> data = TensorDataset(x, y)
    >>> result = fit_classifier(small_cnn(2, in_channels=1), data, data, epochs=2,
    ...                         batch_size=4, device="cpu", random_state=0, verbose=False)
    >>> list(result.history.columns), len(result.history)
    (['epoch', 'train_loss', 'val_loss'], 2)
    """
    _check_fit_args(epochs, batch_size, lr, lr_schedule, monitor)
    target = resolve_device(device)
    if channels_last is None:
        channels_last = target.type == "cuda"
    if target.type == "cuda":
        torch.cuda.set_device(target)
    randomness = contextlib.nullcontext() if random_state is None else seeded(random_state)
    with _process_group(target) as (rank, world_size), randomness:
        seed = _shared_seed(random_state, world_size, target)
        workers = _default_workers(target, world_size) if num_workers is None else num_workers
        trainer = _Trainer(model, target, rank, world_size, amp=amp, channels_last=channels_last)
        train_loader, val_loader, sampler = _loaders(
            train,
            val,
            batch_size=batch_size,
            num_workers=workers,
            pin_memory=target.type == "cuda",
            epochs=epochs,
            rank=rank,
            world_size=world_size,
            seed=seed,
        )
        optimizer = torch.optim.Adam(
            trainer.net.parameters(), lr=lr, betas=betas, weight_decay=weight_decay
        )
        scheduler = None
        if lr_schedule == "onecycle":
            scheduler = torch.optim.lr_scheduler.OneCycleLR(
                optimizer, max_lr=lr, total_steps=epochs * max(1, len(train_loader))
            )
        run = _Run(
            trainer, optimizer, scheduler, train_loader, val_loader, sampler, epochs,
            checkpoint, str(lr_schedule or "constant"), monitor,
        )  # fmt: skip
        if resume:
            run.resume()
        return run.fit(verbose)


def _generators(loader: DataLoader) -> dict[str, Any]:
    """Every random stream an epoch draws from: shuffling, dropout/augmentation, NumPy, random."""
    generator = getattr(loader, "generator", None)
    return {
        "loader": None if generator is None else generator.get_state(),
        "torch": torch.get_rng_state(),
        "numpy": np.random.get_state(),  # noqa: NPY002 (third-party transforms use it)
        "python": random.getstate(),
    }


def _restore_generators(loader: DataLoader, state: dict[str, Any]) -> None:
    generator = getattr(loader, "generator", None)
    if generator is not None and state["loader"] is not None:
        generator.set_state(state["loader"])
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    random.setstate(state["python"])


class _Run:
    """The epochs of one fit: train, validate, keep the best weights, write checkpoints."""

    def __init__(
        self,
        trainer: _Trainer,
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None,
        train_loader: DataLoader,
        val_loader: DataLoader | None,
        sampler: DistributedSampler | None,
        epochs: int,
        checkpoint: str | os.PathLike[str] | None,
        schedule_name: str,
        monitor: str = "val_loss",
    ) -> None:
        self.trainer, self.optimizer, self.scheduler = trainer, optimizer, scheduler
        self.train_loader, self.val_loader, self.sampler = train_loader, val_loader, sampler
        self.epochs, self.checkpoint, self.schedule_name = epochs, checkpoint, schedule_name
        self.monitor = monitor
        self.history: list[dict[str, float]] = []
        # best_score: the monitored loss of the kept epoch; best_loss: its validation loss
        self.best_score, self.best_loss, self.best_epoch = math.inf, math.nan, -1
        self.best_state: dict[str, torch.Tensor] | None = None
        self.start = 0
        # one cycle: choose among the epochs after the warm-up (30% of the steps)
        self.select_from = min(int(0.3 * epochs), epochs - 1) if scheduler is not None else 0

    @property
    def last_path(self) -> Path | None:
        return None if self.checkpoint is None else Path(f"{os.fspath(self.checkpoint)}.last")

    def resume(self) -> None:
        """Load ``<checkpoint>.last`` if it exists; refuse one from a different run."""
        if self.last_path is None:
            raise ValueError("resume=True needs checkpoint=<path> to resume from.")
        if not self.last_path.exists():
            return
        saved = torch.load(self.last_path, weights_only=False)  # our own file: RNG states
        saved_monitor = saved.get("monitor", "val_loss")  # files from before monitor=
        if (saved["epochs"], saved["lr_schedule"], saved_monitor) != (
            self.epochs,
            self.schedule_name,
            self.monitor,
        ):
            raise ValueError(
                f"{str(self.last_path)!r} was written by a run with epochs={saved['epochs']}, "
                f"lr_schedule={saved['lr_schedule']!r} and monitor={saved_monitor!r}, not "
                f"epochs={self.epochs}, lr_schedule={self.schedule_name!r} and "
                f"monitor={self.monitor!r}; use the same settings or delete it."
            )
        self.trainer.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(saved["scheduler"])
        self.history = list(saved["history"])
        self.best_loss, self.best_epoch = saved["best_val_loss"], saved["best_epoch"]
        self.best_score = saved.get("best_score", self.best_loss)
        self.best_state = saved["best_model"]
        self.start = int(saved["epoch"]) + 1
        _restore_generators(self.train_loader, saved["generators"])

    def _save_last(self, epoch: int) -> None:
        path = self.last_path
        if path is None or self.trainer.rank != 0:
            return
        payload = {
            "model": {k: v.detach().cpu() for k, v in self.trainer.model.state_dict().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "epoch": epoch,
            "epochs": self.epochs,
            "lr_schedule": self.schedule_name,
            "monitor": self.monitor,
            "history": self.history,
            "best_model": self.best_state,
            "best_epoch": self.best_epoch,
            "best_val_loss": self.best_loss,
            "best_score": self.best_score,
            "generators": _generators(self.train_loader),
        }
        _atomic_save(payload, path)

    def _epoch(self, epoch: int) -> None:
        trainer = self.trainer
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)
        train_loss = trainer.train_epoch(self.train_loader, self.optimizer, self.scheduler)
        val_loss = math.nan if self.val_loader is None else trainer.evaluate(self.val_loader)
        self.history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss})
        eligible = epoch >= self.select_from
        score = train_loss if self.monitor == "train_loss" else val_loss
        keep_last = self.monitor == "val_loss" and self.val_loader is None
        if eligible and (keep_last or score < self.best_score):
            self.best_score, self.best_loss, self.best_epoch = score, val_loss, epoch
            self.best_state = {
                k: v.detach().to("cpu", copy=True) for k, v in trainer.model.state_dict().items()
            }
            if self.checkpoint is not None and trainer.rank == 0:
                _save_checkpoint(self.checkpoint, self.best_state, epoch, val_loss, self.optimizer)
        self._save_last(epoch)

    def fit(self, verbose: int) -> FitResult:
        bar = tqdm(
            range(self.start, self.epochs),
            disable=not verbose or self.trainer.rank != 0,
            desc="epochs",
            initial=self.start,
            total=self.epochs,
        )
        for epoch in bar:
            self._epoch(epoch)
            last = self.history[-1]
            bar.set_postfix(
                train_loss=f"{last['train_loss']:.4f}", val_loss=f"{last['val_loss']:.4f}"
            )
        bar.close()
        if self.best_state is None:  # every monitored loss was NaN
            which = "training" if self.monitor == "train_loss" else "validation"
            raise ValueError(
                f"the {which} loss was NaN at every epoch; check the {which} labels and "
                "inputs (or lower lr)."
            )
        self.trainer.model.load_state_dict(self.best_state)
        return FitResult(
            self.trainer.model,
            pd.DataFrame(self.history, columns=["epoch", "train_loss", "val_loss"]),
            self.best_epoch,
            self.best_loss,
        )


def _save_checkpoint(
    path: str | os.PathLike[str],
    state: dict[str, torch.Tensor],
    epoch: int,
    val_loss: float,
    optimizer: torch.optim.Optimizer,
) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "model": state,
        "epoch": epoch,
        "val_loss": val_loss,
        "optimizer": copy.deepcopy(optimizer.state_dict()),
    }
    _atomic_save(payload, path)


def _atomic_save(payload: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)  # atomic: a crash never leaves a half-written checkpoint


@torch.inference_mode()
def predict(
    model: nn.Module,
    dataset: Dataset | torch.Tensor | Sequence[Any],
    *,
    batch_size: int = 64,
    device: str | torch.device = "auto",
    amp: bool = True,
    num_workers: int = 0,
) -> np.ndarray:
    """Class probabilities (softmax of the logits) for every item of a dataset.

    Parameters
    ----------
    model : torch.nn.Module
        Put in evaluation mode and moved to ``device``.
    dataset : Dataset or Tensor
        Items ``(image, label)`` or images alone; a tensor ``N x C x H x W`` is a batch of
        images.
    batch_size : int, default=64
    device : str or torch.device, default="auto"
    amp : bool, default=True
        bf16 autocast on CUDA; probabilities are computed in float32.
    num_workers : int, default=0

    Returns
    -------
    ndarray of shape (n_items, n_classes)
        Rows sum to one.

    Examples
    --------
    >>> import torch
    >>> from pitfalls.torch import predict, small_cnn
    >>> proba = predict(small_cnn(3, in_channels=1), torch.rand(5, 1, 8, 8), device="cpu")
    >>> proba.shape, bool(abs(proba.sum(axis=1) - 1).max() < 1e-5)
    ((5, 3), True)
    """
    target = resolve_device(device)
    model.to(target).eval()
    use_bf16 = amp and target.type == "cuda" and torch.cuda.is_bf16_supported()
    loader = DataLoader(
        dataset,  # type: ignore[arg-type]
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        pin_memory=target.type == "cuda",
    )
    chunks = []
    for batch in loader:
        x, _ = _batch_inputs(batch)
        x = x.to(target, non_blocking=True)
        if target.type == "cuda" and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)  # as fit_classifier trains
        with torch.autocast(device_type=target.type, dtype=torch.bfloat16, enabled=use_bf16):
            logits = model(x)
        chunks.append(torch.softmax(logits.float(), dim=1).cpu())
    return torch.cat(chunks).numpy()
