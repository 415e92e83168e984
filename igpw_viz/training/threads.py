"""How many CPU threads to train with: every core when the machine is quiet, fewer when other processes
keep cores busy.

PyTorch's intra-op thread pool ends each parallel op at a barrier. When another process holds one of the
cores, the barrier waits for a descheduled thread, once per op; a network of many small ops (kEffNet-B0
at small maps) then slows down several times more than one of few large ops (benchmarks/model_bench.py
``--load``, benchmarks/RESULTS.md). Measuring what the others use (``/proc/stat`` minus this process)
and leaving their cores to them avoids the wait. Linux only; elsewhere every core is used.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch


def _busy_jiffies() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot, or None where /proc/stat does not exist."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


@dataclass
class CpuSample:
    """A point to measure from: the machine's busy and total jiffies, this process's CPU and wall time."""

    busy: int
    total: int
    own_cpu: float
    wall: float

    @classmethod
    def now(cls) -> CpuSample | None:
        jiffies = _busy_jiffies()
        if jiffies is None:
            return None
        t = os.times()
        return cls(jiffies[0], jiffies[1], t.user + t.system, time.monotonic())


def others_busy_cores(since: CpuSample, until: CpuSample | None = None) -> float | None:
    """Cores kept busy by other processes between two samples (None without /proc/stat)."""
    until = until or CpuSample.now()
    if until is None or until.total <= since.total or until.wall <= since.wall:
        return None
    cores = os.cpu_count() or 1
    busy_cores = cores * (until.busy - since.busy) / (until.total - since.total)
    own_cores = (until.own_cpu - since.own_cpu) / (until.wall - since.wall)
    return max(0.0, busy_cores - own_cores)


def threads_for(others: float | None, most: int | None = None) -> int:
    """Threads that fit beside ``others`` busy cores: the free cores, rounded, at least 1, at most ``most``
    (default: every available core)."""
    cores = available_cores()
    most = cores if most is None else max(1, min(most, cores))
    if others is None:
        return most
    return max(1, min(most, int(cores - others + 0.5)))


def measure_threads(interval: float = 0.3, most: int | None = None) -> tuple[int, float | None]:
    """Sample the machine for ``interval`` seconds (this process idle) -> (threads, others' busy cores)."""
    start = CpuSample.now()
    if start is None:
        return threads_for(None, most), None
    time.sleep(interval)
    others = others_busy_cores(start)
    return threads_for(others, most), others


class ThreadGovernor:
    """The thread count of one CPU training run: ``fixed`` (``--threads``), or chosen from the load at the
    start and again after every epoch (``adaptive``); `restore` puts back the process's count."""

    def __init__(self, fixed: int | None, adaptive: bool):
        self.initial = torch.get_num_threads()
        self.most = fixed or self.initial
        self.adaptive = adaptive and not fixed and CpuSample.now() is not None
        if fixed:
            torch.set_num_threads(fixed)
        self.note = self._apply(*measure_threads(most=self.most)) if self.adaptive else None
        self.sample = CpuSample.now()

    def _apply(self, threads: int, others: float | None) -> str | None:
        if threads == torch.get_num_threads():
            return None
        torch.set_num_threads(threads)
        return (f"other processes keep {others or 0:.1f} of {available_cores()} cores busy: training with "
                f"{threads} thread{'s' if threads > 1 else ''} (--threads N fixes the count)")

    def after_epoch(self) -> str | None:
        """Follow the load of the epoch that just ended; a line to log when the count changed."""
        if not self.adaptive:
            return None
        others, self.sample = others_busy_cores(self.sample), CpuSample.now()
        return self._apply(threads_for(others, self.most), others)

    def restore(self) -> None:
        torch.set_num_threads(self.initial)
