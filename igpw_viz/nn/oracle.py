"""Two slow references for the layer, sharing its parameters (for tests, notebooks and benchmarks).

- `oracle_forward`: a deliberately literal per-group, per-filter loop over the plan's tables: the oracle
  that both faces of `InterleavedGroupedPointwise` (readable and fast) are tested against.
- `StraightforwardPort`: the reference code's structure written in PyTorch the obvious way (copy channels
  with `torch.cat`, two grouped convs per stage concatenated, the interleave as a concatenation of
  strided slices, the add): what a reader of the paper's code would write. The benchmark's peer row.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..core.plan import GroupedStage
from .layer import InterleavedGroupedPointwise


def _norm_act(y: torch.Tensor, norm: nn.Module | None, act: nn.Module | None,
              training: bool) -> torch.Tensor:
    """BN exactly as the layer's module would compute it, without touching its running statistics."""
    if norm is not None:
        y = F.batch_norm(y, norm.running_mean, norm.running_var, norm.weight, norm.bias,
                         training=training, momentum=0.0, eps=norm.eps)
    return act(y) if act is not None else y


def _oracle_stage(stage: GroupedStage, x: torch.Tensor, weight: torch.Tensor,
                  bias: torch.Tensor | None) -> torch.Tensor:
    """For every group, for every filter of it: a weighted sum of the channels the group reads."""
    out = [None] * stage.out_channels
    for g in range(stage.groups):
        inputs = [x[:, s] for s in stage.group_inputs(g)]  # each N, H, W
        for o in stage.group_outputs(g):
            acc = sum(weight[o, i, 0, 0] * inputs[i] for i in range(stage.inputs_per_group))
            out[o] = acc + bias[o] if bias is not None else acc
    return torch.stack(out, dim=1)  # N, Fc, H, W


def oracle_forward(layer: InterleavedGroupedPointwise, x: torch.Tensor) -> torch.Tensor:
    """The block computed literally from its plan with the layer's own parameters (no running-stat update)."""
    plan = layer.plan
    k = _norm_act(_oracle_stage(plan.k, x, layer.k.weight, layer.k.bias), layer.k_norm, layer.act,
                  layer.training)
    if plan.interleave is not None:
        t = torch.stack([k[:, j] for j in plan.interleave], dim=1)
    else:
        t = k
    if plan.l is None:
        return t
    l = _norm_act(_oracle_stage(plan.l, t, layer.l.weight, layer.l.bias), layer.l_norm, layer.act,
                  layer.training)
    return l + k


class _PortStage(nn.Module):
    """A reference grouped stage: replicate by cat, path 1 (G groups x base filters) + path 2 (extras)."""

    def __init__(self, stage: GroupedStage, bias: bool):
        super().__init__()
        self.stage = stage
        base, extra, c = stage.base_filters, stage.uneven_groups, stage.inputs_per_group
        self.copies = len(stage.replicated)
        self.path1 = nn.Conv2d(stage.groups * c, stage.groups * base, 1, groups=stage.groups, bias=bias)
        self.path2 = (nn.Conv2d(extra * c, extra, 1, groups=extra, bias=bias) if extra else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.copies:
            x = torch.cat([x, x[:, : self.copies]], dim=1)
        y = self.path1(x)
        if self.path2 is not None:
            extra_inputs = self.stage.uneven_groups * self.stage.inputs_per_group
            y = torch.cat([y, self.path2(x[:, :extra_inputs])], dim=1)
        return y

    @torch.no_grad()
    def load(self, weight: torch.Tensor, bias: torch.Tensor | None) -> None:
        split = self.path1.out_channels
        self.path1.weight.copy_(weight[:split])
        if bias is not None:
            self.path1.bias.copy_(bias[:split])
        if self.path2 is not None:
            self.path2.weight.copy_(weight[split:])
            if bias is not None:
                self.path2.bias.copy_(bias[split:])


class StraightforwardPort(nn.Module):
    """The block as the reference code builds it, module for module, with the fast layer's weights."""

    def __init__(self, layer: InterleavedGroupedPointwise):
        super().__init__()
        plan, bias = layer.plan, layer.k.bias is not None
        self.plan = plan
        self.k = _PortStage(plan.k, bias)
        self.k.load(layer.k.weight, layer.k.bias)
        self.k_norm = _copy_norm(layer.k_norm)
        self.l = self.l_norm = None
        if plan.l is not None:
            self.l = _PortStage(plan.l, bias)
            self.l.load(layer.l.weight, layer.l.bias)
            self.l_norm = _copy_norm(layer.l_norm)
        self.act = layer.act
        self.train(layer.training)
        self.to(device=layer.k.weight.device, dtype=layer.k.weight.dtype)

    def _post(self, y: torch.Tensor, norm: nn.Module | None) -> torch.Tensor:
        y = norm(y) if norm is not None else y
        return self.act(y) if self.act is not None else y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self._post(self.k(x), self.k_norm)
        t = k
        if self.plan.interleave_step is not None:
            step = self.plan.interleave_step
            t = torch.cat([k[:, s::step] for s in range(step)], dim=1)
        if self.l is None:
            return t
        return self._post(self.l(t), self.l_norm) + k


def _copy_norm(norm: nn.Module | None) -> nn.Module | None:
    if norm is None:
        return None
    copy = nn.BatchNorm2d(norm.num_features, eps=norm.eps, momentum=norm.momentum)
    copy.load_state_dict(norm.state_dict())
    return copy
