"""The paper's cyclic learning-rate schedule, stepped once per epoch.

With ``l = epoch mod period`` (epoch 0-based): ``lr = base * (1 + rise * l)`` for ``l < rise_epochs`` (1e-3
rising to 4e-3 in the paper), else ``lr = peak * decay ** (l - rise_epochs)`` with ``peak = base * (1 + rise *
(rise_epochs - 1))``, the last rising value (4e-3); optionally clamped below at ``floor`` (2.5245e-4 is
4e-3 * 0.85**17, the last value of a 25-epoch cycle). Period 25 (50-epoch CIFAR, colorectal, malaria) or
30 (180-epoch CIFAR); floor 2.5245e-4 for colorectal, malaria and 180-epoch runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.optim.lr_scheduler import LRScheduler

__all__ = ["CyclicSchedule", "CyclicLR"]


@dataclass(frozen=True)
class CyclicSchedule:
    """The schedule as pure data: ``lr(epoch)`` is a plain function of the epoch (no state to drift)."""

    base: float = 1e-3
    rise: float = 0.5
    rise_epochs: int = 7
    decay: float = 0.85
    period: int = 25
    floor: float | None = None

    def __post_init__(self) -> None:
        if not (self.base > 0 and math.isfinite(self.base)):
            raise ValueError(f"lr must be a finite number > 0, got {self.base}")
        if not (self.rise >= 0 and math.isfinite(self.rise)):
            raise ValueError(f"lr rise must be >= 0, got {self.rise}")
        if self.period < 1:
            raise ValueError(f"lr period must be >= 1, got {self.period}")
        if not 0 <= self.rise_epochs:
            raise ValueError(f"rise_epochs must be >= 0, got {self.rise_epochs}")
        if not 0 < self.decay <= 1:
            raise ValueError(f"lr decay must be in (0, 1], got {self.decay}")
        if self.floor is not None and not (self.floor >= 0 and math.isfinite(self.floor)):
            raise ValueError(f"lr floor must be a finite number >= 0, got {self.floor}")

    @property
    def peak(self) -> float:
        return self.base * (1 + self.rise * max(self.rise_epochs - 1, 0))

    def lr(self, epoch: int) -> float:
        if epoch < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        pos = epoch % self.period
        if pos < self.rise_epochs:
            value = self.base * (1 + self.rise * pos)
        else:
            value = self.peak * self.decay ** (pos - self.rise_epochs)
        return max(value, self.floor) if self.floor is not None else value

    def values(self, epochs: int) -> list[float]:
        return [self.lr(e) for e in range(epochs)]


class CyclicLR(LRScheduler):
    """``CyclicSchedule`` as a PyTorch scheduler (``step()`` once per epoch; state_dict for resume).

    The schedule is stored as plain numbers so the state dict loads with ``weights_only=True``."""

    def __init__(self, optimizer: torch.optim.Optimizer, schedule: CyclicSchedule, last_epoch: int = -1):
        self.schedule_args = {k: getattr(schedule, k) for k in
                              ("base", "rise", "rise_epochs", "decay", "period", "floor")}
        super().__init__(optimizer, last_epoch)

    @property
    def schedule(self) -> CyclicSchedule:
        return CyclicSchedule(**self.schedule_args)

    def get_lr(self) -> list[float]:  # type: ignore[override]
        lr = self.schedule.lr(max(self.last_epoch, 0))
        return [lr for _ in self.optimizer.param_groups]
