"""ResNet-50 training throughput: the library's image data path against on-device tensors.

Both measurements run :func:`pitfalls.torch.resnet50_classifier` through the training step
that :func:`pitfalls.torch.fit_classifier` runs each epoch (``_Trainer.train_epoch``: Adam,
cross-entropy, bf16 autocast and channels-last memory on CUDA, no host-device sync inside
the epoch), in the same process:

* **synthetic**: random tensors already on the device, the upper bound set by the model;
* **real**: JPEG (or PNG) files written by this script into a temporary directory, listed
  in a manifest and read by :class:`pitfalls.torch.ManifestImageDataset` in DataLoader
  workers built exactly as ``fit_classifier`` builds them (pinned memory), augmented there
  by torchvision (random resized crop + horizontal flip). With ``--gpu-augment`` the
  workers only decode, and the crop/flip run batched on the device
  (``torchvision.ops.roi_align``), for machines whose CPUs cannot keep up.

It also times the data loader alone (no training), which says whether the CPU side is the
bottleneck. The figure of merit is ``real / synthetic`` (goal: at least 0.8).

Run from a checkout without installing: ``PYTHONPATH=src python benchmarks/bench_training.py``
(needs torch, torchvision, numpy, pandas, Pillow, scikit-learn).

Examples::

    python benchmarks/bench_training.py                          # GPU: 224 px, batch 256
    python benchmarks/bench_training.py --compile --gpu-augment
    python benchmarks/bench_training.py --device cpu --image-size 64 --batch-size 8 --steps 3
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torchvision
from PIL import Image
from torchvision.transforms import v2

from pitfalls.torch import ManifestImageDataset, resnet50_classifier
from pitfalls.torch._training import _loaders, _Trainer

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


# ---------------------------------------------------------------- images on disk


def _write_image(args: tuple[int, str, int, str]) -> int:
    """One smooth random image with texture (JPEG-sized like a real photo), saved to disk."""
    index, directory, size, fmt = args
    rng = np.random.default_rng(index)
    coarse = Image.fromarray(rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8))
    smooth = np.asarray(coarse.resize((size, size), Image.Resampling.BICUBIC), dtype=np.int16)
    noisy = np.clip(smooth + rng.integers(-12, 13, size=smooth.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    if fmt == "jpeg":
        Image.fromarray(noisy).save(buffer, format="JPEG", quality=90)
    else:
        Image.fromarray(noisy).save(buffer, format="PNG")
    path = Path(directory) / f"img{index:05d}.{'jpg' if fmt == 'jpeg' else 'png'}"
    path.write_bytes(buffer.getvalue())
    return len(buffer.getvalue())


def write_images(directory: Path, n_files: int, size: int, fmt: str) -> tuple[list[Path], float]:
    jobs = [(i, str(directory), size, fmt) for i in range(n_files)]
    workers = max(1, min(16, os.cpu_count() or 1))
    if n_files < 256 or workers == 1:  # a process pool is not worth starting
        sizes = [_write_image(job) for job in jobs]
    else:
        with ProcessPoolExecutor(workers) as pool:
            sizes = list(pool.map(_write_image, jobs, chunksize=32))
    return sorted(directory.iterdir()), float(np.mean(sizes))


# ---------------------------------------------------------------- data path


def file_manifest(paths: list[Path], n_rows: int) -> pd.DataFrame:
    """A manifest that cycles over the written files (labels alternate)."""
    rows = [paths[i % len(paths)] for i in range(n_rows)]
    return pd.DataFrame({"path": [str(p) for p in rows], "label": np.arange(n_rows) % 2})


def random_resized_crop_flip(
    batch: torch.Tensor, size: int, generator: torch.Generator
) -> torch.Tensor:
    """Batched RandomResizedCrop(scale=(0.08, 1), ratio=(3/4, 4/3)) + horizontal flip on device."""
    n, _, height, width = batch.shape
    device = batch.device
    area = height * width * torch.empty(n, device=device).uniform_(0.08, 1.0, generator=generator)
    log_ratio = torch.empty(n, device=device).uniform_(
        math.log(3 / 4), math.log(4 / 3), generator=generator
    )
    ratio = torch.exp(log_ratio)
    crop_w = torch.sqrt(area * ratio).clamp(8, width)
    crop_h = torch.sqrt(area / ratio).clamp(8, height)
    x0 = torch.rand(n, device=device, generator=generator) * (width - crop_w)
    y0 = torch.rand(n, device=device, generator=generator) * (height - crop_h)
    boxes = torch.stack(
        [torch.arange(n, device=device, dtype=torch.float32), x0, y0, x0 + crop_w, y0 + crop_h],
        dim=1,
    )
    crops = torchvision.ops.roi_align(
        batch, boxes, output_size=size, sampling_ratio=2, aligned=True
    )
    flip = torch.rand(n, device=device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], crops.flip(-1), crops)


class ClockedBatches:
    """Iterate a loader, start the clock once ``warmup`` batches have been consumed.

    With ``device_augment`` the batch is moved to the device here and cropped/flipped
    there (the trainer's own move is then a no-op).
    """

    def __init__(self, loader: Any, warmup: int, device: torch.device, device_augment: Any) -> None:
        self.loader, self.warmup, self.device = loader, warmup, device
        self.device_augment = device_augment
        self.start = math.nan
        self.timed_batches = 0

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for step, (images, labels) in enumerate(self.loader):
            if step == self.warmup:
                _sync(self.device)
                self.start = time.perf_counter()
            if step >= self.warmup:
                self.timed_batches += 1
            if self.device_augment is not None:
                images = self.device_augment(images.to(self.device, non_blocking=True))
            yield images, labels


# ---------------------------------------------------------------- model and step


def make_trainer(args: argparse.Namespace, device: torch.device) -> tuple[Any, Any]:
    """The library's model and training step (what fit_classifier runs per epoch)."""
    model = resnet50_classifier(num_classes=2)
    trainer = _Trainer(model, device, 0, 1, amp=args.amp, channels_last=args.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.999))
    if args.compile:
        trainer.net = torch.compile(trainer.net)  # type: ignore[assignment]
        trainer.model = trainer.net
    return trainer, optimizer


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_epoch(trainer: Any, optimizer: Any, batches: ClockedBatches, batch_size: int) -> float:
    """img/s over the batches after the warm-up, through ``_Trainer.train_epoch``."""
    trainer.train_epoch(batches, optimizer)  # returns a float: the device is synced
    _sync(batches.device)
    return batches.timed_batches * batch_size / (time.perf_counter() - batches.start)


def bench_synthetic(
    trainer: Any, optimizer: Any, args: argparse.Namespace, device: torch.device
) -> float:
    shape = (args.batch_size, 3, args.image_size, args.image_size)
    x = torch.rand(shape, device=device)
    y = torch.randint(0, 2, (args.batch_size,), device=device)
    batches = [(x, y)] * (args.warmup + args.steps)
    return timed_epoch(
        trainer, optimizer, ClockedBatches(batches, args.warmup, device, None), args.batch_size
    )


def make_loader(paths: list[Path], args: argparse.Namespace, device: torch.device) -> Any:
    """The library's data path: ManifestImageDataset in DataLoader workers, as fit_classifier builds it."""
    if args.gpu_augment:
        transform = None  # workers only decode; all files have the same size, so they stack
    else:
        transform = v2.Compose(
            [v2.RandomResizedCrop(args.image_size, antialias=True), v2.RandomHorizontalFlip()]
        )
    n_rows = (args.warmup + args.steps) * args.batch_size
    dataset = ManifestImageDataset(
        file_manifest(paths, n_rows), image="path", label="label", transform=transform, mode="RGB"
    )
    loader, _, _ = _loaders(
        dataset,
        None,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        pin_memory=device.type == "cuda",
        epochs=1,
        rank=0,
        world_size=1,
        seed=0,
    )
    return loader


def bench_loader(
    paths: list[Path], args: argparse.Namespace, device: torch.device, trainer: Any, optimizer: Any
) -> float:
    """img/s through the real data path; with ``trainer=None`` the loader alone."""
    augment = None
    if args.gpu_augment:
        generator = torch.Generator(device=device).manual_seed(0)
        augment = lambda batch: random_resized_crop_flip(batch, args.image_size, generator)  # noqa: E731
    batches = ClockedBatches(make_loader(paths, args, device), args.warmup, device, augment)
    if trainer is None:
        for _ in batches:
            pass
        _sync(device)
        return batches.timed_batches * args.batch_size / (time.perf_counter() - batches.start)
    return timed_epoch(trainer, optimizer, batches, args.batch_size)


# ---------------------------------------------------------------- command line


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=50, help="timed steps per measurement")
    parser.add_argument(
        "--warmup", type=int, default=None, help="untimed steps (default 10 on CUDA, 2 otherwise)"
    )
    parser.add_argument(
        "--num-workers", type=int, default=None, help="default: CPUs - 1, at most 16"
    )
    parser.add_argument(
        "--n-files", type=int, default=None, help="images written (default 2000 on CUDA)"
    )
    parser.add_argument("--file-size", type=int, default=256, help="side of the written images")
    parser.add_argument("--format", choices=("jpeg", "png"), default="jpeg")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument(
        "--gpu-augment", action="store_true", help="crop/flip batched on the device"
    )
    parser.add_argument("--no-amp", dest="amp", action="store_false", help="no bf16 autocast")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    args.amp = args.amp and device.type == "cuda"
    args.channels_last = device.type == "cuda"
    if args.warmup is None:
        args.warmup = 10 if device.type == "cuda" else 2
    if args.warmup < 1 or args.steps < 1:
        parser.error("--warmup and --steps must be at least 1.")
    if args.num_workers is None:
        args.num_workers = max(1, min(16, (os.cpu_count() or 2) - 1))
    if args.n_files is None:
        args.n_files = 2000 if device.type == "cuda" else max(64, 4 * args.batch_size)
    if args.file_size < args.image_size:
        parser.error(
            f"--file-size {args.file_size} must be at least --image-size {args.image_size}."
        )
    return args


def main(argv: list[str] | None = None) -> dict[str, float | str]:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        name = torch.cuda.get_device_name(device)
    else:
        name = f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"
    torch.manual_seed(0)
    print(
        f"device: {name} | torch {torch.__version__} | torchvision {torchvision.__version__}\n"
        f"image {args.image_size}px, batch {args.batch_size}, steps {args.steps} (+{args.warmup} warm-up), "
        f"workers {args.num_workers}, bf16 {args.amp}, channels_last {args.channels_last}, "
        f"compile {args.compile}, gpu_augment {args.gpu_augment}"
    )
    with tempfile.TemporaryDirectory(prefix="bench_training_") as tmp:
        start = time.perf_counter()
        paths, mean_bytes = write_images(Path(tmp), args.n_files, args.file_size, args.format)
        print(
            f"wrote {len(paths)} {args.file_size}x{args.file_size} {args.format.upper()} files "
            f"(mean {mean_bytes / 1024:.1f} KiB) in {time.perf_counter() - start:.1f} s"
        )
        trainer, optimizer = make_trainer(args, device)
        synthetic = bench_synthetic(trainer, optimizer, args, device)
        print(f"synthetic on-device tensors : {synthetic:9.1f} img/s")
        loader_only = bench_loader(paths, args, device, None, None)
        print(f"data path alone (no model)  : {loader_only:9.1f} img/s")
        real = bench_loader(paths, args, device, trainer, optimizer)
        print(f"real data path + training   : {real:9.1f} img/s")
    ratio = real / synthetic
    verdict = "meets" if ratio >= 0.8 else "below"
    print(f"ratio real / synthetic      : {ratio:9.3f} ({verdict} the 0.80 goal)")
    if ratio < 0.8 and loader_only < 1.1 * synthetic:
        print("the data path is CPU-bound: try --gpu-augment or more --num-workers")
    result = {
        "device": name,
        "synthetic": synthetic,
        "loader_only": loader_only,
        "real": real,
        "ratio": ratio,
    }
    print(
        "RESULT "
        + json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()})
    )
    return result


if __name__ == "__main__":
    main()
