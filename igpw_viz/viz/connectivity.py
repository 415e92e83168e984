"""Who depends on whom in one plan: dependency matrices of K, L and the block, V1 beside V2, and the
text + figure report the layer explorer shows. Matrices come from the plan's connectivity tables."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..core.plan import PointwisePlan, plan_pointwise
from .wiring import PALETTE, _resolve_level, draw_wiring, plan_title, wiring_figsize


def dependency_matrices(plan: PointwisePlan) -> dict[str, np.ndarray]:
    """Output x input boolean matrices: 'K' (K out x input), 'L' (L out x K out, interleave included),
    'block' (block output x block input, = plan.connectivity())."""
    def matrix(rows, n_in):
        m = np.zeros((len(rows), n_in), dtype=bool)
        for o, deps in enumerate(rows):
            m[o, list(deps)] = True
        return m

    out = {"K": matrix(plan.k.connectivity(), plan.in_channels)}
    if plan.l is not None:
        out["L"] = matrix(plan.l_connectivity(), plan.out_channels)
    out["block"] = matrix(plan.connectivity(), plan.in_channels)
    return out


def draw_connectivity(plan: PointwisePlan, ax: Axes | Sequence[Axes] | None = None) -> Figure:
    """Output x input dependency matrices of K, of L (after the interleave) and of the whole block,
    coloured by group; works for any size (e.g. 1152 -> 320)."""
    mats = dependency_matrices(plan)
    names = list(mats)
    if ax is None:
        fig = Figure(figsize=(4.2 * len(names), 4.2), layout="constrained")
        axes = fig.subplots(1, len(names), squeeze=False)[0]
    else:
        axes = [ax] if isinstance(ax, Axes) else list(ax)
        if len(axes) < len(names):
            raise ValueError(f"draw_connectivity needs {len(names)} axes for this plan, got {len(axes)}")
        fig = axes[0].figure
    cmap = matplotlib.colors.ListedColormap(["white"] + list(PALETTE))
    for a, name in zip(axes, names, strict=False):
        m = mats[name]
        if name == "block":
            img = np.where(m, 1, 0)
            subtitle = f"block: {int(m.sum(1).max())} of {m.shape[1]} inputs per output"
        else:
            stage = plan.k if name == "K" else plan.l
            offset = 0 if name == "K" else plan.k.groups
            groups = np.array([(offset + g) % len(PALETTE) + 1 for g in stage.output_groups])
            img = np.where(m, groups[:, None], 0)
            what = "input" if name == "K" else "K out"
            subtitle = f"{name}: {m.shape[0]} out x {m.shape[1]} {what}, {stage.groups} groups"
        a.imshow(img, cmap=cmap, vmin=0, vmax=len(PALETTE), interpolation="nearest", aspect="auto")
        a.set_title(subtitle, fontsize=9)
        a.set_xlabel("input channel" if name != "L" else "K output channel (before the interleave)")
        a.set_ylabel("output channel")
    fig.suptitle(plan_title(plan), fontsize=10)
    return fig


def draw_v1_vs_v2(in_channels: int, out_channels: int, channels_per_group: int, fig: Figure | None = None,
                  level: str = "auto") -> Figure:
    """V1 and V2 side by side for the same layer: where V1 cannot group (no common divisor), V2 can."""
    plans = [plan_pointwise(in_channels, out_channels, channels_per_group, s) for s in ("v1", "v2")]
    if fig is None:  # each side as wide as its content needs (8 in per panel), as tall as the taller one
        sizes = [wiring_figsize(p, _resolve_level(p, level)[0], width=8.0) for p in plans]
        fig = Figure(figsize=(sum(w for w, _ in sizes), max(h for _, h in sizes)), layout="constrained")
    axes = fig.subplots(1, 2)
    for a, p in zip(axes, plans, strict=True):
        draw_wiring(p, ax=a, level=level)
    return fig


def layer_report(in_channels: int, out_channels: int, channels_per_group: int,
                 scheme: str = "v2") -> tuple[Figure, str]:
    """The wiring figure and the plan's description with its counts: what `explore_layer` shows."""
    plan = plan_pointwise(in_channels, out_channels, channels_per_group, scheme)
    ax = draw_wiring(plan)
    text = (plan.describe() + f"\nParameters with BN: {plan.parameters(batch_norm=True):,} "
            f"(dense {plan.dense_parameters(batch_norm=True):,}); MACs per pixel: {plan.macs_per_pixel:,}.")
    return ax.figure, text
