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
# **Learning goal.** You will build the V2 block yourself in plain PyTorch, cell by cell (K, the copies,
# the interleave, L, the sum), check that it equals the library's layer and a slow *oracle* computed from
# the plan, fold it into one convolution for inference, and time it honestly against the dense convolution
# it replaces. It uses the plans of [chapter 3](03_v2_without_divisibility.ipynb).

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

import inspect
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from igpw_viz import InterleavedGroupedPointwise, plan_pointwise
from igpw_viz.data.fixtures import smoke_enabled
from igpw_viz.nn.counting import count_parameters
from igpw_viz.nn.oracle import StraightforwardPort, oracle_forward

SMOKE = smoke_enabled()
torch.manual_seed(0)
np.random.seed(0)
print(f"SMOKE = {SMOKE}, torch {torch.__version__}")

# %% [markdown]
# ## The block from scratch
#
# We take the layer drawn in the README: 36 input channels, 20 output channels, Ch = 8 channels per
# group. The plan (pure Python, no torch) says what to build; we only need tensors and `F.conv2d`.

# %%
plan = plan_pointwise(36, 20, 8)
print(plan.describe())
x = torch.randn(2, 36, 5, 5)  # N, Ic, H, W: a batch of 2 maps of 5x5 pixels
print("x:", tuple(x.shape))

# %% [markdown]
# **Step 1: copies for K.** 36 channels do not fill 5 groups of 8, so the first 4 channels are copied to
# the end: K reads an *extended* input of 5 x 8 = 40 channels. Indexing with the plan's `sources` list
# builds it (position e of the extended input is channel `sources[e]`).

# %%
k_sources = list(plan.k.sources)
print("K reads channels", k_sources)
x_ext = x[:, k_sources]  # N, 40, H, W
print("extended input:", tuple(x_ext.shape))
assert x_ext.shape[1] == plan.k.groups * plan.k.inputs_per_group == 40

# %% [markdown]
# **Step 2: K, a grouped 1x1 convolution.** `groups=5` splits the 40 channels into 5 slices of 8 and
# gives each slice its own 4 filters: 20 filters of 8 weights each (a dense conv would need 20 x 36).

# %%
w_k = torch.randn(20, 8, 1, 1) * 0.3  # Fc filters, each reading Ch = 8 channels
k = F.conv2d(x_ext, w_k, groups=plan.k.groups)  # N, 20, H, W
print("K output:", tuple(k.shape), "| weights:", w_k.numel(), "instead of", 20 * 36)

# %% [markdown]
# **Step 3: the interleave.** Group g of K only saw channels 8g..8g+7. Reordering K's 20 outputs with
# step 2 (channels 0, 2, 4, ..., then 1, 3, 5, ...) puts outputs of *different* K groups side by side, so
# each group of L will mix several K groups. The plan's `interleave` tuple is exactly this order:

# %%
step = plan.interleave_step
t = torch.cat([k[:, s::step] for s in range(step)], dim=1)  # N, 20, H, W
print("step", step, "-> order", plan.interleave)
assert torch.equal(t, k[:, list(plan.interleave)])

# %% [markdown]
# **Step 4: copies for L, then L.** L is another grouped 1x1 conv, 20 -> 20 with Ch = 8: 3 groups need 24
# channels, so the first 4 *interleaved* channels are copied. 20 filters over 3 groups do not divide
# evenly: 20 = 3 x 6 + 2, so every group gets 6 filters (one grouped conv) and groups 0 and 1 get one
# extra filter each (a second, small grouped conv over the first two groups). Their outputs come last.

# %%
t_ext = t[:, list(plan.l.sources)]  # N, 24, H, W
w_l_even = torch.randn(18, 8, 1, 1) * 0.3  # 3 groups x 6 filters
w_l_extra = torch.randn(2, 8, 1, 1) * 0.3  # one more filter for groups 0 and 1
l_even = F.conv2d(t_ext, w_l_even, groups=3)  # N, 18, H, W
l_extra = F.conv2d(t_ext[:, :16], w_l_extra, groups=2)  # N, 2, H, W: reads groups 0 and 1 only
l = torch.cat([l_even, l_extra], dim=1)  # N, 20, H, W
print("L input:", tuple(t_ext.shape), "-> L output:", tuple(l.shape))

# %% [markdown]
# **Step 5: the sum.** The block's output adds K's output, *before* the interleave, to L's output:

# %%
y = l + k  # N, 20, H, W
print("block output:", tuple(y.shape))

# %% [markdown]
# ## The library's layer computes the same thing
#
# `InterleavedGroupedPointwise(36, 20, 8)` is this block (with BatchNorm and an optional activation after
# K and after L, which we switch off here). Its K and L hold one weight tensor each, path-1 filters first,
# then the extra ones: we copy our weights in and compare.

# %%
layer = InterleavedGroupedPointwise(36, 20, 8, batch_norm=False, activation=None)
with torch.no_grad():
    layer.k.weight.copy_(w_k)
    layer.l.weight.copy_(torch.cat([w_l_even, w_l_extra]))
    err = (layer(x) - y).abs().max().item()
print(f"max |library - from scratch| = {err:.1e}")
assert err < 1e-5

# %% [markdown]
# The file `igpw_viz/nn/layer.py` is written to be read: its `readable_forward` is the five steps above,
# with the index tables taken from the plan. By default the layer runs a faster backend
# (`igpw_viz/nn/fast/`) that computes the same function; `implementation="readable"` runs this code.

# %%
print(inspect.getsource(InterleavedGroupedPointwise.readable_forward))

# %% [markdown]
# ## The real block: BatchNorm, parameters
#
# In a network each of K and L is followed by BatchNorm (and, in expansions, an activation). For the
# 240 -> 40 projection of EfficientNet-B0 the trainable parameters are the plan's weights plus 2
# BatchNorm parameters per channel for K and for L.

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
# Fewer MACs do not automatically mean less time. We time the forward pass (eval mode) of the block and
# of the dense `Conv2d` + BatchNorm it replaces for four EfficientNet-B0 layers at CIFAR map sizes, in
# rounds that alternate between the two, and report the median and the range over the rounds. A single
# mean hides how noisy small timings are: run the cell twice and compare. Smoke mode uses a tiny batch,
# so its numbers say nothing.

# %%
def time_forward(module, x, rounds, reps):
    """Median and (min, max) in ms of `reps` forward passes, over `rounds` rounds (after a warm-up)."""
    times = []
    with torch.no_grad():
        module(x)  # warm-up
        for _ in range(rounds):
            start = time.perf_counter()
            for _ in range(reps):
                module(x)
            times.append((time.perf_counter() - start) / reps * 1e3)
    return statistics.median(times), min(times), max(times)


batch, rounds, reps = (2, 3, 1) if SMOKE else (64, 7, 5)
print(f"batch {batch}, {rounds} rounds of {reps}, {torch.get_num_threads()} threads")
print(f"{'layer':>10} {'map':>6} {'dense ms (range)':>22} {'V2 ms (range)':>22} "
      f"{'time V2/dense':>13} {'MACs V2/dense':>13}")
results = {}
for ic, fc, size in [(240, 40, 16), (144, 40, 16), (40, 240, 16), (1152, 320, 8)]:
    x = torch.randn(batch, ic, size, size)
    dense = nn.Sequential(nn.Conv2d(ic, fc, 1, bias=False), nn.BatchNorm2d(fc)).eval()
    block = InterleavedGroupedPointwise(ic, fc, 16).eval()
    (d, d_lo, d_hi), (b, b_lo, b_hi) = time_forward(dense, x, rounds, reps), time_forward(block, x, rounds, reps)
    macs = block.plan.weights / block.plan.dense_weights
    results[(ic, fc)] = (d, b, macs)
    print(f"{f'{ic}->{fc}':>10} {f'{size}x{size}':>6} {f'{d:.3f} ({d_lo:.3f}-{d_hi:.3f})':>22} "
          f"{f'{b:.3f} ({b_lo:.3f}-{b_hi:.3f})':>22} {b / d:13.2f} {macs:13.1%}")
assert all(r[2] < 0.5 for r in results.values())  # V2 needs less than half of the dense MACs here

# %% [markdown]
# **Why time and MACs disagree.** A dense 1x1 convolution is one large matrix product, the operation CPU
# and GPU libraries are best at. The block does less arithmetic but in smaller pieces: copies and the
# interleave move memory without computing, grouped products are small, and every extra operation costs a
# fixed launch overhead that dominates small maps. So the block can lose on a small layer (144 -> 40 here
# is often close to 1x, and on a busy machine it can be slower), and it can also win by *more* than its
# MAC ratio: in eval mode the fast backend folds BatchNorm into the convolution weights and picks, per
# stage, the form measured fastest on this kind of CPU, while the dense baseline runs BatchNorm as a
# separate pass. Measured side by side over all of B0's layers with forward and backward (training),
# the block takes about half the time of the dense conv + BatchNorm on 2 CPU cores; the numbers, the
# method and the machine are in the project's `benchmarks/RESULTS.md`.

# %% [markdown]
# **What to remember.**
#
# * The block is five tensor operations: index the copies, a grouped conv (two when groups are uneven),
#   index the interleave and L's copies, another grouped conv, a sum. The plan supplies every index.
# * The library's layer, a literal oracle and a port of the authors' code all compute the same function.
# * BatchNorm, interleave and sum fold into one dense convolution for inference.
# * On these layers the block needs 3-40% of the dense MACs; time gains depend on the hardware, the batch
#   and the map size, and are not proportional to MACs.
#
# ## Exercise
#
# Write a function `block_from_scratch(x, plan, w_k, w_l)` that runs the five steps for *any* plan that
# has an L (use `plan.k.sources`, `plan.k.groups`, `plan.k.base_filters`, `plan.k.uneven_groups`,
# `plan.k.inputs_per_group`, the same for `plan.l`, and `plan.interleave`; `w_k` and `w_l` hold path-1
# filters first, then the extra ones, as the library's `layer.k.weight` does). Check it against the
# library's layer for 240 -> 40 with Ch = 16, where K's groups are uneven and L has copies.

# %% tags=["solution", "hide-cell"]
# Solution
def grouped_stage(x, stage, weight):
    """One grouped 1x1 conv of the plan on its extended input: even filters, then the extra ones."""
    x = x[:, list(stage.sources)]  # N, G*c, H, W
    even = stage.groups * stage.base_filters
    y = F.conv2d(x, weight[:even], groups=stage.groups)  # N, G*base, H, W
    if stage.uneven_groups:
        first = x[:, : stage.uneven_groups * stage.inputs_per_group]
        y = torch.cat([y, F.conv2d(first, weight[even:], groups=stage.uneven_groups)], dim=1)
    return y  # N, Fc, H, W


def block_from_scratch(x, plan, w_k, w_l):
    k = grouped_stage(x, plan.k, w_k)
    t = k[:, list(plan.interleave)]
    return grouped_stage(t, plan.l, w_l) + k


layer = InterleavedGroupedPointwise(240, 40, 16, batch_norm=False, activation=None)
x = torch.randn(2, 240, 3, 3)
with torch.no_grad():
    mine = block_from_scratch(x, layer.plan, layer.k.weight, layer.l.weight)
    assert torch.allclose(mine, layer(x), atol=1e-5)
print("block_from_scratch == library layer for", layer.plan.in_channels, "->", layer.plan.out_channels)
