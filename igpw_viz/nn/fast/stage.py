"""The fast forms of one grouped 1x1 stage (K or L), computing what `GroupedPointwiseConv` computes.

A `FastStage` holds only index buffers, built once from the plan; the weights stay in the readable
layer's parameters and are passed in, so both faces share one state_dict. Forms:

- "matmul": gather the extended input, one batched matmul over the groups with filters padded to the
  widest group (zero rows built on the fly, never parameters), gather the real filters back;
- "grouped": the same with a grouped conv (cuDNN's, the CUDA default);
- "dense": the equivalent block-diagonal dense weight: all Ic x Fc MACs but no gathers.

On the CPU in channels_last (NHWC) memory, "auto" treats the pixels as rows of an (N*H*W) x C matrix:
wide stages (dense weight >= 30,000 entries) gather their groups' inputs, run one batched matmul over the
groups and gather the real filters back; narrower ones run one matmul with the dense weight (fewer ops
than the gathers save). Measured per layer (benchmarks/layer_bench.py --layout nhwc, RESULTS.md 10).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ...core.plan import GroupedStage
from .conv_bn import conv1x1, conv1x1_bn, fold_pays, foldable, for_input, norm_scale_shift, output_stats
from .gather import ChannelGather

IMPLEMENTATIONS = ("auto", "matmul", "grouped", "dense")
SMALL_DENSE_WEIGHTS = 2048  # CPU: a stage whose dense weight is at most this many entries runs dense
NHWC_GROUPED_WEIGHTS = 30_000  # CPU, NHWC: a stage whose dense weight has this many entries runs grouped


def choose_implementation(stage: GroupedStage, device: str = "cpu") -> str:
    """Pick the form of a stage ("matmul", "grouped" or "dense").

    Measured on this 2-core CPU, fwd+bwd (benchmarks/stage_choice.py): the batched matmul beats oneDNN's
    NCHW grouped conv on every B0 stage (up to 2.5x). Small stages (dense weight <= 2,048 entries, e.g. L
    of 144->40: 40 x 40) run dense as one batched matmul: their gathers cost more than the extra MACs
    (L of 96->24 @56: 0.79 vs 1.35 ms with 2 threads). CUDA is not measured here: cuDNN's grouped conv is
    the default there.
    """
    if stage.is_dense:
        return "dense"
    if device != "cpu":
        return "grouped"
    return "dense" if stage.in_channels * stage.out_channels <= SMALL_DENSE_WEIGHTS else "matmul"


def is_cpu_channels_last(x: torch.Tensor) -> bool:
    """An N x C x H x W CPU tensor laid out NHWC (not also NCHW-contiguous, as 1x1 maps are)."""
    return (x.device.type == "cpu" and x.dim() == 4 and not x.is_contiguous()
            and x.is_contiguous(memory_format=torch.channels_last))


class FastStage(nn.Module):
    """Index buffers and forms of one stage that reads channel ``reads[e]`` at extended position e
    (``reads`` composes the stage's replication with any permutation before it: L reads the interleaved
    K output). Weights come in the reference's output order: out_channels x inputs_per_group."""

    def __init__(self, stage: GroupedStage, reads: tuple[int, ...], in_channels: int, implementation: str = "auto"):
        super().__init__()
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(f"implementation must be one of {IMPLEMENTATIONS} or 'readable', "
                             f"got {implementation!r}")
        self.stage, self.in_channels = stage, in_channels
        self.groups, self.width, self.out_channels = stage.groups, stage.inputs_per_group, stage.out_channels
        self.forms = {device: choose_implementation(stage, device) if implementation == "auto" else implementation
                      for device in ("cpu", "cuda")}
        # channels_last on the CPU ("auto" only): the pixel-row form, "grouped" or "dense" (see above)
        wide = self.forms["cpu"] == "matmul" and in_channels * stage.out_channels >= NHWC_GROUPED_WEIGHTS
        self.nhwc_form = None if implementation != "auto" else "grouped" if wide else "dense"
        identity_reads = tuple(reads) == tuple(range(in_channels))
        self.plain = stage.is_dense and identity_reads  # an ordinary conv, weight used as it is

        widest, c = stage.widest_group, stage.inputs_per_group
        slots = [g * widest + f for g, f in zip(stage.output_groups, stage.output_filters, strict=True)]
        self.padded_filters = stage.groups * widest
        self.fold_pays = fold_pays(c, widest)  # per group: c inputs, widest filters
        self.read = None if identity_reads else ChannelGather(reads, in_channels)
        self.register_buffer("slot_index", None if slots == list(range(self.padded_filters))
                             else torch.tensor(slots), persistent=False)
        self.pick = None if self.slot_index is None else ChannelGather(slots, self.padded_filters)
        # dense form: scatter-add the grouped weights into an out x in matrix (replicated inputs add up)
        positions = stage.weight_positions()
        rows = [o for o in range(stage.out_channels) for _ in range(c)]
        self.register_buffer("dense_index", torch.tensor([rows, [reads[e] for e in positions]]), persistent=False)
        # block-diagonal form over the extended input (positions unique: a cheap index_copy, no accumulate)
        extended = stage.groups * c
        block = [o * extended + e for o, e in zip(rows, positions, strict=True)]
        self.register_buffer("block_index", torch.tensor(block), persistent=False)

    def dense_weight(self, weight: torch.Tensor) -> torch.Tensor:
        """The equivalent dense (out_channels x in_channels) matrix (replicated inputs summed)."""
        flat = weight.reshape(-1)
        dense = flat.new_zeros(self.out_channels, self.in_channels)
        return dense.index_put((self.dense_index[0], self.dense_index[1]), flat, accumulate=True)

    def forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """The stage on x (N, in_channels, H, W) -> N, Fc, H, W in the reference order."""
        if x.shape[2] == 1 and x.shape[3] == 1:  # squeeze-excitation maps: one matmul beats conv set-up
            x = x.flatten(1)  # N, C
            if self.plain:
                return F.linear(x, weight.flatten(1), bias)[:, :, None, None]
            if self.read is not None:
                x = self.read(x)  # N, G*c
            extended = self.groups * self.width
            block = weight.new_zeros(self.out_channels * extended).index_copy(
                0, self.block_index, weight.reshape(-1)).view(self.out_channels, extended)
            return F.linear(x, block, bias)[:, :, None, None]  # N, Fc, 1, 1
        if self.nhwc_form is not None and is_cpu_channels_last(x):
            n, c, h, w = x.shape
            pixels = x.permute(0, 2, 3, 1).reshape(n * h * w, c)  # a view of NHWC memory: N*H*W, C
            if self.nhwc_form == "grouped":
                y = self._pixel_rows_grouped(pixels, weight)  # N*H*W, Fc
                y = y if bias is None else y + bias
            else:
                dense = weight.flatten(1) if self.plain else self.dense_weight(weight)  # Fc x C
                y = F.linear(pixels, dense, bias)  # N*H*W, Fc
            return y.view(n, h, w, -1).permute(0, 3, 1, 2)  # N, Fc, H, W (NHWC memory)
        if self.plain:
            return conv1x1(x, weight.flatten(1), bias)
        form = self.forms.get(x.device.type, self.forms["cuda"])
        if form == "dense":
            return conv1x1(x, self.dense_weight(weight), bias, prefer_bmm=True)
        if self.read is not None:
            x = self.read(x)  # N, G*c, H, W
        padded = self._to_slots(weight.flatten(1))  # G*widest x c
        n, _, h, w = x.shape
        if form == "matmul":
            y = torch.matmul(padded.view(self.groups, -1, self.width),  # G x widest x c
                             x.reshape(n, self.groups, self.width, h * w))  # N, G, widest, H*W
            y = y.view(n, self.padded_filters, h, w)
        else:
            y = F.conv2d(x, padded[:, :, None, None], groups=self.groups)  # N, G*widest, H, W
        if self.pick is not None:
            y = self.pick(y)  # N, Fc, H, W (reference order)
        return y if bias is None else y + bias.view(1, -1, 1, 1)

    def _pixel_rows_grouped(self, pixels: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """The stage on pixel rows (M x C, NHWC memory): gather, one matmul per group, gather back."""
        m = pixels.shape[0]
        if self.read is not None:
            pixels = self.read(pixels)  # M, G*c
        padded = self._to_slots(weight.flatten(1)).view(self.groups, -1, self.width)  # G, widest, c
        y = torch.bmm(pixels.view(m, self.groups, self.width).transpose(0, 1),  # G, M, c
                      padded.transpose(1, 2))  # G, M, widest
        y = y.transpose(0, 1).reshape(m, self.padded_filters)  # M, G*widest
        return self.pick(y) if self.pick is not None else y  # M, Fc (reference order)

    def _to_slots(self, t: torch.Tensor) -> torch.Tensor:
        """Rows of ``t`` (one per real filter, reference order) placed in the padded slots: uneven groups
        are padded to the widest group with zero rows."""
        if self.slot_index is None:
            return t
        return t.new_zeros(self.padded_filters, *t.shape[1:]).index_copy(0, self.slot_index, t)

    def folds(self, x: torch.Tensor, norm: nn.Module | None, bias: torch.Tensor | None) -> bool:
        """Whether `forward_folded` runs this stage with ``norm``: in eval always (BN is then a scale and
        shift); in training on the CPU where the input covariance costs less than BN's passes over the
        output (conv_bn.fold_pays). Only the plain conv and the batched-matmul form fold."""
        if bias is not None or not foldable(norm) or x.shape[2] * x.shape[3] == 1:
            return False
        if self.nhwc_form is not None and is_cpu_channels_last(x):  # BatchNorm is cheap in NHWC memory
            return False
        on_cpu = x.device.type == "cpu"
        if not (self.plain or (on_cpu and self.forms["cpu"] == "matmul")):
            return False
        return not norm.training or (on_cpu and self.fold_pays)

    def forward_folded(self, x: torch.Tensor, weight: torch.Tensor, norm: nn.BatchNorm2d) -> torch.Tensor:
        """norm(stage(x)) with BN folded into the weights (exact; see conv_bn). x: contiguous on the CPU."""
        if self.plain:
            return conv1x1_bn(x, weight.flatten(1), norm)
        if self.read is not None:
            x = self.read(x)  # N, G*c, H, W
        n, _, h, w = x.shape
        groups, c = self.groups, self.width
        x4 = x.reshape(n, groups, c, h * w)  # N, G, c, HW
        padded = self._to_slots(weight.flatten(1)).view(groups, -1, c)  # G, widest, c
        if norm.training:
            mean, var, count = output_stats(x4, padded)  # G, widest (padded slots included)
            mean, var = mean.flatten(), var.flatten()
            if self.slot_index is not None:
                mean, var = mean[self.slot_index], var[self.slot_index]  # Fc, reference order
            scale, shift = norm_scale_shift(norm, mean, var, count)
        else:
            scale, shift = norm_scale_shift(norm)
        scale, shift = self._to_slots(scale), self._to_slots(shift)  # pad filters: weight 0, shift 0
        padded, shift = for_input(x, padded * scale.view(groups, -1, 1), shift)  # G, widest, c; G*widest
        widest = padded.shape[1]
        y = torch.baddbmm(shift.view(1, groups, widest, 1).expand(n, -1, -1, -1).reshape(n * groups, widest, 1),
                          padded.expand(n, -1, -1, -1).reshape(n * groups, widest, c),
                          x4.reshape(n * groups, c, h * w))  # N*G, widest, HW
        y = y.view(n, self.padded_filters, h, w)
        return self.pick(y) if self.pick is not None else y  # N, Fc, H, W (reference order)

    def extra_repr(self) -> str:
        return (f"{self.in_channels} -> {self.out_channels}, groups={self.groups}, width={self.width}, "
                f"forms={'plain' if self.plain else self.forms}")
