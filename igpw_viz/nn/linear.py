"""The block for `nn.Linear` layers (a transformer's MLP, a classifier): the same plan, applied to the last
dimension. A linear layer is a 1x1 conv on a 1x1 map, so this is `InterleavedGroupedPointwise` without
BatchNorm, seen through a reshape."""

from __future__ import annotations

import torch
from torch import nn

from ..core.plan import PointwisePlan
from .layer import InterleavedGroupedPointwise


class InterleavedGroupedLinear(nn.Module):
    """Drop-in replacement of ``nn.Linear(in_features, out_features, bias)``: K, interleave, L and the sum
    on the last dimension of inputs shaped (..., in_features)."""

    def __init__(self, in_features: int, out_features: int, channels_per_group: int, scheme: str = "v2",
                 bias: bool = True, *, implementation: str = "auto"):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.block = InterleavedGroupedPointwise(in_features, out_features, channels_per_group, scheme,
                                                 batch_norm=False, activation=None, bias=bias,
                                                 implementation=implementation)

    @property
    def plan(self) -> PointwisePlan:
        return self.block.plan

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise ValueError(f"input has {x.shape[-1]} features but in_features={self.in_features}")
        lead = x.shape[:-1]
        y = self.block(x.reshape(-1, self.in_features, 1, 1))  # M, out_features, 1, 1 (M = prod(lead))
        return y.reshape(*lead, self.out_features)

    @torch.no_grad()
    def fuse(self) -> nn.Linear:
        """One dense `nn.Linear` computing the same function (for inference or inspection)."""
        training = self.block.training  # no BatchNorm here: eval mode changes nothing, fuse() asks for it
        conv = self.block.eval().fuse()
        self.block.train(training)
        linear = nn.Linear(self.in_features, self.out_features).to(conv.weight)
        linear.weight.copy_(conv.weight.flatten(1))
        linear.bias.copy_(conv.bias)
        return linear

    def extra_repr(self) -> str:
        p = self.plan
        return (f"{p.in_channels} -> {p.out_channels}, channels_per_group={p.channels_per_group}, "
                f"scheme={p.scheme!r}, weights={p.weights} of {p.dense_weights}")
