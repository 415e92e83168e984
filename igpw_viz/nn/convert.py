"""Put the block into someone else's network: `convert` replaces each eligible 1x1 convolution (and the
BatchNorm that follows it) of any `nn.Module` by `InterleavedGroupedPointwise`, in a copy, and reports
what it did.

Eligible: `nn.Conv2d` with a 1x1 kernel, stride 1, no padding, groups 1 and zero padding mode (dilation
does not matter for a 1x1 kernel but is listed when set). A BatchNorm2d directly after the conv (the next
module of an `nn.Sequential`, or the only user of the conv's output in a `torch.fx` trace of the model)
becomes the block's own BatchNorm pair and is replaced by `nn.Identity`; without one the block has no
BatchNorm. Activations and everything else stay where they are. The new layers start from random
weights (the method's initialisation, `InterleavedGroupedPointwise.reset_parameters`), so a converted
model is trained or fine-tuned before use.
"""

from __future__ import annotations

import copy
import fnmatch
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from ..core.plan import SCHEMES, plan_pointwise
from .dense_init import fit_dense
from .layer import InterleavedGroupedPointwise
from .linear import InterleavedGroupedLinear


@dataclass(frozen=True)
class LayerChange:
    """One 1x1 conv of the model and what `convert` did with it."""

    name: str  # the conv's name in the model (model.get_submodule(name))
    in_channels: int
    out_channels: int
    action: str  # "grouped", "dense" (the plan keeps it dense), "kept" (keep= or min_channels) or "skipped"
    reason: str  # why, in words
    weights_before: int
    weights_after: int
    min_inputs: int  # inputs the least-connected output reads after the change
    max_inputs: int
    batch_norm: str | None = None  # the BatchNorm folded into the block, if any
    fit_error: float | None = None  # init="dense": ||W_block - W|| / ||W|| of the fitted block
    kind: str = "conv1x1"  # or "linear"

    @property
    def shape(self) -> str:
        return f"{self.in_channels} -> {self.out_channels}" + (" (linear)" if self.kind == "linear" else "")


@dataclass(frozen=True)
class ConversionReport:
    """What `convert` changed: one row per 1x1 conv found (in model order)."""

    channels_per_group: int
    scheme: str
    layers: tuple[LayerChange, ...]

    @property
    def grouped(self) -> tuple[LayerChange, ...]:
        return tuple(c for c in self.layers if c.action == "grouped")

    @property
    def weights_before(self) -> int:
        return sum(c.weights_before for c in self.layers)

    @property
    def weights_after(self) -> int:
        return sum(c.weights_after for c in self.layers)

    def __str__(self) -> str:
        fitted = any(c.fit_error is not None for c in self.layers)
        head = ("layer", "shape", "weights", "after", "inputs read") + (("fit error",) if fitted else ()) + ("action",)
        rows = [(c.name, c.shape, f"{c.weights_before:,}", f"{c.weights_after:,}",
                 f"{c.min_inputs}-{c.max_inputs} of {c.in_channels}" if c.min_inputs != c.max_inputs
                 else f"{c.min_inputs} of {c.in_channels}")
                + ((f"{c.fit_error:.1%}" if c.fit_error is not None else "",) if fitted else ())
                + (f"{c.action}: {c.reason}",) for c in self.layers]
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in [head, *rows]]
        lines.insert(1, "  ".join("-" * w for w in widths))
        saved = 1 - self.weights_after / self.weights_before if self.weights_before else 0.0
        lines.append(f"{len(self.grouped)} of {len(self.layers)} 1x1 convs grouped (V{self.scheme[-1]}, "
                     f"Ch = {self.channels_per_group}): 1x1 weights {self.weights_before:,} -> "
                     f"{self.weights_after:,} ({saved:.1%} saved)")
        return "\n".join(lines)


def _why_not(conv: nn.Conv2d) -> str | None:
    """None when the conv is an eligible 1x1 conv, else the reason it is left alone."""
    if conv.stride != (1, 1):
        return f"stride {conv.stride[0]}"
    if conv.groups != 1:
        return f"already grouped (groups={conv.groups})"
    if conv.padding not in ((0, 0), "valid"):
        return f"padding {conv.padding}"
    if conv.padding_mode != "zeros":
        return f"padding_mode {conv.padding_mode!r}"
    if conv.dilation != (1, 1):
        return f"dilation {conv.dilation}"
    return None


def _followers_in_sequentials(model: nn.Module) -> dict[str, str]:
    """conv name -> name of the BatchNorm2d right after it in an nn.Sequential."""
    found = {}
    for parent_name, parent in model.named_modules():
        if isinstance(parent, nn.Sequential):
            children = list(parent.named_children())
            for (a, first), (b, second) in zip(children, children[1:], strict=False):
                if isinstance(first, nn.Conv2d) and isinstance(second, nn.BatchNorm2d):
                    prefix = f"{parent_name}." if parent_name else ""
                    found[prefix + a] = prefix + b
    return found


def _followers_in_graph(model: nn.Module) -> dict[str, str]:
    """conv name -> BatchNorm2d name where a torch.fx trace shows the BN as the conv output's only user
    (attribute-style blocks such as ResNet's conv1/bn1). Models that cannot be traced give {}."""
    import torch.fx

    try:
        graph = torch.fx.symbolic_trace(model).graph
    except Exception:  # noqa: BLE001 - any model fx cannot trace just falls back to nn.Sequential pairs
        return {}
    found = {}
    for node in graph.nodes:
        if node.op != "call_module" or len(node.users) != 1:
            continue
        (user,) = node.users
        if user.op == "call_module" and isinstance(model.get_submodule(node.target), nn.Conv2d) \
                and isinstance(model.get_submodule(user.target), nn.BatchNorm2d):
            found[node.target] = user.target
    return found


def _dense_target(conv: nn.Conv2d | nn.Linear, bn: nn.BatchNorm2d | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The layer's weight (Fc x Ic) and bias with an eval-mode BatchNorm folded in."""
    weight = conv.weight.detach().flatten(1)
    bias = None if conv.bias is None else conv.bias.detach()
    if bn is None:
        return weight, bias
    mean = bn.running_mean if bn.running_mean is not None else torch.zeros_like(weight[:, 0])
    var = bn.running_var if bn.running_var is not None else torch.ones_like(weight[:, 0])
    scale = (bn.weight.detach() if bn.weight is not None else 1.0) / torch.sqrt(var + bn.eps)
    shift = (bn.bias.detach() if bn.bias is not None else 0.0) - mean * scale
    return weight * scale[:, None], shift + (0.0 if bias is None else bias * scale)


def _groups(plan) -> str:
    return f"{plan.k.groups} K groups" + (f", {plan.l.groups} L groups" if plan.l else "")


def _set(model: nn.Module, name: str, module: nn.Module) -> None:
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def convert(model: nn.Module, channels_per_group: int, scheme: str = "v2", *, min_channels: int = 0,
            keep: Iterable[str] = (), init: str = "random",
            layers: Iterable[str] = ("conv1x1",)) -> tuple[nn.Module, ConversionReport]:
    """A copy of ``model`` with every eligible 1x1 conv (+ its BatchNorm) replaced by the block, and the
    report. ``min_channels``: convs with fewer input or output channels stay dense; ``keep``: names or
    glob patterns (``"layer4.*"``) of convs to leave untouched; ``init``: "random" (the method's own
    initialisation) or "dense" (fit each block to the trained conv it replaces, `dense_init.fit_dense`;
    the report gives each fit's relative error); ``layers``: which layers to consider, "conv1x1" and/or
    "linear" (every `nn.Linear`, replaced by `InterleavedGroupedLinear`). ``model`` itself is never
    changed."""
    if isinstance(channels_per_group, bool) or not isinstance(channels_per_group, int) or channels_per_group < 1:
        raise ValueError(f"channels_per_group must be a positive int, got {channels_per_group!r}")
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    layers = (layers,) if isinstance(layers, str) else tuple(layers)
    if not layers or set(layers) - {"conv1x1", "linear"}:
        raise ValueError(f"layers must name 'conv1x1' and/or 'linear', got {layers!r}")
    if init not in ("random", "dense"):
        raise ValueError(f"init must be 'random' or 'dense', got {init!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"convert expects an nn.Module, got {type(model).__name__}")
    keep = (keep,) if isinstance(keep, str) else tuple(keep)
    model = copy.deepcopy(model)
    names_of: dict[int, list[str]] = {}
    for name, module in model.named_modules(remove_duplicate=False):
        names_of.setdefault(id(module), []).append(name)
    followers = {**_followers_in_graph(model), **_followers_in_sequentials(model)}

    changes = []
    for name, conv in list(model.named_modules()):
        linear = isinstance(conv, nn.Linear) and "linear" in layers
        if not linear and not (isinstance(conv, nn.Conv2d) and conv.kernel_size == (1, 1) and "conv1x1" in layers):
            continue
        ic, fc = (conv.in_features, conv.out_features) if linear else (conv.in_channels, conv.out_channels)
        dense = ic * fc

        def row(action: str, reason: str, after: int = dense, lo: int = ic, hi: int = ic, bn: str | None = None,
                error: float | None = None, *, name: str = name, ic: int = ic, fc: int = fc,
                dense: int = dense, kind: str = "linear" if linear else "conv1x1") -> LayerChange:
            return LayerChange(name, ic, fc, action, reason, dense, after, lo, hi, bn, error, kind)

        reason = None if linear else _why_not(conv)
        if reason:
            changes.append(row("skipped", reason))
            continue
        if len(names_of[id(conv)]) > 1:
            changes.append(row("skipped", f"shared with {', '.join(n for n in names_of[id(conv)] if n != name)}"))
            continue
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in keep):
            changes.append(row("kept", "keep="))
            continue
        if min(ic, fc) < min_channels:
            changes.append(row("kept", f"fewer than min_channels={min_channels} channels"))
            continue
        plan = plan_pointwise(ic, fc, channels_per_group, scheme)
        if plan.is_dense:
            changes.append(row("dense", f"the {scheme.upper()} plan keeps it dense at Ch = {channels_per_group}"))
            continue
        bn_name = None if linear else followers.get(name)
        bn = model.get_submodule(bn_name) if bn_name else None
        if bn is not None and (len(names_of[id(bn)]) > 1 or bn.num_features != fc):
            bn_name, bn = None, None
        if linear:
            block = InterleavedGroupedLinear(ic, fc, channels_per_group, scheme, bias=conv.bias is not None)
        else:
            norm = {} if bn is None else {"bn_eps": bn.eps, "bn_momentum": bn.momentum or 0.1}
            block = InterleavedGroupedPointwise(ic, fc, channels_per_group, scheme, batch_norm=bn is not None,
                                                activation=None, bias=conv.bias is not None, **norm)
        block = block.to(device=conv.weight.device, dtype=conv.weight.dtype).train(conv.training)
        fitted = block.block if linear else block
        error = fit_dense(fitted, *_dense_target(conv, bn)) if init == "dense" else None
        _set(model, name, block)
        if bn_name:
            _set(model, bn_name, nn.Identity())
        mixing = plan.mixing()
        changes.append(row("grouped", _groups(plan), plan.weights, mixing.min_inputs, mixing.max_inputs, bn_name,
                           error))
    report = ConversionReport(channels_per_group, scheme, tuple(changes))
    if not changes:
        raise ValueError(f"{type(model).__name__} has no {' or '.join(layers)} layer to convert "
                         "(layers= chooses 'conv1x1' and/or 'linear')")
    if not report.grouped:
        warnings.warn(f"no layer of {type(model).__name__} was grouped at channels_per_group="
                      f"{channels_per_group}: every 1x1 conv stayed as it was (see the report)", stacklevel=2)
    return model, report
