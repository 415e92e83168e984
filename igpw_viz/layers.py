"""The training-ready PyTorch layer: an interleaved grouped pointwise block built from a plan.

All index maths comes from `plan.py`; this module only turns its tables into index buffers once, at
construction, so the forward pass is a few convs, at most one gather per stage, BN and the sum.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .conv_bn import conv1x1, conv1x1_bn, fold_pays, foldable, for_input, norm_scale_shift, output_stats
from .plan import GroupedStage, PointwisePlan, plan_pointwise

IMPLEMENTATIONS = ("auto", "matmul", "grouped", "dense")
_ACTIVATIONS = {"silu": nn.SiLU, "swish": nn.SiLU, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}

# BatchNorm as in Keras (epsilon 1e-3, momentum 0.99 == PyTorch momentum 0.01), like the reference.
BN_EPS = 1e-3
BN_MOMENTUM = 0.01


def make_activation(activation: str | nn.Module | None) -> nn.Module | None:
    """None, a name ("silu"/"swish", "relu", "sigmoid", "gelu") or an nn.Module instance."""
    if activation is None or isinstance(activation, nn.Module):
        return activation
    if isinstance(activation, str) and activation.lower() in _ACTIVATIONS:
        return _ACTIVATIONS[activation.lower()]()
    raise ValueError(f"activation must be None, an nn.Module or one of {sorted(_ACTIVATIONS)}, "
                     f"got {activation!r}")


SMALL_DENSE_WEIGHTS = 2048  # CPU: a stage whose dense weight is at most this many entries runs dense


def choose_implementation(stage: GroupedStage, device: str = "cpu") -> str:
    """Pick the form of a stage: "matmul" (gather, one batched matmul over groups, gather), "grouped"
    (the same with a grouped conv) or "dense" (block-diagonal dense weight: all Ic*Fc MACs, no gathers).

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


class _ChannelGather(torch.autograd.Function):
    """y = x[:, index] with a backward made of gathers: PyTorch's own backward (index_add_) takes a slow
    serial path on CPU when an index repeats, which replication always does.

    ``first[c]`` is the position where channel c is first read (or -1: never read, zero gradient);
    ``again_channels``/``again_positions`` list the channels read a second time (replication reads each
    channel at most twice).
    """

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


class GroupedConv1x1(nn.Module):
    """One grouped 1x1 conv of a plan (K or L) that reads channel ``reads[e]`` at extended position e.

    ``weight`` holds exactly the stage's real filters, in the reference's output order
    (out_channels x inputs_per_group x 1 x 1): no padded or dummy parameters. ``reads`` composes the
    stage's replication with any permutation before it (L reads the interleaved K output).
    """

    def __init__(self, stage: GroupedStage, reads: tuple[int, ...], in_channels: int, bias: bool,
                 implementation: str = "auto"):
        super().__init__()
        if implementation not in IMPLEMENTATIONS:
            raise ValueError(f"implementation must be one of {IMPLEMENTATIONS}, got {implementation!r}")
        self.stage, self.in_channels = stage, in_channels
        self.groups, self.width = stage.groups, stage.inputs_per_group
        self.out_channels = stage.out_channels
        self.weight = nn.Parameter(torch.empty(stage.out_channels, stage.inputs_per_group, 1, 1))
        self.bias = nn.Parameter(torch.zeros(stage.out_channels)) if bias else None
        self.forms = {device: choose_implementation(stage, device) if implementation == "auto" else implementation
                      for device in ("cpu", "cuda")}
        identity_reads = tuple(reads) == tuple(range(in_channels))
        self.plain = stage.is_dense and identity_reads  # an ordinary conv, weight used as it is

        # grouped form: gather the extended input, conv with filters padded to the largest group,
        # gather the real filters back in reference order.
        widest = max(stage.filters_per_group)
        slots = [g * widest + f for g, f in zip(stage.output_groups, stage.output_filters, strict=True)]
        self.padded_filters = stage.groups * widest
        self.fold_pays = fold_pays(stage.inputs_per_group, widest)  # per group: c inputs, widest filters
        self.read = None if identity_reads else ChannelGather(reads, in_channels)
        self.register_buffer("slot_index", None if slots == list(range(self.padded_filters))
                             else torch.tensor(slots), persistent=False)
        self.pick = None if self.slot_index is None else ChannelGather(slots, self.padded_filters)
        # dense form: scatter-add the grouped weights into an out x in matrix (replicated inputs add up).
        c = stage.inputs_per_group
        cols = [reads[g * c + i] for g in stage.output_groups for i in range(c)]
        self.register_buffer("dense_index", torch.tensor(
            [[o for o in range(stage.out_channels) for _ in range(c)], cols]), persistent=False)
        # block-diagonal form over the extended input (positions unique: a cheap index_copy, no accumulate)
        extended = stage.groups * c
        self.register_buffer("block_index", torch.tensor(
            [o * extended + g * c + i for o, g in enumerate(stage.output_groups) for i in range(c)]),
            persistent=False)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Glorot-uniform as Keras builds the reference: path 1 (G*base filters) and path 2 (extras)
        are separate kernels, each with fan_in = inputs per group."""
        c, base = self.width, self.stage.base_filters
        path1 = self.groups * base
        for rows, fan_out in ((slice(0, path1), path1), (slice(path1, None), self.out_channels - path1)):
            if fan_out:
                limit = math.sqrt(6.0 / (c + fan_out))
                self.weight[rows].uniform_(-limit, limit)
        if self.bias is not None:
            self.bias.zero_()

    def dense_weight(self) -> torch.Tensor:
        """The equivalent dense (out_channels x in_channels) matrix (replicated inputs summed)."""
        flat = self.weight.reshape(-1)
        dense = flat.new_zeros(self.out_channels, self.in_channels)
        return dense.index_put((self.dense_index[0], self.dense_index[1]), flat, accumulate=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[2] == 1 and x.shape[3] == 1:  # squeeze-excitation maps: one matmul beats conv set-up
            x = x.flatten(1)  # N, C
            if self.plain:
                return F.linear(x, self.weight.flatten(1), self.bias)[:, :, None, None]
            if self.read is not None:
                x = self.read(x)  # N, G*c
            extended = self.groups * self.width
            weight = self.weight.new_zeros(self.out_channels * extended).index_copy(
                0, self.block_index, self.weight.reshape(-1)).view(self.out_channels, extended)
            return F.linear(x, weight, self.bias)[:, :, None, None]  # N, Fc, 1, 1
        if self.plain:
            return conv1x1(x, self.weight.flatten(1), self.bias)
        form = self.forms.get(x.device.type, self.forms["cuda"])
        if form == "dense":
            return conv1x1(x, self.dense_weight(), self.bias, prefer_bmm=True)
        if self.read is not None:
            x = self.read(x)  # N, G*c, H, W
        weight, bias = self._to_slots(self.weight.flatten(1)), self.bias  # G*widest x c
        n, _, h, w = x.shape
        if form == "matmul":
            groups = self.groups
            y = torch.matmul(weight.view(groups, -1, self.width),  # G x widest x c
                             x.reshape(n, groups, self.width, h * w))  # N, G, widest, H*W
            y = y.view(n, self.padded_filters, h, w)
        else:
            y = F.conv2d(x, weight[:, :, None, None], groups=self.groups)  # N, G*widest, H, W
        if self.pick is not None:
            y = self.pick(y)  # N, Fc, H, W (reference order)
        return y if bias is None else y + bias.view(1, -1, 1, 1)

    def _to_slots(self, t: torch.Tensor) -> torch.Tensor:
        """Rows of ``t`` (one per real filter, reference order) placed in the stage's padded slots: uneven
        groups are padded to the widest group with zero rows (never stored as parameters)."""
        if self.slot_index is None:
            return t
        return t.new_zeros(self.padded_filters, *t.shape[1:]).index_copy(0, self.slot_index, t)

    def folds(self, x: torch.Tensor, norm: nn.Module | None) -> bool:
        """Whether ``forward_folded`` runs this stage with ``norm``: in eval always (BN is then a scale
        and shift); in training on the CPU where the input covariance costs less than BN's passes over
        the output (conv_bn.fold_pays). Only the plain conv and the batched-matmul form fold."""
        if self.bias is not None or not foldable(norm) or x.shape[2] * x.shape[3] == 1:
            return False
        on_cpu = x.device.type == "cpu"
        if not (self.plain or (on_cpu and self.forms["cpu"] == "matmul")):
            return False
        return not norm.training or (on_cpu and self.fold_pays)

    def forward_folded(self, x: torch.Tensor, norm: nn.BatchNorm2d) -> torch.Tensor:
        """norm(self(x)) with BN folded into the weights (exact; see conv_bn). x: contiguous on the CPU."""
        if self.plain:
            return conv1x1_bn(x, self.weight.flatten(1), norm)
        if self.read is not None:
            x = self.read(x)  # N, G*c, H, W
        n, _, h, w = x.shape
        groups, c = self.groups, self.width
        x4 = x.reshape(n, groups, c, h * w)  # N, G, c, HW
        weight = self._to_slots(self.weight.flatten(1)).view(groups, -1, c)  # G, widest, c
        if norm.training:
            mean, var, count = output_stats(x4, weight)  # G, widest (padded slots included)
            mean, var = mean.flatten(), var.flatten()
            if self.slot_index is not None:
                mean, var = mean[self.slot_index], var[self.slot_index]  # Fc, reference order
            scale, shift = norm_scale_shift(norm, mean, var, count)
        else:
            scale, shift = norm_scale_shift(norm)
        scale, shift = self._to_slots(scale), self._to_slots(shift)  # pad filters: weight 0, shift 0
        weight, shift = for_input(x, weight * scale.view(groups, -1, 1), shift)  # G, widest, c; G*widest
        widest = weight.shape[1]
        y = torch.baddbmm(shift.view(1, groups, widest, 1).expand(n, -1, -1, -1).reshape(n * groups, widest, 1),
                          weight.expand(n, -1, -1, -1).reshape(n * groups, widest, c),
                          x4.reshape(n * groups, c, h * w))  # N*G, widest, HW
        y = y.view(n, self.padded_filters, h, w)
        return self.pick(y) if self.pick is not None else y  # N, Fc, H, W (reference order)

    def extra_repr(self) -> str:
        return (f"{self.in_channels} -> {self.out_channels}, groups={self.groups}, width={self.width}, "
                f"forms={'plain' if self.plain else self.forms}")


def _check_input(module: nn.Module, x: torch.Tensor, in_channels: int) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"{type(module).__name__} expects a 4-d input N x C x H x W, got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    if x.shape[1] != in_channels:
        raise ValueError(f"input has {x.shape[1]} channels but in_channels={in_channels}")


class InterleavedGroupedPointwise(nn.Module):
    """Drop-in replacement of a 1x1 conv (+BN, +activation): y = f(BN_L(L(P(k)))) + k, k = f(BN_K(K x)).

    Each conv (K and L) has its own BN and activation, the sum comes last, as in the reference block.
    A dense plan gives a plain conv (+BN, +activation), so a whole network can be built through it.
    """

    def __init__(self, in_channels: int, out_channels: int, channels_per_group: int, scheme: str = "v2",
                 batch_norm: bool = True, activation: str | nn.Module | None = None, bias: bool = False,
                 *, implementation: str = "auto", bn_eps: float = BN_EPS, bn_momentum: float = BN_MOMENTUM):
        super().__init__()
        self.plan: PointwisePlan = plan_pointwise(in_channels, out_channels, channels_per_group, scheme)
        plan = self.plan
        self.in_channels, self.out_channels = in_channels, out_channels
        self.act = make_activation(activation)

        def norm() -> nn.Module:
            return nn.BatchNorm2d(out_channels, eps=bn_eps, momentum=bn_momentum) if batch_norm else None

        self.k = GroupedConv1x1(plan.k, plan.k.sources, in_channels, bias, implementation)
        self.k_norm = norm()
        self.l = self.l_norm = None
        if plan.l is not None:
            self.l = GroupedConv1x1(plan.l, plan.l_sources, out_channels, bias, implementation)
            self.l_norm = norm()
        self.matmul_on_cpu = "matmul" in (self.k.forms["cpu"], self.l.forms["cpu"] if self.l else None)
        outputs = plan.output_sources
        self.output_gather = None if outputs == tuple(range(out_channels)) else ChannelGather(
            outputs, out_channels)

    def _stage(self, conv: GroupedConv1x1, x: torch.Tensor, norm: nn.Module | None) -> torch.Tensor:
        """act(norm(conv(x))), with BN folded into the conv where that is exact and faster (conv.folds)."""
        if conv.folds(x, norm):
            y = conv.forward_folded(x, norm)
        else:
            y = conv(x)
            y = norm(y) if norm is not None else y
        return self.act(y) if self.act is not None else y

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(self, x, self.in_channels)
        if self.matmul_on_cpu and x.device.type == "cpu":
            x = x.contiguous()  # the batched matmul reads groups as views of NCHW memory
        k = self._stage(self.k, x, self.k_norm)  # N, Fc, H, W
        if self.l is not None:
            return self._stage(self.l, k, self.l_norm) + k  # N, Fc, H, W
        if self.output_gather is not None:  # V1 interleaves even without L
            k = self.output_gather(k)
        return k

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def fuse(self) -> nn.Module:
        """Fold the block (eval mode) into one dense 1x1 conv with bias, followed by the activation when
        there is no L. Blocks with an activation between K and L cannot be folded: ValueError."""
        if self.l is not None and self.act is not None:
            raise ValueError(f"cannot fuse a block with activation={self.act!r} between K and L; "
                             "only blocks whose K and L have no activation fold into one conv")
        if self.training:
            raise ValueError("fuse() folds BatchNorm running statistics: call .eval() first")
        weight_k, bias_k = _fold(self.k, self.k_norm)
        if self.l is None:
            weight, bias = weight_k, bias_k
            if self.output_gather is not None:
                index = self.output_gather.index
                weight, bias = weight[index], bias[index]
        else:
            weight_l, bias_l = _fold(self.l, self.l_norm)  # acts on K's output (interleave included)
            mix = weight_l + torch.eye(self.out_channels, dtype=weight_l.dtype, device=weight_l.device)
            weight, bias = mix @ weight_k, mix @ bias_k + bias_l
        conv = nn.Conv2d(self.in_channels, self.out_channels, 1, bias=True)
        conv = conv.to(device=self.k.weight.device, dtype=self.k.weight.dtype)
        conv.weight.copy_(weight[:, :, None, None])
        conv.bias.copy_(bias)
        return conv if self.act is None else nn.Sequential(conv, self.act)

    def extra_repr(self) -> str:
        p = self.plan
        return (f"{p.in_channels} -> {p.out_channels}, channels_per_group={p.channels_per_group}, "
                f"scheme={p.scheme!r}, weights={p.weights} of {p.dense_weights}")


def _fold(conv: GroupedConv1x1, norm: nn.Module | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The dense matrix and bias of conv followed by an eval-mode BatchNorm."""
    weight = conv.dense_weight()
    bias = conv.bias if conv.bias is not None else weight.new_zeros(conv.out_channels)
    if norm is None:
        return weight, bias
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    return weight * scale[:, None], (bias - norm.running_mean) * scale + norm.bias
