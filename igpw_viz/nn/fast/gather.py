"""Channel gathers (permutation, replication, subset) with a backward made of gathers.

PyTorch's own backward of ``x[:, index]`` (``index_add_``) takes a slow serial path on the CPU when an
index repeats, which replication always does; this one reads each channel's gradient where it was first
read and adds the second reads (replication reads a channel at most twice).
"""

from __future__ import annotations

import torch
from torch import nn


class _ChannelGather(torch.autograd.Function):
    """y = x[:, index]; ``first[c]``: where channel c is first read (``unread``: never read, zero gradient);
    ``again_channels``/``again_positions``: the channels read a second time and where."""

    @staticmethod
    def forward(ctx, x, index, first, unread, again_channels, again_positions):
        ctx.save_for_backward(first, unread, again_channels, again_positions)
        return x.index_select(1, index)

    @staticmethod
    def backward(ctx, grad):
        first, unread, again_channels, again_positions = ctx.saved_tensors
        grad_x = grad.index_select(1, first)  # N, C, H, W: each channel's first read
        if unread.numel():
            grad_x.index_fill_(1, unread, 0.0)
        if again_channels.numel():
            grad_x.index_add_(1, again_channels, grad.index_select(1, again_positions))
        return grad_x, None, None, None, None, None


class ChannelGather(nn.Module):
    """Select channels ``index`` (dim 1) of an N x C (x H x W) tensor: a permutation, replication or subset."""

    def __init__(self, index: list[int] | tuple[int, ...], channels: int):
        super().__init__()
        first, again = [-1] * channels, []
        for position, c in enumerate(index):
            if first[c] < 0:
                first[c] = position
            else:
                again.append((c, position))
        if len({c for c, _ in again}) != len(again):
            raise ValueError("ChannelGather supports at most two reads of a channel")

        def buffer(name: str, values: list[int]) -> None:
            self.register_buffer(name, torch.tensor(values, dtype=torch.long), persistent=False)

        buffer("index", list(index))
        buffer("first", [max(f, 0) for f in first])
        buffer("unread", [c for c, f in enumerate(first) if f < 0])
        buffer("again_channels", [c for c, _ in again])
        buffer("again_positions", [p for _, p in again])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.compiler.is_compiling() or not torch.is_grad_enabled():
            return x.index_select(1, self.index)  # the compiler writes its own backward
        return _ChannelGather.apply(x, self.index, self.first, self.unread, self.again_channels,
                                    self.again_positions)
