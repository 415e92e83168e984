"""Who depends on whom in one plan: dependency matrices of K, L and the block, V1 beside V2, and the
text + figure report the layer explorer shows. Matrices come from the plan's connectivity tables."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..core.plan import PointwisePlan, plan_pointwise
from . import style
from .marks import PALETTE, plan_title
from .wiring import _resolve_level, draw_wiring, wiring_figsize


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
        fig = Figure(figsize=(style.WIDTH_IN, 4.6), layout="constrained")
        axes = fig.subplots(1, len(names), squeeze=False)[0]
    else:
        axes = [ax] if isinstance(ax, Axes) else list(ax)
        if len(axes) < len(names):
            raise ValueError(f"draw_connectivity needs {len(names)} axes for this plan, got {len(axes)}")
        fig = axes[0].figure
    cmap = matplotlib.colors.ListedColormap(["white"] + list(PALETTE))
    fs = style.fontsize(fig)
    panel_in = fig.get_size_inches()[0] / len(names)
    for a, name in zip(axes, names, strict=False):
        m = mats[name]
        if name == "block":
            img = np.where(m, 1, 0)
            subtitle = f"block: {int(m.sum(1).max())} of {m.shape[1]} inputs\nper output"
        else:
            stage = plan.k if name == "K" else plan.l
            offset = 0 if name == "K" else plan.k.groups
            groups = np.array([(offset + g) % len(PALETTE) + 1 for g in stage.output_groups])
            img = np.where(m, groups[:, None], 0)
            what = "input" if name == "K" else "K out"
            subtitle = f"{name}: {m.shape[0]} out x {m.shape[1]} {what},\n{stage.groups} groups"
        a.imshow(img, cmap=cmap, vmin=0, vmax=len(PALETTE), interpolation="nearest", aspect="auto")
        a.set_title(subtitle, fontsize=fs)
        a.set_xlabel("input channel" if name != "L" else "K out channel\n(before the interleave)", fontsize=fs)
        a.set_ylabel("output channel", fontsize=fs)
        for axis in (a.xaxis, a.yaxis):  # a few ticks, never crowded: numbers of up to 4 digits
            axis.set_major_locator(MaxNLocator(nbins=3 if panel_in < 4 else 5, integer=True))
        a.tick_params(labelsize=fs)
    fig.suptitle(style.wrap(plan_title(plan), fig.get_size_inches()[0], fs + 1), fontsize=fs + 1)
    return fig


def draw_v1_vs_v2(in_channels: int, out_channels: int, channels_per_group: int, fig: Figure | None = None,
                  level: str = "auto") -> Figure:
    """V1 and V2 side by side for the same layer: where V1 cannot group (no common divisor), V2 can."""
    plans = [plan_pointwise(in_channels, out_channels, channels_per_group, s) for s in ("v1", "v2")]
    levels = [_resolve_level(p, level)[0] for p in plans]
    stacked = "summary" in levels  # summaries are wide: one above the other, else side by side
    if fig is None:  # as tall as the taller side needs, at most style.MAX_HEIGHT_IN
        heights = [wiring_figsize(p, lv)[1] for p, lv in zip(plans, levels, strict=True)]
        size = (style.WIDTH_IN, min(style.MAX_HEIGHT_IN - 0.2, sum(heights))) if stacked else \
            (14.0, max(heights))
        fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(2, 1) if stacked else fig.subplots(1, 2)
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
