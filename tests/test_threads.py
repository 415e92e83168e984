"""The thread count of CPU training follows the load: a real busy process takes a core, and the run leaves it
to that process (benchmarks/RESULTS.md: with 2 threads beside one busy process a step took 2-3x longer)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from igpw_viz.data.digits import load_digits_splits
from igpw_viz.training import TrainConfig, train
from igpw_viz.training.threads import (
    CpuSample,
    ThreadGovernor,
    available_cores,
    measure_threads,
    others_busy_cores,
    threads_for,
)

CORES = available_cores()
needs_two = pytest.mark.skipif(CORES < 2 or CpuSample.now() is None, reason="needs 2 cores and /proc/stat")


@pytest.fixture
def busy():
    """One other process keeping one core busy."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_threads_for_leaves_busy_cores_to_others():
    assert threads_for(None) == CORES and threads_for(0.0) == CORES
    assert threads_for(0.0, most=1) == 1 and threads_for(CORES + 5.0) == 1  # never fewer than one
    assert threads_for(1.0) == max(1, CORES - 1) and threads_for(0.4) == CORES  # rounded


@needs_two
def test_a_busy_process_is_seen_and_own_work_is_not(busy):
    threads, others = measure_threads(0.6)
    assert others is not None and 0.6 <= others <= 1.6 and threads == CORES - 1
    start = CpuSample.now()  # now this process is the busy one: it must not count itself
    x = torch.randn(400, 400)
    while CpuSample.now().wall - start.wall < 0.6:
        x = (x @ x).clamp(-1, 1)
    assert others_busy_cores(start) <= 1.6  # the other process only, not this one's threads as well


@needs_two
def test_governor_adapts_and_restores(busy):
    before = torch.get_num_threads()
    governor = ThreadGovernor(None, adaptive=True)
    try:
        assert torch.get_num_threads() == CORES - 1
        assert f"training with {CORES - 1} thread" in governor.note and "--threads N" in governor.note
    finally:
        governor.restore()
    assert torch.get_num_threads() == before


def test_fixed_threads_are_kept_and_restored():
    before = torch.get_num_threads()
    governor = ThreadGovernor(1, adaptive=True)  # --threads wins over adapting
    assert torch.get_num_threads() == 1 and not governor.adaptive and governor.after_epoch() is None
    governor.restore()
    assert torch.get_num_threads() == before


@needs_two
def test_training_beside_a_busy_process_says_so(busy, tmp_path, capsys):
    cfg = TrainConfig(dataset="digits", model="keffnet_b0", channels_per_group=8, image_size=8, skip_strides=2,
                      batch_size=8, epochs=1, limit_train_batches=2, limit_eval_batches=1, progress=False,
                      augment="none", device="cpu")
    before = torch.get_num_threads()
    train(cfg, tmp_path / "run", data=load_digits_splits(0))
    assert f"cores busy: training with {CORES - 1} thread" in capsys.readouterr().out
    assert torch.get_num_threads() == before
