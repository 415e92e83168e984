"""Exact counts for a model: trainable parameters, analytic MACs, and a table of its pointwise layers.

MACs are analytic (output pixels x out channels x k x k x inputs per group, plus in x out for a Linear;
a grouped pointwise block counts its plan's weights per output pixel), not `FlopCounterMode`, whose
grouped-conv backward is wrong in torch 2.13. Spatial sizes come from one batch-1 forward with hooks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from .layer import InterleavedGroupedPointwise

_COUNTED = (nn.Conv2d, nn.Linear, InterleavedGroupedPointwise)


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (BN gamma/beta included, running statistics excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _size(image_size: int | tuple[int, int]) -> tuple[int, int]:
    h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    return int(h), int(w)


def _counted_modules(module: nn.Module) -> list[nn.Module]:
    """Convs, Linears and pointwise blocks, without descending into a pointwise block."""
    found = []
    for child in module.children():
        if isinstance(child, _COUNTED):
            found.append(child)
        else:
            found += _counted_modules(child)
    return found


@torch.no_grad()
def output_pixels(model: nn.Module, image_size: int | tuple[int, int]) -> dict[nn.Module, int]:
    """Output H*W of every counted module for one image (a batch-1 eval forward with hooks)."""
    pixels: dict[nn.Module, int] = {}
    hooks = [m.register_forward_hook(lambda mod, _, out: pixels.__setitem__(
        mod, out.shape[-2] * out.shape[-1] if out.dim() == 4 else 1)) for m in _counted_modules(model)]
    param = next(model.parameters())
    was_training = model.training
    try:
        model.eval()
        model(torch.zeros(1, getattr(model, "in_channels", 3), *_size(image_size),
                          dtype=param.dtype, device=param.device))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return pixels


def _macs_per_pixel(module: nn.Module) -> int:
    if isinstance(module, InterleavedGroupedPointwise):
        return module.plan.macs_per_pixel
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return module.out_channels * kh * kw * (module.in_channels // module.groups)
    return module.in_features * module.out_features  # nn.Linear


def count_macs(model: nn.Module, image_size: int | tuple[int, int]) -> int:
    """Analytic multiply-accumulates of one image: convs, depthwise convs, pointwise blocks, classifier."""
    pixels = output_pixels(model, image_size)
    return sum(_macs_per_pixel(m) * pixels[m] for m in _counted_modules(model) if m in pixels)


# --------------------------------------------------------------------------- pointwise table
@dataclass(frozen=True)
class PointwiseRow:
    """One 1x1 conv of a network: what it is, and what it costs against the dense layer it replaces."""

    block: str  # "1a".."7a" or "head"
    role: str  # expand / se_reduce / se_expand / project / head
    in_channels: int
    out_channels: int
    grouped: bool
    k_groups: int
    l_groups: int  # 0 when the block has no L
    replicated: int  # channels copied to fill the last group (K's plus L's)
    weights: int  # conv weights (= MACs per output pixel); the dense layer has in x out
    parameters: int  # trainable, with BN / bias
    dense_parameters: int
    macs: int  # per image
    dense_macs: int
    height: int  # output map
    width: int

    def as_dict(self) -> dict:
        return asdict(self)


def _first_conv(module: nn.Module) -> nn.Conv2d:
    return module if isinstance(module, nn.Conv2d) else next(
        m for m in module.modules() if isinstance(m, nn.Conv2d))


def pointwise_table(model: nn.Module, image_size: int | tuple[int, int]) -> list[PointwiseRow]:
    """One row per pointwise layer of an `EfficientNet` (dense or grouped, fused or not), network order."""
    shapes: dict[nn.Module, tuple[int, int]] = {}
    layers = model.pointwise_layers()
    hooks = [m.register_forward_hook(lambda mod, _, out: shapes.__setitem__(mod, tuple(out.shape[-2:])))
             for _, _, m in layers]
    try:
        output_pixels(model, image_size)  # the same forward, hooks on the pointwise modules
    finally:
        for h in hooks:
            h.remove()
    rows = []
    for block, role, module in layers:
        h, w = shapes[module]
        bn, bias = role in ("expand", "project", "head"), role in ("se_reduce", "se_expand")
        if isinstance(module, InterleavedGroupedPointwise):
            plan = module.plan
            ic, fc, weights, kg = plan.in_channels, plan.out_channels, plan.weights, plan.k.groups
            lg = plan.l.groups if plan.l is not None else 0
            replicated = len(plan.k.replicated) + (len(plan.l.replicated) if plan.l is not None else 0)
            grouped = not plan.is_dense
        else:
            conv = _first_conv(module)
            ic, fc, kg, lg, replicated, grouped = conv.in_channels, conv.out_channels, 1, 0, 0, False
            weights = ic * fc
        rows.append(PointwiseRow(
            block, role, ic, fc, grouped, kg, lg, replicated, weights, count_parameters(module),
            ic * fc + fc * (int(bias) + 2 * int(bn)), weights * h * w, ic * fc * h * w, h, w))
    return rows


def format_pointwise_table(rows: list[PointwiseRow]) -> str:
    """A fixed-width text table with a total line (parameters and MACs against the dense layers)."""
    head = (f"{'block':>5} {'role':<9} {'Ic->Fc':>10} {'form':<7} {'K':>3} {'L':>3} {'rep':>4} "
            f"{'map':>7} {'params':>9} {'dense':>9} {'%':>5} {'MACs':>11} {'dense MACs':>11} {'%':>5}")
    lines = [head, "-" * len(head)]

    def pct(a: int, b: int) -> str:
        return f"{100 * a / b:5.1f}" if b else "    -"

    for r in rows:
        lines.append(
            f"{r.block:>5} {r.role:<9} {f'{r.in_channels}->{r.out_channels}':>10} "
            f"{'grouped' if r.grouped else 'dense':<7} {r.k_groups:>3} {r.l_groups or '-':>3} "
            f"{r.replicated or '-':>4} {f'{r.height}x{r.width}':>7} {r.parameters:>9,} "
            f"{r.dense_parameters:>9,} {pct(r.parameters, r.dense_parameters)} {r.macs:>11,} "
            f"{r.dense_macs:>11,} {pct(r.macs, r.dense_macs)}")
    p, dp = sum(r.parameters for r in rows), sum(r.dense_parameters for r in rows)
    m, dm = sum(r.macs for r in rows), sum(r.dense_macs for r in rows)
    lines += ["-" * len(head), f"{'total':>5} {len(rows)} pointwise layers, "
              f"{sum(r.grouped for r in rows)} grouped {'':>16} {p:>9,} {dp:>9,} {pct(p, dp)} "
              f"{m:>11,} {dm:>11,} {pct(m, dm)}"]
    return "\n".join(lines)
