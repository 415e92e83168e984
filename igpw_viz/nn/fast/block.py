"""The fast backend of `InterleavedGroupedPointwise`: the same block, each stage in its fastest measured form.

The layer keeps the parameters (K's and L's weights, their BatchNorms); `FastBlock` holds only index
buffers and reads the layer's parameters at each call, so switching between the readable and the fast
face changes no state. The replication, the interleave and L's own replication are composed into one
gather per stage; BatchNorm is folded into the conv where that is exact and faster (`conv_bn`).
"""

from __future__ import annotations

import torch
from torch import nn

from ...core.plan import PointwisePlan
from .gather import ChannelGather
from .stage import FastStage, is_cpu_channels_last


class FastBlock(nn.Module):
    """Index buffers and forms of a whole block (K, interleave, L, sum); see `forward`."""

    def __init__(self, plan: PointwisePlan, implementation: str = "auto"):
        super().__init__()
        self.k = FastStage(plan.k, plan.k.sources, plan.in_channels, implementation)
        self.l = FastStage(plan.l, plan.l_sources, plan.out_channels, implementation) if plan.l else None
        self.matmul_on_cpu = "matmul" in (self.k.forms["cpu"], self.l.forms["cpu"] if self.l else None)
        outputs = plan.output_sources
        self.output_gather = None if outputs == tuple(range(plan.out_channels)) else ChannelGather(
            outputs, plan.out_channels)

    @staticmethod
    def _stage(fast: FastStage, conv: nn.Module, x: torch.Tensor, norm: nn.Module | None,
               act: nn.Module | None) -> torch.Tensor:
        """act(norm(conv(x))), with BN folded into the conv where that is exact and faster."""
        if fast.folds(x, norm, conv.bias):
            y = fast.forward_folded(x, conv.weight, norm)
        else:
            y = fast(x, conv.weight, conv.bias)
            y = norm(y) if norm is not None else y
        return act(y) if act is not None else y

    def forward(self, layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """What ``layer`` computes on x (N, Ic, H, W), with ``layer``'s parameters -> N, Fc, H, W."""
        if self.matmul_on_cpu and x.device.type == "cpu" and not (self.k.nhwc_form and is_cpu_channels_last(x)):
            x = x.contiguous()  # the batched matmul reads groups as views of NCHW memory
        k = self._stage(self.k, layer.k, x, layer.k_norm, layer.act)  # N, Fc, H, W
        if self.l is not None:
            return self._stage(self.l, layer.l, k, layer.l_norm, layer.act) + k  # N, Fc, H, W
        if self.output_gather is not None:  # V1 interleaves even without L
            k = self.output_gather(k)
        return k
