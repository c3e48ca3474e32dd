"""The training benchmark's own pieces: device-side crop/flip and decoding (no timing)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
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


def test_decode_matches_pillow_and_writes_images(bench, tmp_path):
    paths, mean_bytes = bench.write_images(tmp_path, 3, 32, "png")
    assert len(paths) == 3 and mean_bytes > 0
    decoded = bench.decode(paths[0])
    with Image.open(paths[0]) as img:
        expected = torch.from_numpy(np.array(img.convert("RGB"))).permute(2, 0, 1)
    torch.testing.assert_close(decoded, expected)


def test_device_preprocess_normalises_to_imagenet_statistics(bench):
    prepare = bench.DevicePreprocess(torch.device("cpu"), 8, augment=False, channels_last=False)
    batch = torch.full((1, 3, 8, 8), 255, dtype=torch.uint8)
    out = prepare(batch)
    expected = (1 - torch.tensor(bench.MEAN)) / torch.tensor(bench.STD)
    torch.testing.assert_close(out[0, :, 0, 0], expected)
