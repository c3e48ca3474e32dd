"""Models, the training loop (best validation loss, checkpoints, DDP) and the sklearn wrapper."""

from __future__ import annotations

import json
import os
import socket
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
# Tiny tensors on 2 shared cores: one intra-op thread avoids spin-wait contention (10x).
torch.set_num_threads(1)
pytest.importorskip("torchvision")

from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import GroupKFold, cross_val_score  # noqa: E402
from torch.utils.data import TensorDataset  # noqa: E402

from pitfalls.torch import (  # noqa: E402
    TorchImageClassifier,
    fit_classifier,
    load_state_dict,
    predict,
    resnet50_classifier,
    small_cnn,
)


def _toy(n=24, size=8, seed=0):
    """Class 1 images are brighter: learnable in a few epochs by a tiny CNN."""
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.rand(n, 1, size, size, generator=generator) * 0.5 + y[:, None, None, None] * 0.5
    return TensorDataset(x, y)


# ---------------------------------------------------------------- models


def test_small_cnn_shapes_and_dropout_check():
    assert small_cnn(4, in_channels=3, width=4)(torch.zeros(2, 3, 5, 7)).shape == (2, 4)
    with pytest.raises(ValueError, match=r"dropout=1.0 must be in \[0, 1\)"):
        small_cnn(dropout=1.0)


def test_resnet50_head_is_dropout_then_linear():
    model = resnet50_classifier(3, dropout=0.25)
    assert isinstance(model.fc[0], torch.nn.Dropout) and model.fc[0].p == 0.25
    assert (model.fc[1].in_features, model.fc[1].out_features) == (2048, 3)
    model.eval()
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 3)


@pytest.fixture
def tiny_resnet(monkeypatch):
    """Stand a one-block-per-stage ResNet in for ResNet-50: same loading code, 5x fewer weights."""
    import torchvision
    from torchvision.models.resnet import BasicBlock, ResNet

    from pitfalls.torch import _models

    def build(weights=None):
        torch.manual_seed(0)
        return ResNet(BasicBlock, [1, 1, 1, 1])

    fake = type(
        "Models",
        (),
        {"resnet50": staticmethod(build), "ResNet50_Weights": torchvision.models.ResNet50_Weights},
    )
    monkeypatch.setattr(_models, "_torchvision_models", lambda: fake)
    return build


def test_resnet50_loads_a_local_state_dict_and_backbone_only_weights(tmp_path, tiny_resnet):
    torch.manual_seed(0)
    trained = resnet50_classifier(2)
    for parameter in trained.parameters():  # make it differ from a fresh model
        parameter.data.add_(1.0)
    torch.save({"model": trained.state_dict(), "epoch": 3}, tmp_path / "full.pt")
    again = resnet50_classifier(2, weights=tmp_path / "full.pt")
    for key, value in trained.state_dict().items():
        torch.testing.assert_close(again.state_dict()[key], value)
    imagenet_like = tiny_resnet()  # 1000-class fc
    imagenet_like.conv1.weight.data.fill_(0.5)
    torch.save(imagenet_like.state_dict(), tmp_path / "backbone.pt")
    model = resnet50_classifier(2, weights=str(tmp_path / "backbone.pt"))
    torch.testing.assert_close(model.conv1.weight, imagenet_like.conv1.weight)
    assert model.fc[1].out_features == 2
    torch.save({"conv9.weight": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=r"weights do not fit ResNet-50: .* mismatched key"):
        resnet50_classifier(2, weights=tmp_path / "other.pt")


def test_resnet50_never_downloads_weights(tmp_path, tiny_resnet):
    import torchvision

    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    try:
        with pytest.raises(
            FileNotFoundError, match=r"is not in the torch hub cache .* pitfalls never downloads"
        ):
            resnet50_classifier(weights=torchvision.models.ResNet50_Weights.IMAGENET1K_V2)
        # a file already in the cache is used
        member = torchvision.models.ResNet50_Weights.IMAGENET1K_V1
        cached = tmp_path / "checkpoints" / os.path.basename(member.url)
        cached.parent.mkdir()
        reference = tiny_resnet()
        reference.layer4[0].conv1.weight.data.fill_(0.25)
        torch.save(reference.state_dict(), cached)
        model = resnet50_classifier(weights="IMAGENET1K_V1")
        torch.testing.assert_close(model.layer4[0].conv1.weight, reference.layer4[0].conv1.weight)
    finally:
        torch.hub.set_dir(old)
    with pytest.raises(TypeError, match=r"weights=3 is not supported"):
        resnet50_classifier(weights=3)
    with pytest.raises(FileNotFoundError, match=r"weights file 'nope.pt' does not exist"):
        resnet50_classifier(weights="nope.pt")


# ---------------------------------------------------------------- training loop


def _val_loss(model, dataset):
    x, y = dataset.tensors
    model.eval()
    with torch.no_grad():
        return torch.nn.functional.cross_entropy(model(x), y).item()


def test_fit_keeps_the_weights_with_the_lowest_validation_loss(tmp_path):
    train, val = _toy(seed=0), _toy(n=12, seed=1)
    torch.manual_seed(0)
    model = small_cnn(2, in_channels=1, width=4)
    # a large learning rate makes the validation loss move up and down
    result = fit_classifier(
        model,
        train,
        val,
        epochs=6,
        batch_size=8,
        lr=0.05,
        device="cpu",
        checkpoint=tmp_path / "best.pt",
        random_state=0,
        verbose=False,
    )
    history = result.history
    assert len(history) == 6
    assert result.best_epoch == int(history["val_loss"].idxmin())
    assert result.best_val_loss == pytest.approx(history["val_loss"].min())
    assert _val_loss(result.model, val) == pytest.approx(result.best_val_loss, rel=1e-5)
    saved = torch.load(tmp_path / "best.pt", weights_only=True)
    assert saved["epoch"] == result.best_epoch
    for key, value in result.model.state_dict().items():
        torch.testing.assert_close(saved["model"][key], value)
    assert set(load_state_dict(tmp_path / "best.pt")) == set(result.model.state_dict())


def test_fit_is_reproducible_and_leaves_global_generators_alone():
    def run():
        torch.manual_seed(1)
        model = small_cnn(2, in_channels=1, width=4)
        return fit_classifier(
            model,
            _toy(),
            _toy(n=8, seed=2),
            epochs=2,
            batch_size=8,
            device="cpu",
            random_state=5,
            verbose=False,
        ).history

    first = run()
    assert first.equals(run())
    torch.manual_seed(1)
    model = small_cnn(2, in_channels=1, width=4)
    expected_next = torch.rand(2)
    torch.manual_seed(1)
    model = small_cnn(2, in_channels=1, width=4)
    fit_classifier(model, _toy(), epochs=1, device="cpu", random_state=5, verbose=False)
    torch.testing.assert_close(torch.rand(2), expected_next)  # fit drew nothing from it


def test_fit_without_validation_keeps_the_last_epoch_and_learns():
    torch.manual_seed(0)
    result = fit_classifier(
        small_cnn(2, in_channels=1, width=8),
        _toy(n=32),
        epochs=15,
        batch_size=8,
        lr=1e-2,
        device="cpu",
        random_state=0,
        verbose=False,
    )
    assert result.best_epoch == 14 and np.isnan(result.best_val_loss)
    proba = predict(result.model, _toy(n=32, seed=9), device="cpu")
    accuracy = (proba.argmax(axis=1) == _toy(n=32, seed=9).tensors[1].numpy()).mean()
    assert accuracy >= 0.9
    assert result.history["train_loss"].iloc[-1] < result.history["train_loss"].iloc[0]


def test_fit_shows_progress_when_verbose(capsys):
    fit_classifier(
        small_cnn(2, in_channels=1, width=4),
        _toy(n=8),
        epochs=1,
        batch_size=4,
        device="cpu",
        random_state=0,
        verbose=True,
    )
    assert "epochs" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, r"epochs=0 must be a positive integer"),
        ({"batch_size": 0}, r"batch_size=0 must be a positive integer"),
        ({"lr": -1.0}, r"lr=-1.0 must be positive"),
    ],
)
def test_fit_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit_classifier(
            small_cnn(2, in_channels=1), _toy(n=4), device="cpu", verbose=False, **kwargs
        )


def test_predict_matches_softmax_of_the_logits():
    torch.manual_seed(0)
    model = small_cnn(3, in_channels=1, width=4).eval()
    data = _toy(n=10)
    with torch.no_grad():
        expected = torch.softmax(model(data.tensors[0]), dim=1).numpy()
    np.testing.assert_allclose(
        predict(model, data, batch_size=3, device="cpu"), expected, rtol=1e-5, atol=1e-6
    )


class _Recording(TensorDataset):
    """Remembers which items this process read."""

    def __init__(self, *tensors):
        super().__init__(*tensors)
        self.seen = []

    def __getitem__(self, index):
        self.seen.append(int(index))
        return super().__getitem__(index)


def _ddp_worker(rank, out, port):
    # what torchrun would set for each process
    os.environ.update(
        {
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
        }
    )
    import torch.distributed as dist

    y = torch.arange(20) % 2
    x = torch.rand(20, 1, 8, 8, generator=torch.Generator().manual_seed(0)) + y[:, None, None, None]
    train = _Recording(x, y)
    torch.manual_seed(rank)  # a different initialisation per rank: DDP must broadcast rank 0's
    model = small_cnn(2, in_channels=1, width=4)
    result = fit_classifier(
        model,
        train,
        TensorDataset(x[:6], y[:6]),
        epochs=2,
        batch_size=4,
        device="cpu",
        checkpoint=Path(out) / "ckpt.pt",
        random_state=0,
        verbose=False,
    )
    state = result.model.state_dict()
    flat = torch.cat([v.detach().float().flatten() for v in state.values()])
    (Path(out) / f"rank{rank}.json").write_text(
        json.dumps(
            {
                "seen": train.seen,
                "params": flat.tolist(),
                "val": result.history["val_loss"].tolist(),
                "initialised_after": dist.is_initialized(),
            }
        )
    )


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_distributed_training_with_gloo_on_two_processes(tmp_path):
    """Two CPU processes with torchrun's environment: shards, sync, one checkpoint."""
    import torch.multiprocessing as mp

    # fork: the children reuse this process's imports, so the test takes seconds
    with warnings.catch_warnings():  # Python >= 3.12 warns about fork in threaded processes
        warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
        mp.start_processes(
            _ddp_worker, args=(str(tmp_path), _free_port()), nprocs=2, start_method="fork"
        )
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert not any(r["initialised_after"] for r in ranks)  # the group it started is closed
    for epoch in range(2):  # each epoch the two shards partition the 20 training samples
        shard0 = ranks[0]["seen"][epoch * 10 : (epoch + 1) * 10]
        shard1 = ranks[1]["seen"][epoch * 10 : (epoch + 1) * 10]
        assert sorted(shard0 + shard1) == list(range(20))
    # weights *and* BatchNorm statistics are identical on both ranks
    np.testing.assert_allclose(ranks[0]["params"], ranks[1]["params"], rtol=1e-6)
    assert ranks[0]["val"] == ranks[1]["val"]  # validation loss summed over both shards
    saved = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    everything = torch.cat([v.float().flatten() for v in saved["model"].values()])
    np.testing.assert_allclose(everything.numpy(), ranks[0]["params"], rtol=1e-6)


# ---------------------------------------------------------------- sklearn wrapper


def _image_arrays(n=32, size=8, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array(["benign", "malignant"] * (n // 2))
    X = (rng.random((n, size, size)) * 120 + (y == "malignant")[:, None, None] * 120).astype(
        np.uint8
    )
    return X, y


def test_classifier_learns_and_returns_labels():
    X, y = _image_arrays()
    clf = TorchImageClassifier(epochs=12, lr=1e-2, batch_size=8, random_state=0, device="cpu")
    clf.fit(X, y)
    assert clf.classes_.tolist() == ["benign", "malignant"]
    X_new, y_new = _image_arrays(seed=1)
    assert (clf.predict(X_new) == y_new).mean() >= 0.9
    np.testing.assert_allclose(clf.predict_proba(X_new).sum(axis=1), 1, rtol=1e-5)
    assert len(clf.history_) == 12


def test_classifier_is_clonable_and_reproducible():
    X, y = _image_arrays(n=16)
    clf = TorchImageClassifier(epochs=2, batch_size=8, random_state=3, device="cpu")
    twin = clone(clf)
    assert twin.get_params() == clf.get_params()
    np.testing.assert_array_equal(clf.fit(X, y).predict_proba(X), twin.fit(X, y).predict_proba(X))
    twin.set_params(epochs=1)
    assert twin.epochs == 1


def test_classifier_keeps_uint8_images_and_scales_them_like_floats():
    from pitfalls.torch._sklearn import _images_to_tensor

    X, y = _image_arrays(n=16)
    assert _images_to_tensor(X).dtype == torch.uint8  # a quarter of float32's memory
    params = {"epochs": 2, "batch_size": 8, "random_state": 3, "device": "cpu"}
    as_uint8 = TorchImageClassifier(**params).fit(X, y)
    as_float = TorchImageClassifier(**params).fit(X.astype(np.float32) / 255, y)
    np.testing.assert_allclose(
        as_uint8.predict_proba(X), as_float.predict_proba(X.astype(np.float32) / 255), rtol=1e-5
    )


def test_classifier_runs_in_group_cross_validation():
    X, y = _image_arrays(n=24)
    groups = np.repeat(np.arange(6), 4)
    clf = TorchImageClassifier(epochs=2, batch_size=8, random_state=0, device="cpu")
    scores = cross_val_score(clf, X, y, groups=groups, cv=GroupKFold(3))
    assert scores.shape == (3,) and ((scores >= 0) & (scores <= 1)).all()


class _CountingTransform:
    def __init__(self):
        self.calls = 0

    def __call__(self, image):
        self.calls += 1
        return image.flip(-1)


def test_augmentation_touches_training_images_only():
    X, y = _image_arrays(n=16)
    transform = _CountingTransform()
    clf = TorchImageClassifier(
        epochs=2,
        batch_size=8,
        train_transform=transform,
        validation_fraction=0.25,
        random_state=0,
        device="cpu",
    ).fit(X, y)
    assert transform.calls == 2 * 12  # two epochs over the 12 training images, not the 4 held out
    clf.predict(X)
    assert transform.calls == 24


def test_validation_holds_out_whole_patients():
    groups = np.repeat(np.arange(8), 3)
    clf = TorchImageClassifier(validation_fraction=0.25, random_state=0)
    train, val = clf._validation_split(np.arange(24) % 2, groups)
    assert not set(groups[train]) & set(groups[val]) and len(val) == 6
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(24))
    X, y = _image_arrays(n=24)
    fitted = TorchImageClassifier(epochs=1, validation_fraction=0.25, random_state=0, device="cpu")
    assert len(fitted.fit(X, y, groups=groups).history_["val_loss"].dropna()) == 1


def test_classifier_errors():
    X, y = _image_arrays(n=8)
    with pytest.raises(NotFittedError):
        TorchImageClassifier().predict(X)
    with pytest.raises(ValueError, match=r"architecture='vgg' is not supported"):
        TorchImageClassifier("vgg", device="cpu").fit(X, y)
    with pytest.raises(ValueError, match=r"X must be an array of images .* got shape \(8, 64\)"):
        TorchImageClassifier(device="cpu").fit(X.reshape(8, -1), y)
    clf = TorchImageClassifier(epochs=1, validation_fraction=0, device="cpu").fit(X, y)
    with pytest.raises(ValueError, match=r"X has 3 channel\(s\) but the model was fitted on 1"):
        clf.predict(np.zeros((2, 8, 8, 3)))


@pytest.mark.parametrize(
    ("make_input", "error", "match"),
    [
        (lambda X, y: (X, None), ValueError, "requires y to be passed, but the target y is None"),
        (lambda X, y: (X, np.zeros(len(y))), ValueError, r"y has a single class \(0\.0\)"),
        (lambda X, y: (X, np.linspace(0, 1, len(y))), ValueError, "Unknown label type"),
        (
            lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X), y),
            ValueError,
            "X contains NaN or infinity",
        ),
        (lambda X, y: (X + 0j, y), ValueError, "Complex data not supported"),
    ],
)
def test_classifier_refuses_unusable_targets_and_images_before_training(make_input, error, match):
    # scikit-learn's estimator checks found these trained (a NaN loss, one output) or
    # failed with an unrelated message
    X, y = _image_arrays(n=8)
    with pytest.raises(error, match=match):
        TorchImageClassifier(epochs=1, validation_fraction=0, device="cpu").fit(*make_input(X, y))


def test_classifier_refuses_sparse_input_by_name():
    from scipy import sparse

    with pytest.raises(TypeError, match="X is a SciPy sparse matrix"):
        TorchImageClassifier(device="cpu").fit(sparse.csr_matrix(np.eye(4)), [0, 1, 0, 1])


def test_resnet50_architecture_takes_grayscale_images():
    X, y = _image_arrays(n=4, size=32)
    clf = TorchImageClassifier(
        "resnet50", epochs=1, batch_size=4, validation_fraction=0, random_state=0, device="cpu"
    ).fit(X, y)
    assert clf.n_channels_ == 3 and clf.predict_proba(X[:2]).shape == (2, 2)


def test_albumentations_train_transform_on_image_arrays():
    A = pytest.importorskip("albumentations")
    X, y = _image_arrays(n=8)
    clf = TorchImageClassifier(
        epochs=1,
        batch_size=4,
        validation_fraction=0,
        device="cpu",
        train_transform=A.HorizontalFlip(p=0.5),
        random_state=0,
    )
    assert clf.fit(X, y).predict(X).shape == (8,)


def test_manifest_to_trained_model_with_worker_processes(tmp_path):
    """split_datasets -> fit_classifier (2 DataLoader workers) -> predict, from PNG files."""
    from PIL import Image

    T = pytest.importorskip("torchvision.transforms.v2")
    import pandas as pd

    from pitfalls.torch import split_datasets

    rng = np.random.default_rng(0)
    rows = []
    for i in range(16):
        label = i % 2
        pixels = (rng.random((10, 10)) * 100 + 120 * label).astype(np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"{i}.png")
        rows.append(
            {
                "file": f"{i}.png",
                "dx": ["normal", "tumour"][label],
                "split": "train" if i < 10 else ("val" if i < 13 else "test"),
            }
        )
    sets = split_datasets(
        pd.DataFrame(rows),
        image="file",
        label="dx",
        root=tmp_path,
        train_transform=T.RandomHorizontalFlip(),
        eval_transform=T.Resize(10),
    )
    torch.manual_seed(0)
    result = fit_classifier(
        small_cnn(2, in_channels=1, width=4),
        sets["train"],
        sets["val"],
        epochs=2,
        batch_size=4,
        num_workers=2,
        device="cpu",
        random_state=0,
        verbose=False,
    )
    proba = predict(result.model, sets["test"], device="cpu", num_workers=0)
    assert proba.shape == (3, 2) and np.isfinite(result.history["val_loss"]).all()


def test_in_place_train_transform_does_not_accumulate_over_epochs():
    X = np.full((4, 6, 6), 0.5, dtype=np.float32)
    seen = []

    def double(t):
        seen.append(float(t.max()))
        return t.mul_(2)

    TorchImageClassifier(
        epochs=3, batch_size=4, validation_fraction=0, device="cpu", train_transform=double
    ).fit(X, [0, 1, 0, 1])
    assert set(seen) == {0.5} and X.max() == 0.5


# ---------------------------------------------------------------- resume after a crash


class _CrashAfter(torch.utils.data.Dataset):
    """A dataset that raises after ``n`` item reads: a run killed in the middle of an epoch."""

    def __init__(self, data, n):
        self.data, self.left = data, n

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        self.left -= 1
        if self.left < 0:
            raise KeyboardInterrupt("killed")
        return self.data[index]


def _fit_toy(train, checkpoint, *, resume=False, lr_schedule=None, epochs=4, monitor="val_loss"):
    torch.manual_seed(3)
    return fit_classifier(
        small_cnn(2, in_channels=1, width=4),
        train,
        _toy(n=8, seed=2),
        epochs=epochs,
        batch_size=8,
        lr=0.01,
        device="cpu",
        checkpoint=checkpoint,
        resume=resume,
        lr_schedule=lr_schedule,
        monitor=monitor,
        random_state=0,
        verbose=False,
    )


@pytest.mark.parametrize("lr_schedule", [None, "onecycle"])
def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path, lr_schedule):
    straight = _fit_toy(_toy(), tmp_path / "a.pt", lr_schedule=lr_schedule)
    with pytest.raises(KeyboardInterrupt):  # killed in the third epoch (24 items per epoch)
        _fit_toy(_CrashAfter(_toy(), 2 * 24 + 5), tmp_path / "b.pt", lr_schedule=lr_schedule)
    assert torch.load(tmp_path / "b.pt.last", weights_only=False)["epoch"] == 1
    resumed = _fit_toy(_toy(), tmp_path / "b.pt", resume=True, lr_schedule=lr_schedule)
    pd_testing = pytest.importorskip("pandas").testing
    pd_testing.assert_frame_equal(resumed.history, straight.history)
    assert resumed.best_epoch == straight.best_epoch
    for key, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[key], value, rtol=0, atol=0)
    # a finished run resumes to the same result without training again
    again = _fit_toy(
        _CrashAfter(_toy(), 0), tmp_path / "b.pt", resume=True, lr_schedule=lr_schedule
    )
    assert again.best_epoch == straight.best_epoch


def test_resume_refuses_another_runs_state_and_needs_a_checkpoint(tmp_path):
    _fit_toy(_toy(), tmp_path / "a.pt", epochs=2)
    with pytest.raises(
        ValueError,
        match=r"epochs=2, lr_schedule='constant' and monitor='val_loss', not epochs=4, "
        r"lr_schedule='constant' and monitor='val_loss'; use the same settings or delete it",
    ):
        _fit_toy(_toy(), tmp_path / "a.pt", resume=True, epochs=4)
    with pytest.raises(ValueError, match=r"not epochs=2, lr_schedule='constant' and "
                       r"monitor='train_loss'"):  # fmt: skip
        _fit_toy(_toy(), tmp_path / "a.pt", resume=True, epochs=2, monitor="train_loss")
    with pytest.raises(ValueError, match=r"resume=True needs checkpoint=<path>"):
        _fit_toy(_toy(), None, resume=True)


def test_onecycle_schedule_and_unknown_schedule():
    with pytest.raises(ValueError, match=r"lr_schedule='cosine' is not supported"):
        _fit_toy(_toy(), None, lr_schedule="cosine")
    # one cycle from a small step: far less movement in the first epoch than a constant lr
    torch.manual_seed(3)
    start = small_cnn(2, in_channels=1, width=4).state_dict()
    moved = {}
    for schedule in (None, "onecycle"):
        model = _fit_toy(_toy(), None, lr_schedule=schedule, epochs=1).model
        moved[schedule] = sum(
            float((model.state_dict()[k].float() - v.float()).abs().sum())
            for k, v in start.items()
            if "running" not in k and "num_batches" not in k
        )
    assert 0 < moved["onecycle"] < moved[None]
    # the best epoch is chosen after the warm-up (the first 30% of the steps)
    history = _fit_toy(_toy(), None, lr_schedule="onecycle", epochs=10)
    assert history.best_epoch >= 3
    assert history.best_val_loss == history.history["val_loss"].iloc[3:].min()


@pytest.mark.parametrize("lr_schedule", [None, "onecycle"])
def test_monitor_train_loss_keeps_the_epoch_with_the_lowest_training_loss(lr_schedule):
    result = _fit_toy(_toy(), None, lr_schedule=lr_schedule, epochs=10, monitor="train_loss")
    history = result.history
    # the one-cycle warm-up (the first 30% of the steps) is never chosen, as with val_loss
    first = 3 if lr_schedule == "onecycle" else 0
    assert result.best_epoch == int(history["train_loss"].iloc[first:].idxmin())
    # the validation loss is still computed; best_val_loss is the kept epoch's
    assert history["val_loss"].notna().all()
    assert result.best_val_loss == history["val_loss"].iloc[result.best_epoch]
    if lr_schedule is None:  # the kept weights are that epoch's: a run stopped there
        shorter = _fit_toy(_toy(), None, epochs=result.best_epoch + 1)
        for key, value in shorter.model.state_dict().items():
            torch.testing.assert_close(result.model.state_dict()[key], value)


def test_monitor_train_loss_without_validation_data_and_unknown_monitor():
    torch.manual_seed(0)
    result = fit_classifier(
        small_cnn(2, in_channels=1, width=4), _toy(), epochs=5, batch_size=8, lr=0.05,
        monitor="train_loss", device="cpu", random_state=0, verbose=False,
    )  # fmt: skip
    assert result.best_epoch == int(result.history["train_loss"].idxmin())
    assert np.isnan(result.best_val_loss)
    with pytest.raises(
        ValueError, match=r"monitor='loss' is not supported; use 'val_loss' or 'train_loss'\."
    ):
        _fit_toy(_toy(), None, monitor="loss")


def test_classifier_passes_monitor_to_the_training_loop():
    x, y = _toy(n=24).tensors
    clf = TorchImageClassifier(
        epochs=6, lr=0.05, monitor="train_loss", validation_fraction=0.25, device="cpu",
        random_state=0,
    ).fit(x.numpy()[:, 0], y.numpy())  # fmt: skip
    assert clf.best_epoch_ == int(clf.history_["train_loss"].idxmin())
    assert clf.history_["val_loss"].notna().all()


def test_classifier_records_its_training_and_validation_rows():
    x, y = _toy(n=20).tensors
    clf = TorchImageClassifier(epochs=1, validation_fraction=0.25, device="cpu", random_state=0)
    clf.fit(x.numpy()[:, 0], y.numpy())
    assert len(clf.validation_indices_) == 5
    assert clf.best_epoch_ == 0
    assert sorted(np.r_[clf.train_indices_, clf.validation_indices_].tolist()) == list(range(20))
    clf.set_params(validation_fraction=0).fit(x.numpy()[:, 0], y.numpy())
    assert len(clf.validation_indices_) == 0 and len(clf.train_indices_) == 20


def test_fit_is_quiet_by_default_and_its_result_renders(capsys):
    torch.manual_seed(0)
    result = fit_classifier(
        small_cnn(2, in_channels=1, width=4), _toy(n=16), _toy(n=8, seed=1), epochs=2,
        batch_size=8, device="cpu", random_state=0,
    )  # fmt: skip
    assert capsys.readouterr().err == ""  # no progress bar unless verbose=1
    frame = result.to_frame()
    assert frame.columns.tolist() == ["epoch", "train_loss", "val_loss"] and len(frame) == 2
    assert frame["val_loss"].iloc[result.best_epoch] == result.best_val_loss
    assert repr(result).startswith("FitResult(model=Sequential, n_epochs=2, best_epoch=")
    markdown = result.to_markdown(digits=3).splitlines()
    assert markdown[2] == f"| 0 | {frame['train_loss'][0]:.3f} | {frame['val_loss'][0]:.3f} |"
    import matplotlib.pyplot

    matplotlib.use("Agg")
    ax = result.plot()
    assert [line.get_label() for line in ax.get_lines()] == [
        "train", "validation", f"best epoch ({result.best_epoch})"
    ]  # fmt: skip
    matplotlib.pyplot.close(ax.figure)
    fit_classifier(small_cnn(2, in_channels=1, width=4), _toy(n=8), epochs=1, device="cpu",
                   verbose=1)  # fmt: skip
    assert "epochs" in capsys.readouterr().err
