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
# # 12. Your own network
#
# **Learning goal.** You will put the block into a network that is not EfficientNet: convert its 1x1
# convolutions with `igpw_viz.convert`, read the report (what was grouped, what was left alone and why,
# what each output still reads), count what it saves, draw one converted layer, and export the result to
# ONNX and run it in onnxruntime.

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

import contextlib
import io
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime
import torch
from torch import nn

from igpw_viz import convert, count_macs, count_parameters
from igpw_viz.data.fixtures import smoke_enabled
from igpw_viz.nn.layer import InterleavedGroupedPointwise
from igpw_viz.viz.wiring import draw_wiring

SMOKE = smoke_enabled()
torch.manual_seed(0)
np.random.seed(0)
print(f"SMOKE = {SMOKE}, torch {torch.__version__}")

# %% [markdown]
# ## A network of your own
#
# A small ResNet-style network: bottleneck blocks whose 1x1 convolutions shrink and widen the channels
# around a 3x3 convolution, each followed by BatchNorm; the third block downsamples its shortcut with a
# *strided* 1x1 convolution.

# %%
class Bottleneck(nn.Module):
    def __init__(self, cin, width, cout, stride=1):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width)
        self.conv2, self.bn2 = nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width)
        self.conv3, self.bn3 = nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout)
        self.shortcut = nn.Identity() if stride == 1 and cin == cout else nn.Sequential(
            nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):  # x: N, cin, H, W
        y = torch.relu(self.bn1(self.conv1(x)))  # N, width, H, W
        y = torch.relu(self.bn2(self.conv2(y)))  # N, width, H/stride, W/stride
        return torch.relu(self.bn3(self.conv3(y)) + self.shortcut(x))  # N, cout, H/stride, W/stride


net = nn.Sequential(nn.Conv2d(3, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                    Bottleneck(64, 64, 256), Bottleneck(256, 64, 256), Bottleneck(256, 128, 512, stride=2),
                    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10))
print(f"{count_parameters(net):,} parameters, {count_macs(net, 32) / 1e6:.1f} M MACs per 32x32 image")

# %% [markdown]
# ## Converting it
#
# `convert(net, channels_per_group)` returns a *copy* with every 1x1 convolution that the plan groups
# replaced by the block, together with the BatchNorm right after it (which becomes the block's own pair
# of BatchNorms). The report has one row per 1x1 convolution: its shape, its weights before and after,
# how many inputs each output still reads, and what happened to it.

# %%
slim, report = convert(net, 16)
print(report)
assert isinstance(net[3].conv1, nn.Conv2d)  # the network you passed is unchanged
assert isinstance(slim.get_submodule("5.shortcut.0"), nn.Conv2d)  # strided: left alone, and listed
grouped_weights = sum(slim.get_submodule(c.name).plan.weights for c in report.grouped)
kept_weights = sum(c.weights_before for c in report.layers if c.action != "grouped")
assert report.weights_after == grouped_weights + kept_weights

# %% [markdown]
# The strided shortcut is left as it is (the block is a stride-1 replacement) and is listed with the reason.
# What the whole network saves:

# %%
before, after = count_parameters(net), count_parameters(slim)
macs_before, macs_after = count_macs(net, 32), count_macs(slim, 32)
print(f"parameters {before:,} -> {after:,} ({1 - after / before:.1%} fewer)")
print(f"MACs per image {macs_before / 1e6:.1f} M -> {macs_after / 1e6:.1f} M "
      f"({1 - macs_after / macs_before:.1%} fewer)")
assert after < before and macs_after < macs_before

# %% [markdown]
# ## One converted layer
#
# The first 1x1 convolution of the second block, `256 -> 64`, drawn from its plan:

# %%
block = slim.get_submodule("4.conv1")
assert isinstance(block, InterleavedGroupedPointwise)
print(block.plan.describe())
draw_wiring(block.plan).figure

# %% [markdown]
# ## It still trains
#
# The new layers start from random weights (`init="dense"` would fit them to the trained convolutions;
# see the project's benchmarks for when that helps). One training step on a random batch:

# %%
x, target = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
optimizer = torch.optim.SGD(slim.parameters(), lr=0.05)
loss = nn.functional.cross_entropy(slim.train()(x), target)
loss.backward()
optimizer.step()
print(f"loss {loss.item():.3f} -> {nn.functional.cross_entropy(slim(x), target).item():.3f}")

# %% [markdown]
# ## Exporting it
#
# For deployment, `torch.onnx.export` writes the converted network as an ONNX file that onnxruntime runs
# without PyTorch. We check that it computes what PyTorch computes. (For the smallest graph, `fuse()`
# turns each block, in eval mode, into one ordinary convolution first: it brings back the dense MACs.)

# %%
slim.eval()
path = Path(tempfile.mkdtemp(prefix="igpw_onnx_")) / "slim.onnx"
with contextlib.redirect_stdout(io.StringIO()):  # the exporter reports every stage
    torch.onnx.export(slim, (x,), str(path), dynamo=True)
session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
onnx_out = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
with torch.no_grad():
    error = np.abs(onnx_out - slim(x).numpy()).max()
print(f"{path.stat().st_size / 1e6:.2f} MB ONNX file; max |onnxruntime - PyTorch| = {error:.1e}")
assert error < 1e-4

# %% [markdown]
# **What to remember.**
#
# * `convert` works on any `nn.Module`: it finds the 1x1 convolutions, groups those the plan groups, folds
#   the BatchNorm after each into the block, and tells you what it left alone and why.
# * The report shows the price next to the savings: how many inputs each output still reads.
# * A converted network trains like any other and exports to ONNX.
# * Holding ImageNet weights of EfficientNet-B0 from torchvision or timm? `load_efficientnet_b0(path)`
#   loads them into this project's B0 with the source's padding and BatchNorm settings (pass
#   `num_classes=` for a new head), and `convert(b0, 16, init="dense")` turns it into kEffNet-B0 to
#   fine-tune. The README has the recipe.
#
# ## Exercise
#
# Convert `net` again with `channels_per_group=8` and `layers=("conv1x1", "linear")`, so that the final
# `nn.Linear(512, 10)` is considered too. How many layers are grouped, and is the classifier one of them?
# Why (look at its row of the report)?

# %% tags=["solution", "hide-cell"]
# Solution
slim8, report8 = convert(net, 8, layers=("conv1x1", "linear"))
print(report8)
rows = {c.name: c for c in report8.layers}
print(f"{len(report8.grouped)} grouped; classifier: {rows['8'].action} ({rows['8'].reason})")
assert rows["8"].kind == "linear" and len(report8.grouped) >= len(report.grouped)
assert report8.weights_after < report.weights_after  # narrower groups: fewer weights
