# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3. Without divisibility constraints (V2)
#
# **Learning goal.** You will learn the two tricks of V2 (the paper's scheme): **replicating** a few input
# channels so that the last group is full, and giving groups **uneven** numbers of filters. You will count
# four real EfficientNet-B0 layers by hand and check your numbers against the library's plan.

# %%
# Setup: run this cell first. SMOKE=True (IGPW_SMOKE=1) makes every run tiny and offline (used by CI).
# %matplotlib inline
import importlib.util  # noqa: I001 - the install step must come before the course's own imports
import os
import subprocess
import sys

if importlib.util.find_spec("igpw_viz") is None:  # a runtime without the course package (e.g. fresh Colab)
    SOURCE = os.environ.get("IGPW_SOURCE", "..")  # this repository's checkout, or a pip URL of it
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", f"igpw_viz[digits] @ {SOURCE}"
                           if "://" in SOURCE else f"{SOURCE}[digits]"])

import math

import numpy as np
import torch
from matplotlib.figure import Figure

from igpw_viz import plan_pointwise
from igpw_viz.data.fixtures import smoke_enabled
from igpw_viz.viz.connectivity import draw_v1_vs_v2
from igpw_viz.viz.wiring import draw_wiring

SMOKE = smoke_enabled()
torch.manual_seed(0)
np.random.seed(0)
print(f"SMOKE = {SMOKE}, torch {torch.__version__}")

# %% [markdown]
# ## The V2 rules in four lines
#
# For a layer `Ic -> Fc` with `Ch` channels per group:
#
# 1. **Groups**: `G = min(ceil(Ic / Ch), Fc)`; each group reads `Ch` channels (wider only when `G` was
#    capped by `Fc`).
# 2. **Replication**: if `G * Ch > Ic`, the first `G * Ch - Ic` input channels are copied and appended, so
#    the last group is full. Copies cost no weights.
# 3. **Uneven filters**: `Fc = G * base + extra`; the first `extra` groups get `base + 1` filters.
# 4. **L** exists only when the layer does not expand (`Ic >= Fc`): interleave with step `Fc // Ch`, then
#    the same grouped routine `Fc -> Fc`, then the sum. Expansions are K alone.
#
# (A layer stays dense unless `Ic > 2*Ch`, or `Fc > Ic` and `Ic > Ch`.)
#
# ## Layer 40 -> 240 (an expansion), Ch = 16
#
# By hand: `ceil(40/16) = 3` groups of 16 channels need 48 inputs, so channels 0-7 are replicated.
# `240 = 3 x 80`: 80 filters per group, no unevenness. It is an expansion: no L.

# %%
Ic, Fc, Ch = 40, 240, 16
G = math.ceil(Ic / Ch)
copies = G * Ch - Ic
weights = Ch * Fc  # each of the Fc filters reads Ch channels
print(f"by hand: G={G}, copies of channels 0-{copies - 1}, weights={weights:,}")

plan = plan_pointwise(Ic, Fc, Ch)
print(plan.describe())
assert (plan.k.groups, plan.k.replicated, plan.l) == (G, tuple(range(copies)), None)
assert plan.weights == weights == 3_840

# %% [markdown]
# V1 can only use `G = 2` here (the largest common divisor of 40 and 240 that is at most `40 // 16 = 2`),
# so it saves less. Side by side (the drawing switches to a *group view* when a layer has too many channels
# to draw one by one: each box is a group, with its channel range and filter count):

# %%
v1 = plan_pointwise(40, 240, 16, scheme="v1")
print(f"V1: {v1.weights:,} weights, V2: {plan.weights:,} weights (dense: {plan.dense_weights:,})")
assert v1.weights == 4_800 and plan.weights < v1.weights
draw_v1_vs_v2(40, 240, 16, fig=Figure(figsize=(14, 5), layout="constrained"))

# %% [markdown]
# ## Layer 240 -> 40 (a projection), Ch = 16
#
# By hand, K: `G = 15` groups of 16 channels (240 = 15 x 16, no copies). `40 = 15 x 2 + 10`: groups 0-9
# get 3 filters, groups 10-14 get 2. K has `16 x 40 = 640` weights.
#
# Interleave with step `40 // 16 = 2`. L maps 40 -> 40: `ceil(40/16) = 3` groups need 48 inputs, so the
# first 8 *interleaved* channels are replicated; `40 = 3 x 13 + 1`: group 0 gets 14 filters. L has
# `16 x 40 = 640` weights. Total 1,280 instead of 9,600.

# %%
Ic, Fc, Ch = 240, 40, 16
G_K = math.ceil(Ic / Ch)
base_K, extra_K = divmod(Fc, G_K)
G_L = math.ceil(Fc / Ch)
base_L, extra_L = divmod(Fc, G_L)
by_hand = Ch * Fc + Ch * Fc
print(f"K: {G_K} groups, {extra_K} groups with {base_K + 1} filters; L: {G_L} groups, {extra_L} with {base_L + 1}")

plan = plan_pointwise(Ic, Fc, Ch)
print(plan.describe())
assert plan.k.filters_per_group == (3,) * 10 + (2,) * 5
assert plan.l.groups == G_L and plan.l.replicated == tuple(range(8)) and plan.l.filters_per_group[0] == 14
assert plan.weights == by_hand == 1_280

# %% [markdown]
# With 240 input channels a channel-by-channel drawing would be very tall, so `draw_wiring` switches to
# the group view: bold groups carry the extra filter, coloured lines from K to L show the interleave
# mixing, grey lines the skip from K to the sum. (`draw_wiring(plan, level="channel")` draws every one of
# the 240 wires if you want to see them.)

# %%
draw_wiring(plan).figure

# %% [markdown]
# What the savings cost: the last line of `describe()` counts, for each output, the inputs it depends on.
# Here K's groups are narrow (16 of 240 inputs), but with interleave step 2 each L group collects outputs
# of many K groups, so after L and the sum every output reads 192 to 240 of the 240 inputs, and 14 of the
# 40 read all of them. Compare V1 on the same layer in [chapter 2](02_grouping_and_interleave_v1.ipynb):
# 96-120. Chapter 5 lets you move `Ch` and watch both numbers.

# %%
mixing = plan.mixing()
print(mixing)
assert (mixing.min_inputs, mixing.max_inputs, mixing.full_outputs) == (192, 240, 14)
v1 = plan_pointwise(Ic, Fc, Ch, "v1").mixing()
assert (v1.min_inputs, v1.max_inputs) == (96, 120)

# %% [markdown]
# ## Layer 144 -> 40, Ch = 16 (V1 and V2 both apply, differently)
#
# V2: `G_K = 9` groups of 16, `40 = 9 x 4 + 4`, so groups 0-3 get 5 filters. L is the same as above.
# V1 finds `G = 8` (divides 144 and 40, and `8 <= 144 // 16 = 9`).

# %%
v2 = plan_pointwise(144, 40, 16)
v1 = plan_pointwise(144, 40, 16, scheme="v1")
print(v2.describe(), "\n")
print(v1.describe())
assert v2.k.groups == 9 and v2.k.uneven_groups == 4 and v2.weights == 1_280
assert v1.k.groups == 8 and v1.weights == 920
draw_wiring(v2).figure

# %% [markdown]
# V1 is cheaper on this layer, which is fine: what matters is that V2 never leaves a layer dense because of
# divisibility, and that L in V2 reads `Ch` channels per group, not `Fc / G` (V1's L reads only 5 here).
#
# ## Layer 96 -> 4 (squeeze-excitation), Ch = 16
#
# `ceil(96/16) = 6` groups would need 6 filters, but there are only 4: V2 caps `G` at `Fc = 4` and widens
# the groups to `96 / 4 = 24` channels. Then `Fc = 4 <= Ch`, so L is a small dense `4 x 4` conv.
# By hand: `24 x 4 + 4 x 4 = 112` weights.

# %%
plan = plan_pointwise(96, 4, 16)
print(plan.describe())
assert plan.k.groups == 4 and plan.k.inputs_per_group == 24 and plan.l.is_dense
assert plan.weights == 24 * 4 + 4 * 4 == 112
draw_wiring(plan, level="channel").figure

# %% [markdown]
# **What to remember.**
#
# * V2 fills the last group with copies of the first channels, and spreads filters unevenly over the
#   groups: any `Ic`, `Fc` and `Ch` give a valid grouped layer.
# * Weights of a V2 block are `Ch * Fc` for K plus `Ch * Fc` for L (or `Fc * Fc` when L is dense); you can
#   check every number here with a pencil.
#
# **Exercise.** Count `320 -> 1280` (EfficientNet's head) at `Ch = 16` by hand, then check with
# `plan_pointwise(320, 1280, 16).describe()`.

# %% tags=["solution", "hide-cell"]
# Solution
ic, fc, ch = 320, 1280, 16
groups = math.ceil(ic / ch)  # 20 groups; 320 = 20 x 16, so no channel is copied
filters = fc // groups  # 1280 = 20 x 64: 64 filters per group, none extra
by_hand = fc * ch  # every filter reads Ch = 16 channels
print(f"{groups} groups x {filters} filters, {by_hand:,} weights instead of {ic * fc:,}; no L (an expansion)")
p = plan_pointwise(ic, fc, ch)
assert (p.k.groups, p.k.base_filters, p.k.uneven_groups, p.weights, p.l) == (groups, filters, 0, by_hand, None)
