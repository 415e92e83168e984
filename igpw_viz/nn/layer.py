"""The interleaved grouped pointwise block in plain PyTorch: what replaces one 1x1 conv (+BN, +activation).

Read this file to see the method (`docs/algorithm.md` states its rules). A 1x1 conv Ic -> Fc becomes:

    k = act(BN_K(K(replicate(x))))              K: a grouped 1x1 conv, Ic -> Fc
    t = replicate_L(interleave(k))              mix the outputs of different K groups
    y = act(BN_L(L(t))) + k                     L: a grouped 1x1 conv, Fc -> Fc; the sum uses k itself

Expansions (Fc > Ic) are K alone. Every index table (which channels are copied, which filters each group
has, the interleave) comes from the plan, `igpw_viz.core.plan.plan_pointwise`; this file only applies them.

Speed lives elsewhere: by default the layer hands its forward pass to `igpw_viz.nn.fast`, which computes
the same function with the same parameters in forms measured faster (tests/test_layer_faces.py compares
both faces in float64). ``implementation="readable"`` runs the code below instead.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..core.architecture import KERAS
from ..core.plan import GroupedStage, PointwisePlan, plan_pointwise
from .fast import IMPLEMENTATIONS, FastBlock

LAYER_IMPLEMENTATIONS = ("readable",) + IMPLEMENTATIONS  # "auto": the fast forms, chosen per stage
BN_EPS, BN_MOMENTUM = KERAS.bn_eps, KERAS.bn_momentum  # the reference's BatchNorm (Keras defaults)
_ACTIVATIONS = {"silu": nn.SiLU, "swish": nn.SiLU, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "gelu": nn.GELU}


def make_activation(activation: str | nn.Module | None) -> nn.Module | None:
    """None, a name ("silu"/"swish", "relu", "sigmoid", "gelu") or an nn.Module instance."""
    if activation is None or isinstance(activation, nn.Module):
        return activation
    if isinstance(activation, str) and activation.lower() in _ACTIVATIONS:
        return _ACTIVATIONS[activation.lower()]()
    raise ValueError(f"activation must be None, an nn.Module or one of {sorted(_ACTIVATIONS)}, "
                     f"got {activation!r}")


class GroupedPointwiseConv(nn.Module):
    """One grouped 1x1 conv of the plan (K or L), applied to its *extended* input (copies appended).

    ``weight`` holds exactly the stage's real filters (out_channels x inputs_per_group x 1 x 1) in the
    reference's output order: first ``base`` filters of every group (group-major, "path 1"), then the
    one extra filter of each of the first ``uneven_groups`` groups ("path 2").
    """

    def __init__(self, stage: GroupedStage, bias: bool):
        super().__init__()
        self.stage = stage
        self.weight = nn.Parameter(torch.empty(stage.out_channels, stage.inputs_per_group, 1, 1))
        self.bias = nn.Parameter(torch.zeros(stage.out_channels)) if bias else None
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Glorot-uniform as Keras builds the reference: path 1 and path 2 are separate kernels, each with
        fan_in = inputs per group."""
        s = self.stage
        path1 = s.groups * s.base_filters
        for rows, fan_out in ((slice(0, path1), path1), (slice(path1, None), s.out_channels - path1)):
            if fan_out:
                limit = math.sqrt(6.0 / (s.inputs_per_group + fan_out))
                self.weight[rows].uniform_(-limit, limit)
        if self.bias is not None:
            self.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: N, G*c, H, W (the extended input)
        s, w, b = self.stage, self.weight, self.bias
        path1 = s.groups * s.base_filters
        y = F.conv2d(x, w[:path1], None if b is None else b[:path1], groups=s.groups)  # N, G*base, H, W
        if s.uneven_groups:  # one more filter for each of the first groups, reading those groups' inputs
            first_groups = x[:, : s.uneven_groups * s.inputs_per_group]  # N, extra*c, H, W
            extra = F.conv2d(first_groups, w[path1:], None if b is None else b[path1:],
                             groups=s.uneven_groups)  # N, extra, H, W
            y = torch.cat([y, extra], dim=1)
        return y  # N, Fc, H, W

    def dense_weight(self, reads: tuple[int, ...], in_channels: int) -> torch.Tensor:
        """The dense (Fc x in_channels) matrix this conv equals when position e reads channel reads[e]:
        filter o of group g puts its weights on the channels its group reads (copies add up)."""
        s = self.stage
        rows = [o for o in range(s.out_channels) for _ in range(s.inputs_per_group)]
        cols = [reads[e] for e in s.weight_positions()]
        dense = self.weight.new_zeros(s.out_channels, in_channels)
        index = torch.tensor([rows, cols], device=self.weight.device)
        return dense.index_put((index[0], index[1]), self.weight.flatten(), accumulate=True)


class InterleavedGroupedPointwise(nn.Module):
    """Drop-in replacement of a 1x1 conv (+BN, +activation) by K, interleave, L and the sum.

    Each conv (K and L) has its own BN and activation and the sum comes last, as in the reference block.
    A dense plan gives a plain conv (+BN, +activation), so a whole network can be built through it.
    ``implementation``: "auto" (default: the fast forms of `igpw_viz.nn.fast`, chosen per stage and
    device), "readable" (the plain code below), or one fast form for every stage ("matmul", "grouped",
    "dense"). All compute the same function with the same parameters.
    """

    def __init__(self, in_channels: int, out_channels: int, channels_per_group: int, scheme: str = "v2",
                 batch_norm: bool = True, activation: str | nn.Module | None = None, bias: bool = False,
                 *, implementation: str = "auto", bn_eps: float = BN_EPS, bn_momentum: float = BN_MOMENTUM):
        super().__init__()
        if implementation not in LAYER_IMPLEMENTATIONS:
            raise ValueError(f"implementation must be one of {LAYER_IMPLEMENTATIONS}, got {implementation!r}")
        self.plan: PointwisePlan = plan_pointwise(in_channels, out_channels, channels_per_group, scheme)
        plan = self.plan
        self.in_channels, self.out_channels = in_channels, out_channels
        self.act = make_activation(activation)

        def norm() -> nn.Module | None:
            return nn.BatchNorm2d(out_channels, eps=bn_eps, momentum=bn_momentum) if batch_norm else None

        self.k, self.k_norm = GroupedPointwiseConv(plan.k, bias), norm()
        self.l = self.l_norm = None
        if plan.l is not None:
            self.l, self.l_norm = GroupedPointwiseConv(plan.l, bias), norm()

        # The plan's index tables as tensors (they follow .to(device); not saved in the state_dict).
        def table(name: str, values: tuple[int, ...]) -> None:
            self.register_buffer(name, torch.tensor(values, dtype=torch.long), persistent=False)

        table("k_reads", plan.k.sources)  # K's extended input: the channels, then copies of the first ones
        table("interleave", plan.interleave or tuple(range(out_channels)))
        table("l_reads", plan.l.sources if plan.l is not None else ())  # L's copies of interleaved channels
        table("output_order", plan.output_sources)  # V1 without L: the interleaved K output
        self.fast = None if implementation == "readable" else FastBlock(plan, implementation)
        self.implementation = "readable" if self.fast is None else "fast"  # which face runs forward


    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(self, x, self.in_channels)
        if self.fast is not None:
            return self.fast(self, x)  # the same function, computed by the fast forms
        return self.readable_forward(x)

    def readable_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The block as the method describes it."""
        x = x[:, self.k_reads]  # N, G_K*c_K, H, W: replication (copies of the first channels appended)
        k = self._post(self.k(x), self.k_norm)  # N, Fc, H, W
        if self.l is None:  # an expansion (or a dense plan): K alone
            return k[:, self.output_order]  # V1 still interleaves; V2 and dense: the identity
        t = k[:, self.interleave]  # N, Fc, H, W: each L group now sees several K groups
        t = t[:, self.l_reads]  # N, G_L*c_L, H, W: L's replication
        l = self._post(self.l(t), self.l_norm)  # N, Fc, H, W
        return l + k  # the sum adds K's output as it was before the interleave

    def _post(self, y: torch.Tensor, norm: nn.Module | None) -> torch.Tensor:
        y = norm(y) if norm is not None else y
        return self.act(y) if self.act is not None else y

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def fuse(self) -> nn.Module:
        """Fold the block (eval mode) into one dense 1x1 conv with bias, followed by the activation when
        there is no L. The block is linear when K and L have no activation: y = (W_L + I) W_K x + ..."""
        if self.l is not None and self.act is not None:
            raise ValueError(f"cannot fuse a block with activation={self.act!r} between K and L; "
                             "only blocks whose K and L have no activation fold into one conv")
        if self.training:
            raise ValueError("fuse() folds BatchNorm running statistics: call .eval() first")
        plan = self.plan
        weight_k, bias_k = _fold(self.k, self.k_norm, plan.k.sources, self.in_channels)
        if self.l is None:
            weight, bias = weight_k[self.output_order], bias_k[self.output_order]
        else:  # L reads K's output through the interleave: l_sources composes both
            weight_l, bias_l = _fold(self.l, self.l_norm, plan.l_sources, self.out_channels)
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
                f"scheme={p.scheme!r}, weights={p.weights} of {p.dense_weights}, "
                f"implementation={self.implementation!r}")

    def __repr__(self) -> str:
        """The parameters a student sees; the fast backend's index buffers stay out of the printout
        (print ``layer.fast`` to see them)."""
        fast = self._modules.pop("fast", None)  # registered last, so putting it back keeps the order
        try:
            return super().__repr__()
        finally:
            if fast is not None:
                self._modules["fast"] = fast


def _check_input(module: nn.Module, x: torch.Tensor, in_channels: int) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        raise ValueError(f"{type(module).__name__} expects a 4-d input N x C x H x W, got "
                         f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
    if x.shape[1] != in_channels:
        raise ValueError(f"input has {x.shape[1]} channels but in_channels={in_channels}")


def _fold(conv: GroupedPointwiseConv, norm: nn.Module | None, reads: tuple[int, ...],
          in_channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The dense matrix and bias of a conv followed by an eval-mode BatchNorm."""
    weight = conv.dense_weight(reads, in_channels)
    bias = conv.bias if conv.bias is not None else weight.new_zeros(conv.stage.out_channels)
    if norm is None:
        return weight, bias
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    return weight * scale[:, None], (bias - norm.running_mean) * scale + norm.bias
