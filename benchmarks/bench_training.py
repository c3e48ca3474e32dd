"""ResNet-50 training throughput: the real image data path against synthetic on-device tensors.

Both runs train the same model the way :func:`pitfalls.torch.fit_classifier` does (Adam,
cross-entropy, bf16 autocast and channels-last memory on CUDA, pinned memory, no
host-device sync inside the loop), in the same process:

* **synthetic**: random tensors already on the device, the upper bound set by the model;
* **real**: JPEG (or PNG) files written by this script into a temporary directory, read and
  decoded by DataLoader workers, augmented (random resized crop + horizontal flip), then
  copied to the device as ``uint8`` through pinned memory and normalised there. With
  ``--gpu-augment`` the workers only decode, and the crop/flip run batched on the device
  (``torchvision.ops.roi_align``), for machines whose CPUs cannot keep up.

It also times the data loader alone (no training), which says whether the CPU side is the
bottleneck. The figure of merit is ``real / synthetic`` (goal: at least 0.8).

Only torch, torchvision, numpy and Pillow are imported, so it runs without installing
pitfalls. The model mirrors :func:`pitfalls.torch.resnet50_classifier` (ResNet-50 with
dropout before a new 2-class layer), randomly initialised (throughput does not depend on
the weights).

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
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler
from torchvision.transforms import v2

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


def decode(path: Path) -> torch.Tensor:
    """File -> uint8 tensor C x H x W (libjpeg-turbo via torchvision; Pillow as fallback)."""
    data = torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8)
    try:
        with warnings.catch_warnings():  # torchvision >= 0.29 deprecates it in favour of torchcodec
            warnings.filterwarnings("ignore", "The image decoding", DeprecationWarning)
            return torchvision.io.decode_image(data, mode=torchvision.io.ImageReadMode.RGB)
    except (RuntimeError, AttributeError):
        with Image.open(path) as img:
            return torch.from_numpy(np.array(img.convert("RGB"))).permute(2, 0, 1).contiguous()


class FileImages(Dataset):
    """Decode (and, unless augmentation runs on the device, augment) one image per item."""

    def __init__(self, paths: list[Path], transform: nn.Module | None) -> None:
        self.paths = paths
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = decode(self.paths[index])
        if self.transform is not None:
            image = self.transform(image)
        return image, index % 2


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


class DevicePreprocess:
    """uint8 batch on the device -> normalised float (optionally augmented), channels-last."""

    def __init__(self, device: torch.device, size: int, augment: bool, channels_last: bool) -> None:
        self.mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(STD, device=device).view(1, 3, 1, 1) * 255
        self.size, self.augment, self.channels_last = size, augment, channels_last
        self.generator = torch.Generator(device=device).manual_seed(0)

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch.float()
        if self.augment:
            x = random_resized_crop_flip(x, self.size, self.generator)
        x = (x - self.mean) / self.std
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x


# ---------------------------------------------------------------- model and step


def build_model(device: torch.device, channels_last: bool, compile_model: bool) -> nn.Module:
    model = torchvision.models.resnet50(weights=None)
    model.fc = nn.Sequential(nn.Dropout(0.5), nn.Linear(model.fc.in_features, 2))
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return torch.compile(model) if compile_model else model  # type: ignore[return-value]


class Trainer:
    def __init__(self, model: nn.Module, device: torch.device, amp: bool) -> None:
        self.model = model
        self.optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.999))
        self.criterion = nn.CrossEntropyLoss()
        self.autocast = {"device_type": device.type, "dtype": torch.bfloat16, "enabled": amp}

    def step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        with torch.autocast(**self.autocast):
            loss = self.criterion(self.model(x), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_synthetic(trainer: Trainer, args: argparse.Namespace, device: torch.device) -> float:
    shape = (args.batch_size, 3, args.image_size, args.image_size)
    x = torch.randn(shape, device=device)
    if args.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 2, (args.batch_size,), device=device)
    for _ in range(args.warmup):
        trainer.step(x, y)
    _sync(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        trainer.step(x, y)
    _sync(device)
    return args.steps * args.batch_size / (time.perf_counter() - start)


def make_loader(paths: list[Path], args: argparse.Namespace, device: torch.device) -> DataLoader:
    if args.gpu_augment:
        transform = None  # workers only decode; all files have the same size, so they stack
    else:
        transform = v2.Compose(
            [v2.RandomResizedCrop(args.image_size, antialias=True), v2.RandomHorizontalFlip()]
        )
    dataset = FileImages(paths, transform)
    total = (args.warmup + args.steps) * args.batch_size
    sampler = RandomSampler(dataset, num_samples=total, generator=torch.Generator().manual_seed(0))
    return DataLoader(
        dataset,
        batch_size=args.batch_size,
        sampler=sampler,
        num_workers=args.num_workers,
        pin_memory=device.type == "cuda",
        drop_last=True,
        prefetch_factor=4 if args.num_workers > 0 else None,
        persistent_workers=False,
    )


def bench_loader(
    paths: list[Path], args: argparse.Namespace, device: torch.device, trainer: Trainer | None
) -> float:
    """img/s through the real data path; with ``trainer=None`` the loader alone."""
    prepare = DevicePreprocess(device, args.image_size, args.gpu_augment, args.channels_last)
    start = 0.0
    for step, (images, labels) in enumerate(make_loader(paths, args, device)):
        x = prepare(images.to(device, non_blocking=True))
        y = labels.to(device, non_blocking=True)
        if trainer is not None:
            trainer.step(x, y)
        if step == args.warmup - 1:  # the clock covers fetching *and* processing `steps` batches
            _sync(device)
            start = time.perf_counter()
    _sync(device)
    return args.steps * args.batch_size / (time.perf_counter() - start)


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
        trainer = Trainer(build_model(device, args.channels_last, args.compile), device, args.amp)
        synthetic = bench_synthetic(trainer, args, device)
        print(f"synthetic on-device tensors : {synthetic:9.1f} img/s")
        loader_only = bench_loader(paths, args, device, trainer=None)
        print(f"data path alone (no model)  : {loader_only:9.1f} img/s")
        real = bench_loader(paths, args, device, trainer=trainer)
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
