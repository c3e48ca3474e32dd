"""The training benchmark's own pieces: device-side crop/flip, the library data path (no timing)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
# Tiny tensors on 2 shared cores: one intra-op thread avoids spin-wait contention (10x).
torch.set_num_threads(1)
pytest.importorskip("torchvision")

from PIL import Image  # noqa: E402

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_training.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_training", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_device_crop_flip_gives_resized_crops_of_the_image(bench):
    columns = torch.arange(64, dtype=torch.float32).expand(4, 3, 48, 64).contiguous()
    generator = torch.Generator().manual_seed(0)
    crops = bench.random_resized_crop_flip(columns, 16, generator)
    assert crops.shape == (4, 3, 16, 16)
    assert crops.min() >= 0 and crops.max() <= 63
    steps = crops[:, 0, 8].diff(dim=1)  # one row: monotone, rising unless flipped
    assert ((steps >= 0).all(dim=1) | (steps <= 0).all(dim=1)).all()
    again = bench.random_resized_crop_flip(columns, 16, torch.Generator().manual_seed(0))
    torch.testing.assert_close(crops, again)


# One step of batch 2 at 16 px after one warm-up step, on the CPU.
TINY = [
    "--device",
    "cpu",
    "--image-size",
    "16",
    "--batch-size",
    "2",
    "--steps",
    "1",
    "--warmup",
    "1",
]


def test_library_loader_reads_written_files_through_the_manifest(bench, tmp_path):
    paths, mean_bytes = bench.write_images(tmp_path, 3, 32, "png")
    assert len(paths) == 3 and mean_bytes > 0
    args = bench.parse_args([*TINY, "--num-workers", "0", "--file-size", "32"])
    batches = list(bench.make_loader(paths, args, torch.device("cpu")))
    assert len(batches) == 2  # (warmup + steps) batches of batch_size rows
    images, labels = batches[0]
    assert images.shape == (2, 3, 16, 16) and images.dtype == torch.float32
    assert sorted(labels.tolist()) == [0, 1]
    with Image.open(paths[0]) as img:
        assert img.size == (32, 32)


def test_synthetic_step_runs_the_library_trainer(bench):
    args = bench.parse_args(TINY)
    trainer, optimizer = bench.make_trainer(args, torch.device("cpu"))
    assert bench.bench_synthetic(trainer, optimizer, args, torch.device("cpu")) > 0
