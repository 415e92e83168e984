"""Run folders under hostile and unlucky conditions, with real files, folders, threads and processes:
racing creators, a folder in use, symlinks, leftovers of killed writes, checkpoints of the wrong kind,
damaged config/history files, NaN before anything was saved, the last batch of one image."""

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time

import pytest
import torch

from igpw_viz.cli import main
from igpw_viz.data.digits import load_digits_splits
from igpw_viz.training import NonFiniteLoss, TrainConfig, loop, train
from igpw_viz.training.runs import RunFolderBusy, RunFolderExists, claim_run_dir, new_run_dir

TINY = dict(dataset="digits", model="keffnet_b0", channels_per_group=8, image_size=8, skip_strides=2,
            batch_size=8, limit_train_batches=2, limit_eval_batches=1, progress=False, augment="none",
            bn_momentum=0.1, lr_period=3, lr_rise_epochs=2, device="cpu", compile=False, epochs=1)


@pytest.fixture(scope="module")
def digits():
    return load_digits_splits(0)


def _race(n, fn):
    """Run ``fn()`` in ``n`` threads released together; returns each thread's result or exception."""
    gate, out = threading.Barrier(n), [None] * n

    def run(i):
        gate.wait()
        try:
            out[i] = fn()
        except Exception as e:  # noqa: BLE001 -- the outcome is what the test reads
            out[i] = e
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_concurrent_creators_of_one_name_get_it_once(tmp_path):
    for k in range(20):  # many rounds: a check-then-create race would show up
        out = _race(8, lambda k=k: claim_run_dir(tmp_path, f"x{k}", "unused", resume=False, overwrite=False))
        won = [o for o in out if not isinstance(o, Exception)]
        lost = [o for o in out if isinstance(o, Exception)]
        assert len(won) == 1, out
        assert all(isinstance(e, (RunFolderBusy, RunFolderExists)) for e in lost), lost
        assert all("--name" in str(e) and str(tmp_path / f"x{k}") in str(e) for e in lost)
        won[0].release()


def test_two_processes_racing_on_one_name(tmp_path):
    script = ("import sys, time; from igpw_viz.training.runs import claim_run_dir\n"
              "t = float(sys.argv[1]); time.sleep(max(0, t - time.time()))\n"
              "try:\n    lock = claim_run_dir(sys.argv[2], 'same', 'x', resume=False, overwrite=False)\n"
              "except ValueError as e:\n    print('LOST', e); sys.exit(3)\n"
              "print('WON'); time.sleep(1.5)\n")
    start = time.time() + 3
    procs = [subprocess.Popen([sys.executable, "-c", script, str(start), str(tmp_path)], stdout=subprocess.PIPE,
                              text=True) for _ in range(4)]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert sorted(p.returncode for p in procs) == [0, 3, 3, 3], outs
    assert sum("WON" in o for o in outs) == 1


def test_a_run_folder_in_use_is_refused_and_released_after(tmp_path, digits):
    lock = claim_run_dir(tmp_path, "busy", "x", resume=False, overwrite=True)
    with pytest.raises(RunFolderBusy, match=f"pid {os.getpid()}"):
        train(TrainConfig(**TINY), runs_root=tmp_path, name="busy", overwrite=True, data=digits)
    lock.release()
    train(TrainConfig(**TINY), runs_root=tmp_path, name="busy", overwrite=True, data=digits)
    with pytest.raises(RunFolderExists):  # the finished run's files are never overwritten without asking
        new_run_dir(tmp_path / "busy")


def test_symlinked_run_folder_and_file_in_the_way(tmp_path, capsys):
    (tmp_path / "real").mkdir()
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "link").symlink_to(tmp_path / "real")
    with pytest.raises(ValueError, match="symbolic link"):
        new_run_dir(tmp_path / "runs" / "link", overwrite=True)
    (tmp_path / "runs" / "afile").write_text("keep me")
    rc = main(["train", "--smoke", "--models", "v2-8", "--runs-root", str(tmp_path / "runs"), "--name", "afile"])
    err = capsys.readouterr().err
    assert rc == 2 and "afile" in err and "not a folder" in err and err.count("\n") == 1
    assert (tmp_path / "runs" / "afile").read_text() == "keep me"


def test_leftovers_of_a_killed_write_are_cleaned_on_resume(tmp_path, digits):
    cfg = TrainConfig(**{**TINY, "epochs": 2})
    with pytest.raises(loop.TrainingInterrupted):
        train(cfg, tmp_path / "r", data=digits, interrupt_after_epoch=0)
    run = tmp_path / "r"
    # a real writer killed mid-write: the temporary name core.files uses, then SIGKILL before the rename
    killed = ("import os, signal, tempfile, sys; fd, p = tempfile.mkstemp(dir=sys.argv[1], prefix='.last.pt.', "
              "suffix='.tmp'); os.write(fd, b'half a checkpoint'); os.kill(os.getpid(), signal.SIGKILL)")
    p = subprocess.run([sys.executable, "-c", killed, str(run)])
    assert p.returncode == -9
    left = [n for n in os.listdir(run) if n.endswith(".tmp")]
    assert len(left) == 1 and left[0].startswith(".last.pt.")
    (run / "notes.tmp").write_text("not ours")  # not our pattern: kept
    good = (run / "last.pt").read_bytes()
    time.sleep(0.01)
    train(cfg, run, data=digits, resume=True)
    assert not [n for n in os.listdir(run) if n.startswith(".") and n.endswith(".tmp")]
    assert (run / "notes.tmp").read_text() == "not ours"
    assert (run / "last.pt").is_file() and (run / "last.pt").read_bytes() != good  # epoch 2 saved over it


@pytest.mark.parametrize("kind", ["best", "tensor", "garbage", "other_model"])
def test_resume_from_the_wrong_kind_of_checkpoint_names_the_file(tmp_path, digits, kind, capsys):
    cfg = TrainConfig(**TINY)
    run = tmp_path / "r"
    train(cfg, run, data=digits)
    if kind == "best":  # a weights-only checkpoint copied over last.pt: no optimizer
        (run / "last.pt").write_bytes((run / "best.pt").read_bytes())
    elif kind == "tensor":
        torch.save(torch.zeros(3), run / "last.pt")
    elif kind == "garbage":
        (run / "last.pt").write_bytes(b"PK\x03\x04 not really a zip")
    else:  # same identity, but the weights of another model (a hand-edited checkpoint)
        other = train(cfg.replace(channels_per_group=4), tmp_path / "o", data=digits)
        ck = torch.load(other.run_dir / "last.pt", weights_only=True)
        ck["config_identity"] = cfg.identity()
        torch.save(ck, run / "last.pt")
    with pytest.raises(ValueError) as e:
        train(cfg.replace(epochs=2), run, data=digits, resume=True)
    msg = str(e.value)
    assert str(run / "last.pt") in msg and "\n" not in msg and "KeyError" not in msg
    assert {"best": "no optimizer", "tensor": "not a training checkpoint", "garbage": "cannot read",
            "other_model": "does not fit this model"}[kind] in msg


def test_damaged_config_or_history_is_named_with_what_to_do(tmp_path, digits, capsys):
    train(TrainConfig(**TINY), tmp_path / "a", data=digits)
    hist = tmp_path / "a" / "history.csv"
    hist.write_text(hist.read_text()[:-12] + "x,1\n")
    assert main(["compare", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert str(hist) in err and "restore the file" in err and err.count("\n") == 1
    cfg = tmp_path / "a" / "config.json"
    cfg.write_text(cfg.read_text()[:40])  # truncated
    assert main(["compare", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert str(cfg) in err and "not valid JSON" in err and err.count("\n") == 1


def test_nan_in_the_first_epoch_says_no_checkpoint_exists(tmp_path, digits, monkeypatch):
    real = loop.build_model

    def poisoned(cfg, n):
        model = real(cfg, n)
        model.register_forward_hook(lambda m, i, out: out * float("nan") if m.training else out)
        return model

    monkeypatch.setattr(loop, "build_model", poisoned)
    with pytest.raises(NonFiniteLoss) as e:
        train(TrainConfig(**{**TINY, "log_every": 1}), tmp_path / "nan", data=digits)
    assert "no checkpoint was saved" in str(e.value) and "--lr" in str(e.value)
    assert not (tmp_path / "nan" / "last.pt").exists()


def test_a_last_training_batch_of_one_image_is_merged(tmp_path, digits):
    """17 = 8 * 2 + 1 training images at batch 8; the feature maps end at 1x1, where BatchNorm in
    training mode cannot take one image."""
    small = dataclasses.replace(digits, train=dataclasses.replace(
        digits.train, images=digits.train.images.take(torch.arange(17).numpy()), labels=digits.train.labels[:17]))
    cfg = TrainConfig(**{**TINY, "limit_train_batches": None, "limit_eval_batches": None})
    r = train(cfg, tmp_path / "one", data=small)
    row = r.history[0]
    assert round(row["images_per_s"] * row["epoch_time_s"]) == 17  # every image trained
    assert r.metrics["test_n"] == len(digits.test)  # evaluation covers every image
    assert json.loads((tmp_path / "one" / "metrics.json").read_text())["epochs"] == 1
