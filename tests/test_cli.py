"""The command line: the default main job in smoke mode, bad input (exit 2, no traceback), helpers, and a
real 2-process torchrun (gloo) run on CPU."""

import json
import os
import socket
import subprocess
import sys

import pytest

from igpw_viz.cli import main


def test_main_job_smoke(tmp_path, capsys):
    rc = main(["train", "--smoke", "--runs-root", str(tmp_path), "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0
    group = tmp_path / "digits-compare"
    assert (group / "comparison.png").is_file() and (group / "comparison.txt").is_file()
    for tag in ("baseline", "v2-16"):
        m = json.loads((group / tag / "metrics.json").read_text())
        assert m["epochs"] == 1
    assert "EfficientNet-B0" in out and "kEffNet-B0 V2-16" in out and "plot:" in out
    # a second default run never overwrites the first
    assert main(["train", "--smoke", "--runs-root", str(tmp_path), "--no-progress", "--models", "v2-8"]) == 0
    assert (tmp_path / "digits-v2-8").is_dir()


@pytest.mark.parametrize("args,needle", [
    (["train", "--dataset", "mnist"], "unknown dataset"),
    (["train", "--models", "v3-16"], "unknown model"),
    (["train", "--batch-size", "0"], "--batch-size"),
    (["train", "--models", "v2-8", "--batch-size", "5000", "--smoke"], "exceeds"),
    (["train", "--resume", "--name", "nope"], "nothing to resume"),
    (["train", "--image-size", "4"], "--image-size"),
    (["summary", "--model", "resnet"], "unknown model"),
    (["plan", "--ic", "0", "--fc", "4"], "--ic"),
])
def test_bad_input_exits_2_without_traceback(tmp_path, capsys, args, needle):
    rc = main([*args, "--runs-root", str(tmp_path)] if args[0] == "train" else args)
    err = capsys.readouterr().err
    assert rc == 2 and needle in err and "Traceback" not in err


def test_existing_run_folder_and_missing_offline_data(tmp_path, capsys, monkeypatch):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "config.json").write_text("{}")
    assert main(["train", "--smoke", "--models", "v2-8", "--runs-root", str(tmp_path), "--name", "taken"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "taken" / "config.json").read_text() == "{}"
    monkeypatch.setenv("IGPW_DATA_DIR", str(tmp_path / "empty"))
    rc = main(["train", "--dataset", "cifar10", "--offline", "--runs-root", str(tmp_path), "--smoke"])
    err = capsys.readouterr().err
    assert rc == 2 and "cifar-10-python.tar.gz" in err and "Traceback" not in err


def test_plan_summary_help(capsys):
    assert main(["plan", "--ic", "240", "--fc", "40", "--ch", "16"]) == 0
    assert "240 -> 40" in capsys.readouterr().out
    assert main(["summary", "--model", "v2-16", "--image-size", "32"]) == 0
    assert "623,226" in capsys.readouterr().out
    assert main([]) == 0 and "train" in capsys.readouterr().out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torchrun_two_processes_gloo(tmp_path):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={_free_port()}", "-m", "igpw_viz", "train", "--models", "v2-8", "--smoke",
           "--device", "cpu", "--image-size", "8", "--skip-strides", "2", "--runs-root", str(tmp_path),
           "--name", "ddp", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=400, env=env)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-3000:]
    m = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert m["world_size"] == 2 and m["epochs"] == 1 and 0 <= m["test_acc"] <= 1
    assert p.stdout.count("test accuracy") == 1  # only rank 0 logs
