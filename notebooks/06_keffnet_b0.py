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
# # 6. kEffNet-B0: the whole network
#
# **Learning goal.** You will build kEffNet-B0 (EfficientNet-B0 with every pointwise convolution replaced
# by the block of notebook 4), read its per-layer table, and reproduce the paper's published parameter
# counts for V1 and V2 at `Ch = 16` and `Ch = 32`.

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

from igpw_viz.core.architecture import non_pointwise_parameters
from igpw_viz.core.paper import PUBLISHED_PARAMETERS as PUBLISHED
from igpw_viz.data.fixtures import smoke_enabled
from igpw_viz.nn.counting import count_macs, count_parameters, format_pointwise_table, pointwise_table
from igpw_viz.nn.models import efficientnet_b0, keffnet_b0
from igpw_viz.viz.network import draw_network_layers, draw_network_totals

SMOKE = smoke_enabled()
torch.manual_seed(0)
np.random.seed(0)
print(f"SMOKE = {SMOKE}, torch {torch.__version__}")

# %% [markdown]
# ## Building the model
#
# `keffnet_b0(num_classes, channels_per_group, scheme, skip_strides)` builds the network from the same
# stage table as `efficientnet_b0`. For CIFAR-10's 32x32 images the paper skips the first three strides
# (`skip_strides=3`), so the feature maps are 31x31 in the first stages instead of 16x16. Why 31 and
# not 32: the authors' Keras code pads the stem by one pixel on the bottom/right only and then convolves
# without padding, even at stride 1, which trims one row and column; we follow it exactly (the
# project's `docs/algorithm.md`).

# %%
model = keffnet_b0(num_classes=10, channels_per_group=16, scheme="v2", skip_strides=3)
print(model.features[3][0])  # block 3a: expansion, depthwise, squeeze-excitation, projection
n = count_parameters(model)
print(f"kEffNet-B0 V2, Ch=16: {n:,} parameters")
assert n == PUBLISHED[("v2", 16)] == 623_226

# %% [markdown]
# A forward pass on a small batch of CIFAR-sized images gives one score per class:

# %%
model.eval()
with torch.no_grad():
    logits = model(torch.randn(2, 3, 32, 32))  # N, C, H, W
print(logits.shape)
assert logits.shape == (2, 10)

# %% [markdown]
# ## The per-layer table
#
# `pointwise_table` runs one forward pass with hooks and lists every pointwise layer: its shape, whether V2
# grouped it, the groups of K and L, how many channels were replicated, the output map size, and
# parameters and MACs against the dense layer.

# %%
rows = pointwise_table(model, image_size=32)
print(format_pointwise_table(rows))
assert len(rows) == 64
assert sum(r.weights for r in rows) == 372_224  # pointwise conv weights, algorithm spec

# %% [markdown]
# The analytic MAC count (multiply-accumulates of all convolutions and the classifier, for one 32x32 image)
# is also a reference value:

# %%
macs = count_macs(model, 32)
print(f"{macs:,} MACs per 32x32 image")
assert macs == 79_124_080

# %% [markdown]
# ## Against the paper
#
# We build the four kEffNet-B0 variants of the paper's CIFAR-10 table and the baseline, and compare their
# trainable parameters with the published numbers.

# %%
built = {("dense", None): count_parameters(efficientnet_b0(num_classes=10))}
for scheme in ("v1", "v2"):
    for ch in (16, 32):
        built[(scheme, ch)] = count_parameters(keffnet_b0(10, ch, scheme, skip_strides=3))
baseline = built[("dense", None)]
print(f"{'model':14s} {'ours':>10s} {'paper':>10s} {'saved':>7s}")
for key, n in built.items():
    name = "baseline" if key[0] == "dense" else f"{key[0].upper()}, Ch={key[1]}"
    print(f"{name:14s} {n:>10,} {PUBLISHED[key]:>10,} {1 - n / baseline:7.1%}")
    assert n == PUBLISHED[key]
assert round(1 - built[("v2", 32)] / baseline, 2) == 0.76  # the paper's headline

# %% [markdown]
# The per-layer parameters at `Ch = 16` (log scale) and the totals versus `Ch`:

# %%
draw_network_layers(16).figure

# %%
draw_network_totals(current=32, scheme="v2").figure

# %% [markdown]
# **What to remember.**
#
# * kEffNet-B0 is EfficientNet-B0 with each of its 64 pointwise layers replaced by a V1 or V2 block; the
#   stem, the depthwise convolutions and the classifier are unchanged.
# * V2 at `Ch = 16` keeps 623,226 of 4,020,358 parameters (84.5% saved); at `Ch = 32`, 950,650 (76% saved),
#   and these counts match the paper exactly.
# * Fewer parameters is only half of the story: notebooks 7-10 train these models and compare accuracy.

# %% [markdown]
# ## Exercise
#
# Before you count: at `Ch = 8`, will kEffNet-B0 V2 have more or fewer parameters than at `Ch = 16`? Then
# count it, and find what share of its parameters still sits in pointwise layers (use `pointwise_table`).

# %% tags=["solution", "hide-cell"]
# Solution
m8 = keffnet_b0(10, 8, "v2")
total = count_parameters(m8)
pointwise = sum(r.parameters for r in pointwise_table(m8, image_size=224))
print(f"V2-8: {total:,} parameters, {pointwise:,} ({pointwise / total:.1%}) in pointwise layers")
assert total < PUBLISHED[("v2", 16)]  # narrower groups: fewer weights
assert total == pointwise + non_pointwise_parameters(10)  # the rest: stem, depthwise, BN, classifier
