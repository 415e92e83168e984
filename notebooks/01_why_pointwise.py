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
# # 1. Why pointwise convolutions dominate
#
# **Learning goal.** After this notebook you can count the parameters of a 1x1 ("pointwise") convolution
# by hand, and you can say where EfficientNet-B0 keeps its parameters: nearly 95% of them (94.7%) sit in
# pointwise convolutions. That is why the paper (Schwarz Schuler et al., *Entropy* 2022) attacks exactly these layers.

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
from matplotlib.figure import Figure
from torch import nn

from igpw_viz.core.architecture import b0_blocks, b0_pointwise_shapes, non_pointwise_parameters
from igpw_viz.data.fixtures import smoke_enabled
from igpw_viz.nn.counting import count_parameters, pointwise_table
from igpw_viz.nn.models import efficientnet_b0
from igpw_viz.viz.marks import PALETTE

SMOKE = smoke_enabled()
torch.manual_seed(0)
np.random.seed(0)
print(f"SMOKE = {SMOKE}, torch {torch.__version__}")

# %% [markdown]
# ## A 1x1 convolution is a matrix multiplication per pixel
#
# A convolution with kernel size 1 looks at a single pixel at a time. At that pixel it takes the vector of
# `Ic` input channels and multiplies it by an `Fc x Ic` matrix to produce `Fc` output channels. So a
# pointwise convolution has
#
# $$\text{weights} = Ic \times Fc$$
#
# (plus `Fc` biases if it has a bias). It never mixes neighbouring pixels: that is the job of the
# *depthwise* convolutions, which in turn never mix channels. EfficientNet's building block (MBConv) uses
# both: a pointwise *expansion*, a depthwise convolution, a small squeeze-excitation (two more pointwise
# convolutions on a 1x1 map) and a pointwise *projection*.
#
# Let us check the formula on a PyTorch layer. `Ic` is the number of input channels, `Fc` the number of
# filters (output channels), the names used throughout this course.

# %%
Ic, Fc = 240, 40
pointwise = nn.Conv2d(Ic, Fc, kernel_size=1, bias=False)
depthwise = nn.Conv2d(Ic, Ic, kernel_size=5, groups=Ic, bias=False)  # one 5x5 filter per channel
full_5x5 = nn.Conv2d(Ic, Fc, kernel_size=5, bias=False)

for name, layer in [("pointwise 1x1", pointwise), ("depthwise 5x5", depthwise), ("full 5x5", full_5x5)]:
    print(f"{name:14s} {tuple(layer.weight.shape)!s:20s} {count_parameters(layer):>8,} weights")

assert count_parameters(pointwise) == Ic * Fc == 9_600
assert count_parameters(depthwise) == Ic * 5 * 5 == 6_000

# %% [markdown]
# The depthwise 5x5 convolution costs `Ic * 25` weights: it grows *linearly* with the channel count. The
# pointwise one grows with the *product* `Ic * Fc`. In the deep stages of EfficientNet-B0 the blocks have
# 672 or 1152 channels, and the product wins by far.
#
# ## One MBConv block, counted by hand
#
# Block 6a of EfficientNet-B0 takes 112 channels, expands them six-fold to 672, runs a 5x5 depthwise
# convolution, and projects down to 192 channels. The architecture table in `igpw_viz.core.architecture` holds
# exactly these numbers.

# %%
block = {b.name: b for b in b0_blocks()}["6a"]
print(block)
e = block.expanded_channels
by_hand = {
    "expand 1x1": block.in_channels * e,
    "depthwise 5x5": e * block.kernel**2,
    "SE reduce 1x1": e * block.se_channels,
    "SE expand 1x1": block.se_channels * e,
    "project 1x1": e * block.out_channels,
}
for name, n in by_hand.items():
    print(f"{name:14s} {n:>8,}")
share = 1 - by_hand["depthwise 5x5"] / sum(by_hand.values())
print(f"pointwise share of this block's conv weights: {share:.1%}")
assert (block.in_channels, e, block.out_channels) == (112, 672, 192)
assert share > 0.9

# %% [markdown]
# ## The whole network
#
# Now the real model. `efficientnet_b0(num_classes=10)` builds the standard EfficientNet-B0 (the same
# layout as torchvision's) with 10 output classes, as used for CIFAR-10 in the paper. Its parameter count
# is a published number, so we check it.

# %%
baseline = efficientnet_b0(num_classes=10)
total = count_parameters(baseline)
print(f"EfficientNet-B0, 10 classes: {total:,} trainable parameters")
assert total == 4_020_358  # published (torchvision, timm, Keras and the paper agree)

# %% [markdown]
# `pointwise_table` lists every 1x1 convolution of the network with its parameters (weights plus
# BatchNorm's two parameters per channel, or the bias for the squeeze-excitation layers). EfficientNet-B0
# has 64 of them. We add up the parameters by *role*.

# %%
rows = pointwise_table(baseline, image_size=224)
shapes = b0_pointwise_shapes()
assert len(rows) == len(shapes) == 64

by_role = {}
for r in rows:
    by_role[r.role] = by_role.get(r.role, 0) + r.parameters
classifier = 1280 * 10 + 10
parts = {**by_role, "stem + depthwise": non_pointwise_parameters(10) - classifier, "classifier": classifier}
pointwise_total = sum(by_role.values())
for name, n in parts.items():
    print(f"{name:17s} {n:>10,}  {n / total:6.1%}")
print(f"pointwise in total: {pointwise_total:,} = {pointwise_total / total:.1%}")

assert sum(parts.values()) == total
assert sum(r.weights for r in rows) == 3_773_312  # pointwise conv weights alone (algorithm spec)
assert pointwise_total / total > 0.94

# %% [markdown]
# The same numbers as a chart (pointwise roles in colour, everything else in grey):

# %%
fig = Figure(figsize=(8, 3.2), layout="constrained")
ax = fig.add_subplot()
colors = [PALETTE[i] if name in by_role else "#999999" for i, name in enumerate(parts)]
ax.barh(list(parts), list(parts.values()), color=colors)
ax.invert_yaxis()
ax.set_xlabel("trainable parameters")
ax.set_title(f"EfficientNet-B0 (10 classes): {pointwise_total / total:.0%} of the parameters are pointwise")
fig

# %% [markdown]
# **What to remember.**
#
# * A pointwise convolution costs `Ic * Fc` weights and `Ic * Fc` multiply-accumulates (MACs) per pixel.
# * In EfficientNet-B0, 3,773,312 of the 4,020,358 parameters are pointwise weights; expansions and
#   projections dominate, the head (320 -> 1280) alone has 409,600 weights.
# * Shrinking the network therefore means shrinking the pointwise convolutions. The next notebook shows
#   the first tool for that: *grouping*.
#
# **Exercise.** Which single pointwise layer of the network is the largest? (Hint: sort `rows` by
# `r.parameters`.)

# %% tags=["solution", "hide-cell"]
# Solution
largest = max(rows, key=lambda r: r.parameters)
print(f"largest: block {largest.block} ({largest.role}), {largest.in_channels} -> {largest.out_channels}: "
      f"{largest.parameters:,} parameters")
# the head: 320 x 1280 weights plus BatchNorm's 2 x 1280
assert (largest.in_channels, largest.out_channels) == (320, 1280)
assert largest.parameters == 320 * 1280 + 2 * 1280
