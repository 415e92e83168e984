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
# # 4. The layer in PyTorch
#
# **Learning goal.** You will build the V2 block as a PyTorch module, check it against a slow, literal
# *oracle* computed from the plan, fold it into a single convolution for inference, and measure its speed
# against the dense convolution it replaces.

# %%
# Setup: run this cell first. SMOKE=True (IGPW_SMOKE=1) makes every run tiny and offline (used by CI).
# %matplotlib inline
import time

import numpy as np
import torch
from torch import nn

from igpw_viz import InterleavedGroupedPointwise
from igpw_viz.data.fixtures import smoke_enabled
from igpw_viz.nn.counting import count_parameters
from igpw_viz.nn.oracle import StraightforwardPort, oracle_forward

SMOKE = smoke_enabled()
torch.manual_seed(0)
np.random.seed(0)
print(f"SMOKE = {SMOKE}, torch {torch.__version__}")

# %% [markdown]
# ## Building the block
#
# `InterleavedGroupedPointwise(Ic, Fc, Ch)` is a drop-in replacement for `Conv2d(Ic, Fc, 1)` followed by
# BatchNorm (and optionally an activation). It reads its wiring from `plan_pointwise`, so it is exactly the
# plan of notebook 3. Its trainable parameters are the plan's weights plus 2 BatchNorm parameters per
# channel for K and for L.

# %%
layer = InterleavedGroupedPointwise(240, 40, 16)
print(layer)
n = count_parameters(layer)
print(f"{n:,} parameters = {layer.plan.weights:,} weights + 2 x 2 x 40 BatchNorm")
assert n == layer.plan.parameters(batch_norm=True) == 1_280 + 160
assert tuple(layer.k.weight.shape) == (40, 16, 1, 1)  # 40 filters, each reading 16 channels

# %% [markdown]
# ## Checking against the oracle
#
# `oracle_forward(layer, x)` computes the block the slow, obvious way: for every group, for every filter, a
# weighted sum of the channels that group reads, using the layer's own weights. If the fast layer and
# the oracle agree on random input, the fast layer implements the plan. We check in training mode (batch
# statistics) and in eval mode (running statistics).

# %%
x = torch.randn(4, 240, 8, 8)  # N, Ic, H, W
for mode in ("train", "eval"):
    layer.train(mode == "train")
    with torch.no_grad():
        fast, slow = layer(x), oracle_forward(layer, x)
    err = (fast - slow).abs().max().item()
    print(f"{mode:5s}: output {tuple(fast.shape)}, max |fast - oracle| = {err:.2e}")
    assert fast.shape == (4, 40, 8, 8)
    assert torch.allclose(fast, slow, atol=1e-5)

# %% [markdown]
# A second reference, `StraightforwardPort`, builds the block the way the authors' Keras code does
# (concatenations for the copies, two convolutions per stage for uneven groups, strided slices for the
# interleave). It must agree too:

# %%
port = StraightforwardPort(layer).eval()
with torch.no_grad():
    assert torch.allclose(layer(x), port(x), atol=1e-5)
print("fast layer == straightforward port")

# %% [markdown]
# ## Gradients flow through every weight
#
# Training needs gradients for all weights, including those reading replicated channels. One backward
# pass on a toy loss:

# %%
layer.train()
layer.zero_grad()
layer(x).square().mean().backward()
for name, p in layer.named_parameters():
    assert p.grad is not None and p.grad.abs().sum() > 0, name
print("every parameter received a gradient:", [name for name, _ in layer.named_parameters()])

# %% [markdown]
# ## Folding for inference
#
# In eval mode, BatchNorm is an affine map, the interleave is a permutation and the sum is linear: the
# whole block (without activation between K and L) is *one* dense `1 x 1` convolution. `fuse()` computes
# it. Useful for deployment or for checking; note that it brings back the dense layer's MACs.

# %%
layer.eval()
folded = layer.fuse()
print(folded)
with torch.no_grad():
    err = (folded(x) - layer(x)).abs().max().item()
print(f"max |folded - block| = {err:.2e}")
assert isinstance(folded, nn.Conv2d) and folded.weight.shape == (40, 240, 1, 1)
assert torch.allclose(folded(x), layer(x), atol=1e-4)

# %% [markdown]
# ## Wrong input gives a clear error
#
# The layer checks the channel count of its input:

# %% tags=["raises-exception"]
layer(torch.randn(1, 100, 4, 4))  # 100 channels, but the layer expects 240


# %% [markdown]
# ## Measuring against the dense convolution
#
# Fewer MACs do not automatically mean less time: a grouped convolution needs gathers for the copies and
# uneven groups, and libraries are tuned for dense convolutions. We time the forward pass of the block and
# of a dense `Conv2d` + BatchNorm for a few EfficientNet-B0 layers at their 32x32-CIFAR map sizes. Smoke
# mode uses a tiny batch and few repeats, so its numbers are only indicative.

# %%
def time_forward(module, x, repeats):
    with torch.no_grad():
        module(x)  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            module(x)
    return (time.perf_counter() - start) / repeats * 1e3  # ms


batch, repeats = (2, 3) if SMOKE else (64, 20)
print(f"batch {batch}, {repeats} repeats, {torch.get_num_threads()} threads")
print(f"{'layer':>14} {'map':>6} {'dense ms':>9} {'V2 ms':>7} {'MACs V2/dense':>14}")
results = {}
for ic, fc, size in [(240, 40, 16), (144, 40, 16), (40, 240, 16), (1152, 320, 8)]:
    x = torch.randn(batch, ic, size, size)
    dense = nn.Sequential(nn.Conv2d(ic, fc, 1, bias=False), nn.BatchNorm2d(fc)).eval()
    block = InterleavedGroupedPointwise(ic, fc, 16).eval()
    t_dense, t_block = time_forward(dense, x, repeats), time_forward(block, x, repeats)
    ratio = block.plan.weights / block.plan.dense_weights
    results[(ic, fc)] = (t_dense, t_block, ratio)
    print(f"{f'{ic}->{fc}':>14} {f'{size}x{size}':>6} {t_dense:9.3f} {t_block:7.3f} {ratio:14.1%}")
assert all(r[2] < 0.5 for r in results.values())  # V2 needs less than half of the dense MACs here

# %% [markdown]
# **What to remember.**
#
# * The module is built from the plan; an oracle computed literally from the same plan checks it.
# * BatchNorm, interleave and sum fold into one dense convolution for inference.
# * MACs drop by 3-8x on these layers; wall-clock gains depend on the hardware and the batch size (see the
#   project's `benchmarks/` for measured numbers).
