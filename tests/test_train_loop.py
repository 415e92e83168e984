"""The training loop on tiny data: one epoch through the real loaders, resume equality after an
interrupt, NaN detection, run-folder protection, checkpoints from another configuration."""

import json
import warnings

import pytest
import torch

from igpw_viz.data.digits import load_digits_splits
from igpw_viz.data.fixtures import load_smoke_dataset
from igpw_viz.training import (
    ConfigMismatch,
    NonFiniteLoss,
    RunFolderExists,
    TrainConfig,
    TrainingInterrupted,
    load_checkpoint,
    loop,
    train,
)

TINY = dict(dataset="digits", model="keffnet_b0", channels_per_group=8, image_size=8, skip_strides=2,
            batch_size=8, limit_train_batches=2, limit_eval_batches=1, progress=False, augment="none",
            bn_momentum=0.1, lr_period=3, lr_rise_epochs=2, device="cpu", compile=False)


@pytest.fixture(scope="module")
def digits():
    return load_digits_splits(0)


def test_one_epoch_on_fixture_data_through_the_real_loader(tmp_path):
    data = load_smoke_dataset("cifar10", tmp_path / "data", size=10)
    cfg = TrainConfig(**{**TINY, "dataset": "cifar10", "augment": "paper", "epochs": 1})
    r = train(cfg, tmp_path / "run", data=data)
    files = {p.name for p in r.run_dir.iterdir()}
    assert {"config.json", "history.csv", "last.pt", "best.pt", "metrics.json"} <= files
    m = json.loads((r.run_dir / "metrics.json").read_text())
    assert m["epochs"] == 1 and 0 <= m["test_acc"] <= 1 and m["params"] > 0 and m["macs"] > 0
    ck = load_checkpoint(r.run_dir / "last.pt")  # weights_only=True
    assert ck["epoch"] == 0 and ck["config"]["dataset"] == "cifar10"


def test_resume_after_interrupt_gives_the_same_weights(tmp_path, digits):
    cfg = TrainConfig(**TINY, epochs=3, dropout=0.2)
    with warnings.catch_warnings(record=True) as caught:  # fresh run, interrupt and resume
        warnings.simplefilter("always")
        full = train(cfg, tmp_path / "full", data=digits)
        with pytest.raises(TrainingInterrupted):
            train(cfg, tmp_path / "cut", data=digits, interrupt_after_epoch=0)
        assert json.loads((tmp_path / "cut" / "status.json").read_text())["status"] == "interrupted"
        assert load_checkpoint(tmp_path / "cut" / "last.pt")["epoch"] == 0
        resumed = train(cfg, tmp_path / "cut", data=digits, resume=True)
    # the loop sets the lr per epoch from the schedule and never calls lr_scheduler.step(): no PyTorch
    # "lr_scheduler.step() before optimizer.step()" warning (nor any other scheduler warning)
    sched_warnings = [str(w.message) for w in caught if "lr_scheduler" in str(w.message)
                      or "optimizer.step()" in str(w.message)]
    assert not sched_warnings, sched_warnings
    # the per-epoch lr across the resume: rise 1e-3 -> 1.5e-3 (2 rising epochs), then the peak 1.5e-3
    assert [row["lr"] for row in resumed.history] == pytest.approx([1e-3, 1.5e-3, 1.5e-3], rel=1e-12)
    a = load_checkpoint(tmp_path / "full" / "last.pt")
    b = load_checkpoint(tmp_path / "cut" / "last.pt")
    assert a["model"].keys() == b["model"].keys()
    for k in a["model"]:
        assert torch.equal(a["model"][k], b["model"][k]), k
    assert a["history"][-1]["train_loss"] == b["history"][-1]["train_loss"]
    assert full.metrics["test_acc"] == resumed.metrics["test_acc"]
    assert len(resumed.history) == 3


def test_run_folder_is_never_overwritten_and_config_must_match(tmp_path, digits):
    cfg = TrainConfig(**TINY, epochs=1)
    train(cfg, tmp_path / "r", data=digits)
    with pytest.raises(RunFolderExists):
        train(cfg, tmp_path / "r", data=digits)
    with pytest.raises(ConfigMismatch):
        train(cfg.replace(channels_per_group=4, epochs=2), tmp_path / "r", data=digits, resume=True)
    train(cfg, tmp_path / "r", data=digits, overwrite=True)
    # automatic names pick a fresh folder
    a = train(cfg, runs_root=tmp_path / "auto", data=digits)
    b = train(cfg, runs_root=tmp_path / "auto", data=digits)
    assert a.run_dir != b.run_dir and a.run_dir.is_dir() and b.run_dir.is_dir()


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, digits, monkeypatch):
    real = loop.build_model

    def poisoned(cfg, n):
        model = real(cfg, n)
        calls = {"n": 0}

        def hook(_m, _inp, out):
            calls["n"] += 1 if _m.training else 0
            return out * float("nan") if _m.training and calls["n"] > 2 else out

        model.register_forward_hook(hook)
        return model

    monkeypatch.setattr(loop, "build_model", poisoned)
    cfg = TrainConfig(**{**TINY, "log_every": 1}, epochs=3)
    with pytest.raises(NonFiniteLoss, match="NaN"):
        train(cfg, tmp_path / "nan", data=digits)
    ck = load_checkpoint(tmp_path / "nan" / "last.pt")
    assert ck["epoch"] == 0  # epoch 1 (2 good steps) saved; epoch 2 went NaN and was not saved
    assert all(torch.isfinite(v).all() for v in ck["model"].values() if v.is_floating_point())
    assert json.loads((tmp_path / "nan" / "status.json").read_text())["status"] == "nonfinite_loss"


def test_impossible_batch_size(tmp_path, digits):
    with pytest.raises(ValueError, match="exceeds"):
        train(TrainConfig(**{**TINY, "batch_size": 5000}), tmp_path / "b", data=digits)
