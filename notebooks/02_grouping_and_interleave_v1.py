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
# # 2. Grouped pointwise convolutions and the interleave (V1)
#
# **Learning goal.** You will see what a *grouped* pointwise convolution saves and what it loses, how an
# *interleave* (a fixed channel shuffle) and a second grouped layer `L` restore the lost mixing, and why
# this first scheme ("V1", Schwarz Schuler et al., MENDEL 2022) cannot be applied to every layer.
#
# Notation for the whole course: a pointwise layer maps `Ic` input channels to `Fc` filters; `Ch` is the
# hyper-parameter *channels per group*, and `G` is the number of groups. `Ch` is a group **width**, `G` a
# group **count**: do not mix them up.

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

import numpy as np
import torch
from torch import nn

from igpw_viz import plan_pointwise
from igpw_viz.core.architecture import b0_pointwise_shapes
from igpw_viz.data.fixtures import smoke_enabled
from igpw_viz.viz.connectivity import draw_connectivity
from igpw_viz.viz.wiring import draw_wiring

SMOKE = smoke_enabled()
torch.manual_seed(0)
np.random.seed(0)
print(f"SMOKE = {SMOKE}, torch {torch.__version__}")

# %% [markdown]
# ## Grouping: cheaper, but blind
#
# A grouped convolution splits the `Ic` input channels into `G` groups and gives each group its own small
# set of filters. Each filter only reads `Ic / G` channels, so the layer has `G` times fewer weights. In
# PyTorch this is the `groups=` argument:

# %%
Ic, Fc, G = 240, 40, 10
dense = nn.Conv2d(Ic, Fc, 1, bias=False)
grouped = nn.Conv2d(Ic, Fc, 1, groups=G, bias=False)
print("dense weights:  ", dense.weight.numel(), tuple(dense.weight.shape))
print("grouped weights:", grouped.weight.numel(), tuple(grouped.weight.shape), "<- each filter sees", Ic // G)
assert grouped.weight.numel() == dense.weight.numel() // G == 960

# %% [markdown]
# The price: output channel 0 only ever sees input channels 0-23. Information from channel 100 can never
# reach it. Stack several grouped layers and the network splits into `G` independent narrow networks.
#
# ## V1: K, interleave, L, sum
#
# The V1 scheme replaces one dense pointwise convolution by a small subnetwork:
#
# 1. **K**: a grouped pointwise conv `Ic -> Fc` with `G` groups;
# 2. **interleave**: reorder K's outputs so that neighbouring channels come from *different* groups;
# 3. **L**: a second grouped conv `Fc -> Fc` with `G` groups on the interleaved channels;
# 4. **sum**: output = L's output + K's output.
#
# V1 picks `G` as the largest common divisor of `Ic` and `Fc` that is at most `Ic // Ch`. The library's
# `plan_pointwise` computes this plan as plain index tables; `describe()` explains it in words.

# %%
plan = plan_pointwise(240, 40, 16, scheme="v1")
print(plan.describe())
assert plan.k.groups == 10 and plan.k.inputs_per_group == 24
assert plan.l.groups == 10 and plan.interleave_step == 4
assert plan.weights == 960 + 160 == 1_120

# %% [markdown]
# A small layer is easier to look at channel by channel. With `Ic = 24`, `Fc = 12` and `Ch = 6`, V1 uses
# 4 groups. In the drawing, colours are groups: K's groups on the left, the interleave in the middle, L's
# groups on the right. Follow one colour through the interleave and see how every L group receives one
# channel from each K group.

# %%
small = plan_pointwise(24, 12, 6, scheme="v1")
print(small.describe())
print("interleave order of K's outputs:", small.interleave)
assert small.k.groups == 4 and small.interleave == (0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11)
draw_wiring(small, level="channel").figure

# %% [markdown]
# ## What the interleave buys: who depends on whom
#
# `plan.connectivity()` lists, for each output channel of the whole block, the input channels it depends
# on. The dependency matrices below show it for `240 -> 40`: K alone is block-diagonal (each output sees
# 24 inputs); after the interleave and L, each output reads 96 or 120 of the 240 inputs: through L it
# sees 4 of K's 10 groups (one per interleaved channel of its L group), and through the sum it also sees
# its own K group, which is a fifth group for some outputs and one of the four for others.

# %%
deps = [len(d) for d in plan.connectivity()]
k_deps = [len(d) for d in plan.k.connectivity()]
print(f"K alone: each output reads {max(k_deps)} of {plan.in_channels} inputs")
print(f"K + interleave + L: each output reads {min(deps)}-{max(deps)} of {plan.in_channels} inputs")
assert max(k_deps) == 24 and (min(deps), max(deps)) == (4 * 24, 5 * 24)
draw_connectivity(plan)

# %% [markdown]
# ## Where V1 cannot be applied: divisibility
#
# V1 needs a common divisor of `Ic` and `Fc`. Take the expansion `24 -> 144` of block 2b with `Ch = 16`:
# `24 // 16 = 1`, so the only admissible group count is 1, and the layer **stays dense**. V1 does not raise
# an error here; the plan simply is the dense layer, and `describe()` says why.

# %%
stuck = plan_pointwise(24, 144, 16, scheme="v1")
print(stuck.describe())
assert stuck.is_dense and stuck.weights == 24 * 144

# %% [markdown]
# How often does this happen in EfficientNet-B0? We plan every one of its 64 pointwise layers with V1 at
# `Ch = 16` and list those that stay dense. For comparison we also ask V2 (notebook 3), which has its own
# rule: a layer with very few input channels (`Ic <= Ch`, such as the squeeze-excitation expansions
# `4 -> 96`) is not worth grouping, so V2 keeps it dense *on purpose*, not because of divisibility.

# %%
v1_dense, v2_dense = [], []
for s in b0_pointwise_shapes():
    name = f"{s.block} {s.role} {s.in_channels}->{s.out_channels}"
    if plan_pointwise(s.in_channels, s.out_channels, 16, scheme="v1").is_dense:
        v1_dense.append(name)
    if plan_pointwise(s.in_channels, s.out_channels, 16, scheme="v2").is_dense:
        v2_dense.append(name)
only_v1 = [n for n in v1_dense if n not in v2_dense]
print(f"dense under V1: {len(v1_dense)} of 64, under V2: {len(v2_dense)} of 64")
print("V1 cannot group, V2 can:", *only_v1, sep="\n  ")
assert "2b expand 24->144" in only_v1
assert len(v1_dense) == 15 and len(v2_dense) == 9

# %% [markdown]
# ## A clear error for a meaningless request
#
# Asking for zero channels per group is not a plan at all. The library refuses with a message that names
# the argument (this cell is *meant* to fail; it is tagged `raises-exception`).

# %% tags=["raises-exception"]
plan_pointwise(240, 40, 0)  # Ch must be a positive int

# %% [markdown]
# **What to remember.**
#
# * Grouping divides the weights by `G` but cuts the channel mixing into `G` islands.
# * V1 restores mixing with an interleave and a second grouped layer `L`, and adds K's output back.
# * V1 needs `G` to divide both `Ic` and `Fc`; many EfficientNet-B0 layers have no suitable divisor and
#   stay dense. Notebook 3 shows how V2 removes that constraint.
#
# **Exercise.** Find a `Ch` for which V1 *can* group `24 -> 144`. What is `G` then?

# %% tags=["solution", "hide-cell"]
# Solution
groupable = [ch for ch in range(1, 25) if not plan_pointwise(24, 144, ch, "v1").is_dense]
print("V1 groups 24 -> 144 for Ch in", groupable)
p = plan_pointwise(24, 144, 8, "v1")
print(p.describe())
assert 8 in groupable and p.k.groups == 24 // 8 == 3  # 8 divides 24: three groups of 8 channels
