"""Write the course notebooks (stripped, no outputs) from the cell lists below.

The committed ``.ipynb`` files are what students open; this script is how the teacher keeps their prose
and code in one reviewable place. Run ``python notebooks/_build_notebooks.py`` after editing, then
``nbstripout notebooks/*.ipynb`` (the script already writes them without outputs).

Conventions: every notebook starts with exactly one setup cell (imports, the ``SMOKE`` switch, inline
plots, seeds); figures come from library functions (``igpw_viz.viz.wiring*``) and are shown by ending a cell with
``fig`` (never pyplot); numbers that matter are checked with ``assert`` lines; cells that demonstrate an
error carry the ``raises-exception`` tag.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP_DOC = "# Setup: run this cell first. SMOKE=True (IGPW_SMOKE=1) makes every run tiny and offline (used by CI)."
STDLIB = ("import math", "import os", "import time", "import tempfile", "from pathlib")


def setup(extra: str) -> str:
    """The one setup cell: imports (stdlib, third party, igpw_viz), the SMOKE switch, inline plots, seeds."""
    std, third, local = [], ["import numpy as np", "import torch"], ["from igpw_viz.data.fixtures import smoke_enabled"]
    for line in extra.strip().splitlines():
        if not line.strip():
            continue
        (local if "igpw_viz" in line else std if line.startswith(STDLIB) else third).append(line)
    blocks = ["\n".join(sorted(set(b), key=lambda x: (x.startswith("from"), x.lower())))
              for b in (std, third, local) if b]
    return (SETUP_DOC + "\n%matplotlib inline\n" + "\n\n".join(blocks) + "\n\n"
            "SMOKE = smoke_enabled()\ntorch.manual_seed(0)\nnp.random.seed(0)\n"
            'print(f"SMOKE = {SMOKE}, torch {torch.__version__}")')


def md(text: str):
    return new_markdown_cell(text.strip("\n"))


def code(text: str, *tags: str):
    cell = new_code_cell(text.strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


NOTEBOOKS: dict[str, list] = {}

# ------------------------------------------------------------------------------------------------ 01
NOTEBOOKS["01_why_pointwise.ipynb"] = [
    md("""
# 1. Why pointwise convolutions dominate

**Learning goal.** After this notebook you can count the parameters of a 1x1 ("pointwise") convolution
by hand, and you can say where EfficientNet-B0 keeps its parameters: about 94% of them sit in pointwise
convolutions. That is why the paper (Schwarz Schuler et al., *Entropy* 2022) attacks exactly these layers.
"""),
    code(setup('''
from matplotlib.figure import Figure
from torch import nn

from igpw_viz.core.architecture import b0_blocks, b0_pointwise_shapes
from igpw_viz.nn.counting import count_parameters, pointwise_table
from igpw_viz.viz.wiring import PALETTE
from igpw_viz.viz.network import non_pointwise_parameters
from igpw_viz.nn.models import efficientnet_b0
''')),
    md("""
## A 1x1 convolution is a matrix multiplication per pixel

A convolution with kernel size 1 looks at a single pixel at a time. At that pixel it takes the vector of
`Ic` input channels and multiplies it by an `Fc x Ic` matrix to produce `Fc` output channels. So a
pointwise convolution has

$$\\text{weights} = Ic \\times Fc$$

(plus `Fc` biases if it has a bias). It never mixes neighbouring pixels: that is the job of the
*depthwise* convolutions, which in turn never mix channels. EfficientNet's building block (MBConv) uses
both: a pointwise *expansion*, a depthwise convolution, a small squeeze-excitation (two more pointwise
convolutions on a 1x1 map) and a pointwise *projection*.

Let us check the formula on a PyTorch layer. `Ic` is the number of input channels, `Fc` the number of
filters (output channels), the names used throughout this course.
"""),
    code('''
Ic, Fc = 240, 40
pointwise = nn.Conv2d(Ic, Fc, kernel_size=1, bias=False)
depthwise = nn.Conv2d(Ic, Ic, kernel_size=5, groups=Ic, bias=False)  # one 5x5 filter per channel
full_5x5 = nn.Conv2d(Ic, Fc, kernel_size=5, bias=False)

for name, layer in [("pointwise 1x1", pointwise), ("depthwise 5x5", depthwise), ("full 5x5", full_5x5)]:
    print(f"{name:14s} {tuple(layer.weight.shape)!s:20s} {count_parameters(layer):>8,} weights")

assert count_parameters(pointwise) == Ic * Fc == 9_600
assert count_parameters(depthwise) == Ic * 5 * 5 == 6_000
'''),
    md("""
The depthwise 5x5 convolution costs `Ic * 25` weights: it grows *linearly* with the channel count. The
pointwise one grows with the *product* `Ic * Fc`. In the deep stages of EfficientNet-B0 the blocks have
672 or 1152 channels, and the product wins by far.

## One MBConv block, counted by hand

Block 6a of EfficientNet-B0 takes 112 channels, expands them six-fold to 672, runs a 5x5 depthwise
convolution, and projects down to 192 channels. The architecture table in `igpw_viz.core.architecture` holds
exactly these numbers.
"""),
    code('''
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
'''),
    md("""
## The whole network

Now the real model. `efficientnet_b0(num_classes=10)` builds the standard EfficientNet-B0 (the same
layout as torchvision's) with 10 output classes, as used for CIFAR-10 in the paper. Its parameter count
is a published number, so we check it.
"""),
    code('''
baseline = efficientnet_b0(num_classes=10)
total = count_parameters(baseline)
print(f"EfficientNet-B0, 10 classes: {total:,} trainable parameters")
assert total == 4_020_358  # published (torchvision, timm, Keras and the paper agree)
'''),
    md("""
`pointwise_table` lists every 1x1 convolution of the network with its parameters (weights plus
BatchNorm's two parameters per channel, or the bias for the squeeze-excitation layers). EfficientNet-B0
has 64 of them. We add up the parameters by *role*.
"""),
    code('''
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
'''),
    md("""
The same numbers as a chart (pointwise roles in colour, everything else in grey):
"""),
    code('''
fig = Figure(figsize=(8, 3.2), layout="constrained")
ax = fig.add_subplot()
colors = [PALETTE[i] if name in by_role else "#999999" for i, name in enumerate(parts)]
ax.barh(list(parts), list(parts.values()), color=colors)
ax.invert_yaxis()
ax.set_xlabel("trainable parameters")
ax.set_title(f"EfficientNet-B0 (10 classes): {pointwise_total / total:.0%} of the parameters are pointwise")
fig
'''),
    md("""
**What to remember.**

* A pointwise convolution costs `Ic * Fc` weights and `Ic * Fc` multiply-accumulates (MACs) per pixel.
* In EfficientNet-B0, 3,773,312 of the 4,020,358 parameters are pointwise weights; expansions and
  projections dominate, the head (320 -> 1280) alone has 409,600 weights.
* Shrinking the network therefore means shrinking the pointwise convolutions. The next notebook shows
  the first tool for that: *grouping*.

**Exercise.** Which single pointwise layer of the network is the largest? (Hint: sort `rows` by
`r.parameters`.)
"""),
]

# ------------------------------------------------------------------------------------------------ 02
NOTEBOOKS["02_grouping_and_interleave_v1.ipynb"] = [
    md("""
# 2. Grouped pointwise convolutions and the interleave (V1)

**Learning goal.** You will see what a *grouped* pointwise convolution saves and what it loses, how an
*interleave* (a fixed channel shuffle) and a second grouped layer `L` restore the lost mixing, and why
this first scheme ("V1", Schwarz Schuler et al., MENDEL 2022) cannot be applied to every layer.

Notation for the whole course: a pointwise layer maps `Ic` input channels to `Fc` filters; `Ch` is the
hyper-parameter *channels per group*, and `G` is the number of groups. `Ch` is a group **width**, `G` a
group **count**: do not mix them up.
"""),
    code(setup('''
from torch import nn

from igpw_viz import plan_pointwise
from igpw_viz.core.architecture import b0_pointwise_shapes
from igpw_viz.viz.connectivity import draw_connectivity
from igpw_viz.viz.wiring import draw_wiring
''')),
    md("""
## Grouping: cheaper, but blind

A grouped convolution splits the `Ic` input channels into `G` groups and gives each group its own small
set of filters. Each filter only reads `Ic / G` channels, so the layer has `G` times fewer weights. In
PyTorch this is the `groups=` argument:
"""),
    code('''
Ic, Fc, G = 240, 40, 10
dense = nn.Conv2d(Ic, Fc, 1, bias=False)
grouped = nn.Conv2d(Ic, Fc, 1, groups=G, bias=False)
print("dense weights:  ", dense.weight.numel(), tuple(dense.weight.shape))
print("grouped weights:", grouped.weight.numel(), tuple(grouped.weight.shape), "<- each filter sees", Ic // G)
assert grouped.weight.numel() == dense.weight.numel() // G == 960
'''),
    md("""
The price: output channel 0 only ever sees input channels 0-23. Information from channel 100 can never
reach it. Stack several grouped layers and the network splits into `G` independent narrow networks.

## V1: K, interleave, L, sum

The V1 scheme replaces one dense pointwise convolution by a small subnetwork:

1. **K**: a grouped pointwise conv `Ic -> Fc` with `G` groups;
2. **interleave**: reorder K's outputs so that neighbouring channels come from *different* groups;
3. **L**: a second grouped conv `Fc -> Fc` with `G` groups on the interleaved channels;
4. **sum**: output = L's output + K's output.

V1 picks `G` as the largest common divisor of `Ic` and `Fc` that is at most `Ic // Ch`. The library's
`plan_pointwise` computes this plan as plain index tables; `describe()` explains it in words.
"""),
    code('''
plan = plan_pointwise(240, 40, 16, scheme="v1")
print(plan.describe())
assert plan.k.groups == 10 and plan.k.inputs_per_group == 24
assert plan.l.groups == 10 and plan.interleave_step == 4
assert plan.weights == 960 + 160 == 1_120
'''),
    md("""
A small layer is easier to look at channel by channel. With `Ic = 24`, `Fc = 12` and `Ch = 6`, V1 uses
4 groups. In the drawing, colours are groups: K's groups on the left, the interleave in the middle, L's
groups on the right. Follow one colour through the interleave and see how every L group receives one
channel from each K group.
"""),
    code('''
small = plan_pointwise(24, 12, 6, scheme="v1")
print(small.describe())
print("interleave order of K's outputs:", small.interleave)
assert small.k.groups == 4 and small.interleave == (0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11)
draw_wiring(small, level="channel").figure
'''),
    md("""
## What the interleave buys: who depends on whom

`plan.connectivity()` lists, for each output channel of the whole block, the input channels it depends
on. The dependency matrices below show it for `240 -> 40`: K alone is block-diagonal (each output sees
24 inputs); after the interleave and L, every output sees inputs from 4 different groups.
"""),
    code('''
deps = [len(d) for d in plan.connectivity()]
k_deps = [len(d) for d in plan.k.connectivity()]
print(f"K alone: each output reads {max(k_deps)} of {plan.in_channels} inputs")
print(f"K + interleave + L: each output reads {min(deps)}-{max(deps)} of {plan.in_channels} inputs")
assert max(k_deps) == 24 and min(deps) == 4 * 24
draw_connectivity(plan)
'''),
    md("""
## Where V1 cannot be applied: divisibility

V1 needs a common divisor of `Ic` and `Fc`. Take the expansion `24 -> 144` of block 2b with `Ch = 16`:
`24 // 16 = 1`, so the only admissible group count is 1, and the layer **stays dense**. V1 does not raise
an error here; the plan simply is the dense layer, and `describe()` says why.
"""),
    code('''
stuck = plan_pointwise(24, 144, 16, scheme="v1")
print(stuck.describe())
assert stuck.is_dense and stuck.weights == 24 * 144
'''),
    md("""
How often does this happen in EfficientNet-B0? We plan every one of its 64 pointwise layers with V1 at
`Ch = 16` and list those that stay dense. For comparison we also ask V2 (notebook 3), which has its own
rule: a layer with very few input channels (`Ic <= Ch`, such as the squeeze-excitation expansions
`4 -> 96`) is not worth grouping, so V2 keeps it dense *on purpose*, not because of divisibility.
"""),
    code('''
v1_dense, v2_dense = [], []
for s in b0_pointwise_shapes():
    name = f"{s.block} {s.role} {s.in_channels}->{s.out_channels}"
    if plan_pointwise(s.in_channels, s.out_channels, 16, scheme="v1").is_dense:
        v1_dense.append(name)
    if plan_pointwise(s.in_channels, s.out_channels, 16, scheme="v2").is_dense:
        v2_dense.append(name)
only_v1 = [n for n in v1_dense if n not in v2_dense]
print(f"dense under V1: {len(v1_dense)} of 64, under V2: {len(v2_dense)} of 64")
print("V1 cannot group, V2 can:", *only_v1, sep="\\n  ")
assert "2b expand 24->144" in only_v1
assert len(v1_dense) == 15 and len(v2_dense) == 9
'''),
    md("""
## A clear error for a meaningless request

Asking for zero channels per group is not a plan at all. The library refuses with a message that names
the argument (this cell is *meant* to fail; it is tagged `raises-exception`).
"""),
    code('''
plan_pointwise(240, 40, 0)  # Ch must be a positive int
''', "raises-exception"),
    md("""
**What to remember.**

* Grouping divides the weights by `G` but cuts the channel mixing into `G` islands.
* V1 restores mixing with an interleave and a second grouped layer `L`, and adds K's output back.
* V1 needs `G` to divide both `Ic` and `Fc`; many EfficientNet-B0 layers have no suitable divisor and
  stay dense. Notebook 3 shows how V2 removes that constraint.

**Exercise.** Find a `Ch` for which V1 *can* group `24 -> 144`. What is `G` then?
"""),
]

# ------------------------------------------------------------------------------------------------ 03
NOTEBOOKS["03_v2_without_divisibility.ipynb"] = [
    md("""
# 3. Without divisibility constraints (V2)

**Learning goal.** You will learn the two tricks of V2 (the paper's scheme): **replicating** a few input
channels so that the last group is full, and giving groups **uneven** numbers of filters. You will count
four real EfficientNet-B0 layers by hand and check your numbers against the library's plan.
"""),
    code(setup('''
import math

from matplotlib.figure import Figure

from igpw_viz import plan_pointwise
from igpw_viz.viz.connectivity import draw_v1_vs_v2
from igpw_viz.viz.wiring import draw_wiring
''')),
    md("""
## The V2 rules in four lines

For a layer `Ic -> Fc` with `Ch` channels per group:

1. **Groups**: `G = min(ceil(Ic / Ch), Fc)`; each group reads `Ch` channels (wider only when `G` was
   capped by `Fc`).
2. **Replication**: if `G * Ch > Ic`, the first `G * Ch - Ic` input channels are copied and appended, so
   the last group is full. Copies cost no weights.
3. **Uneven filters**: `Fc = G * base + extra`; the first `extra` groups get `base + 1` filters.
4. **L** exists only when the layer does not expand (`Ic >= Fc`): interleave with step `Fc // Ch`, then
   the same grouped routine `Fc -> Fc`, then the sum. Expansions are K alone.

(A layer stays dense unless `Ic > 2*Ch`, or `Fc > Ic` and `Ic > Ch`.)

## Layer 40 -> 240 (an expansion), Ch = 16

By hand: `ceil(40/16) = 3` groups of 16 channels need 48 inputs, so channels 0-7 are replicated.
`240 = 3 x 80`: 80 filters per group, no unevenness. It is an expansion: no L.
"""),
    code('''
Ic, Fc, Ch = 40, 240, 16
G = math.ceil(Ic / Ch)
copies = G * Ch - Ic
weights = Ch * Fc  # each of the Fc filters reads Ch channels
print(f"by hand: G={G}, copies of channels 0-{copies - 1}, weights={weights:,}")

plan = plan_pointwise(Ic, Fc, Ch)
print(plan.describe())
assert (plan.k.groups, plan.k.replicated, plan.l) == (G, tuple(range(copies)), None)
assert plan.weights == weights == 3_840
'''),
    md("""
V1 can only use `G = 2` here (the largest common divisor of 40 and 240 that is at most `40 // 16 = 2`),
so it saves less. Side by side (the drawing switches to a *group view* when a layer has too many channels
to draw one by one: each box is a group, with its channel range and filter count):
"""),
    code('''
v1 = plan_pointwise(40, 240, 16, scheme="v1")
print(f"V1: {v1.weights:,} weights, V2: {plan.weights:,} weights (dense: {plan.dense_weights:,})")
assert v1.weights == 4_800 and plan.weights < v1.weights
draw_v1_vs_v2(40, 240, 16, fig=Figure(figsize=(14, 5), layout="constrained"))
'''),
    md("""
## Layer 240 -> 40 (a projection), Ch = 16

By hand, K: `G = 15` groups of 16 channels (240 = 15 x 16, no copies). `40 = 15 x 2 + 10`: groups 0-9
get 3 filters, groups 10-14 get 2. K has `16 x 40 = 640` weights.

Interleave with step `40 // 16 = 2`. L maps 40 -> 40: `ceil(40/16) = 3` groups need 48 inputs, so the
first 8 *interleaved* channels are replicated; `40 = 3 x 13 + 1`: group 0 gets 14 filters. L has
`16 x 40 = 640` weights. Total 1,280 instead of 9,600.
"""),
    code('''
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
'''),
    md("""
With 240 input channels a channel-by-channel drawing would be very tall, so `draw_wiring` switches to
the group view: bold groups carry the extra filter, coloured lines from K to L show the interleave
mixing, grey lines the skip from K to the sum. (`draw_wiring(plan, level="channel")` draws every one of
the 240 wires if you want to see them.)
"""),
    code('''
draw_wiring(plan).figure
'''),
    md("""
## Layer 144 -> 40, Ch = 16 (V1 and V2 both apply, differently)

V2: `G_K = 9` groups of 16, `40 = 9 x 4 + 4`, so groups 0-3 get 5 filters. L is the same as above.
V1 finds `G = 8` (divides 144 and 40, and `8 <= 144 // 16 = 9`).
"""),
    code('''
v2 = plan_pointwise(144, 40, 16)
v1 = plan_pointwise(144, 40, 16, scheme="v1")
print(v2.describe(), "\\n")
print(v1.describe())
assert v2.k.groups == 9 and v2.k.uneven_groups == 4 and v2.weights == 1_280
assert v1.k.groups == 8 and v1.weights == 920
draw_wiring(v2).figure
'''),
    md("""
V1 is cheaper on this layer, which is fine: what matters is that V2 never leaves a layer dense because of
divisibility, and that L in V2 reads `Ch` channels per group, not `Fc / G` (V1's L reads only 5 here).

## Layer 96 -> 4 (squeeze-excitation), Ch = 16

`ceil(96/16) = 6` groups would need 6 filters, but there are only 4: V2 caps `G` at `Fc = 4` and widens
the groups to `96 / 4 = 24` channels. Then `Fc = 4 <= Ch`, so L is a small dense `4 x 4` conv.
By hand: `24 x 4 + 4 x 4 = 112` weights.
"""),
    code('''
plan = plan_pointwise(96, 4, 16)
print(plan.describe())
assert plan.k.groups == 4 and plan.k.inputs_per_group == 24 and plan.l.is_dense
assert plan.weights == 24 * 4 + 4 * 4 == 112
draw_wiring(plan, level="channel").figure
'''),
    md("""
**What to remember.**

* V2 fills the last group with copies of the first channels, and spreads filters unevenly over the
  groups: any `Ic`, `Fc` and `Ch` give a valid grouped layer.
* Weights of a V2 block are `Ch * Fc` for K plus `Ch * Fc` for L (or `Fc * Fc` when L is dense); you can
  check every number here with a pencil.

**Exercise.** Count `320 -> 1280` (EfficientNet's head) at `Ch = 16` by hand, then check with
`plan_pointwise(320, 1280, 16).describe()`.
"""),
]

# ------------------------------------------------------------------------------------------------ 04
NOTEBOOKS["04_layer_in_pytorch.ipynb"] = [
    md("""
# 4. The layer in PyTorch

**Learning goal.** You will build the V2 block as a PyTorch module, check it against a slow, literal
*oracle* computed from the plan, fold it into a single convolution for inference, and measure its speed
against the dense convolution it replaces.
"""),
    code(setup('''
import time

import torch.nn.functional as F
from torch import nn

from igpw_viz import InterleavedGroupedPointwise
from igpw_viz.nn.counting import count_parameters
from igpw_viz.nn.oracle import StraightforwardPort, oracle_forward
''')),
    md("""
## Building the block

`InterleavedGroupedPointwise(Ic, Fc, Ch)` is a drop-in replacement for `Conv2d(Ic, Fc, 1)` followed by
BatchNorm (and optionally an activation). It reads its wiring from `plan_pointwise`, so it is exactly the
plan of notebook 3. Its trainable parameters are the plan's weights plus 2 BatchNorm parameters per
channel for K and for L.
"""),
    code('''
layer = InterleavedGroupedPointwise(240, 40, 16)
print(layer)
n = count_parameters(layer)
print(f"{n:,} parameters = {layer.plan.weights:,} weights + 2 x 2 x 40 BatchNorm")
assert n == layer.plan.parameters(batch_norm=True) == 1_280 + 160
assert tuple(layer.k.weight.shape) == (40, 16, 1, 1)  # 40 filters, each reading 16 channels
'''),
    md("""
## Checking against the oracle

`oracle_forward(layer, x)` computes the block the slow, obvious way: for every group, for every filter, a
weighted sum of the channels that group reads, using the layer's own weights. If the fast layer and
the oracle agree on random input, the fast layer implements the plan. We check in training mode (batch
statistics) and in eval mode (running statistics).
"""),
    code('''
x = torch.randn(4, 240, 8, 8)  # N, Ic, H, W
for mode in ("train", "eval"):
    layer.train(mode == "train")
    with torch.no_grad():
        fast, slow = layer(x), oracle_forward(layer, x)
    err = (fast - slow).abs().max().item()
    print(f"{mode:5s}: output {tuple(fast.shape)}, max |fast - oracle| = {err:.2e}")
    assert fast.shape == (4, 40, 8, 8)
    assert torch.allclose(fast, slow, atol=1e-5)
'''),
    md("""
A second reference, `StraightforwardPort`, builds the block the way the authors' Keras code does
(concatenations for the copies, two convolutions per stage for uneven groups, strided slices for the
interleave). It must agree too:
"""),
    code('''
port = StraightforwardPort(layer).eval()
with torch.no_grad():
    assert torch.allclose(layer(x), port(x), atol=1e-5)
print("fast layer == straightforward port")
'''),
    md("""
## Gradients flow through every weight

Training needs gradients for all weights, including those reading replicated channels. One backward
pass on a toy loss:
"""),
    code('''
layer.train()
layer.zero_grad()
layer(x).square().mean().backward()
for name, p in layer.named_parameters():
    assert p.grad is not None and p.grad.abs().sum() > 0, name
print("every parameter received a gradient:", [name for name, _ in layer.named_parameters()])
'''),
    md("""
## Folding for inference

In eval mode, BatchNorm is an affine map, the interleave is a permutation and the sum is linear: the
whole block (without activation between K and L) is *one* dense `1 x 1` convolution. `fuse()` computes
it. Useful for deployment or for checking; note that it brings back the dense layer's MACs.
"""),
    code('''
layer.eval()
folded = layer.fuse()
print(folded)
with torch.no_grad():
    err = (folded(x) - layer(x)).abs().max().item()
print(f"max |folded - block| = {err:.2e}")
assert isinstance(folded, nn.Conv2d) and folded.weight.shape == (40, 240, 1, 1)
assert torch.allclose(folded(x), layer(x), atol=1e-4)
'''),
    md("""
## Wrong input gives a clear error

The layer checks the channel count of its input:
"""),
    code('''
layer(torch.randn(1, 100, 4, 4))  # 100 channels, but the layer expects 240
''', "raises-exception"),
    md("""
## Measuring against the dense convolution

Fewer MACs do not automatically mean less time: a grouped convolution needs gathers for the copies and
uneven groups, and libraries are tuned for dense convolutions. We time the forward pass of the block and
of a dense `Conv2d` + BatchNorm for a few EfficientNet-B0 layers at their 32x32-CIFAR map sizes. Smoke
mode uses a tiny batch and few repeats, so its numbers are only indicative.
"""),
    code('''
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
'''),
    md("""
**What to remember.**

* The module is built from the plan; an oracle computed literally from the same plan checks it.
* BatchNorm, interleave and sum fold into one dense convolution for inference.
* MACs drop by 3-8x on these layers; wall-clock gains depend on the hardware and the batch size (see the
  project's `benchmarks/` for measured numbers).
"""),
]

# ------------------------------------------------------------------------------------------------ 05
NOTEBOOKS["05_explore_ch.ipynb"] = [
    md("""
# 5. Explore Ch interactively

**Learning goal.** Build an intuition for the hyper-parameter `Ch` (channels per group): how it changes
the wiring of one layer, and how it trades parameters for mixing over the whole kEffNet-B0.

Each interactive widget below comes after a *fixed-value* call of the same function. The fixed call is
what the book and the tests show; the widget is for you to play with in JupyterLab (sliders update when
you release them). In the web book the widget cells are shown but not run (their tag `skip-execution`):
open the notebook in JupyterLab to use them.
"""),
    code(setup('''
from igpw_viz.viz.connectivity import layer_report
from igpw_viz.core.paper import PUBLISHED_PARAMETERS as PUBLISHED
from igpw_viz.viz.network import network_report
from igpw_viz.viz.widgets import explore_layer, explore_network
''')),
    md("""
## One layer

`layer_report(Ic, Fc, Ch, scheme)` returns the wiring drawing and the plan's description with its counts.
Here for the projection `240 -> 40` at `Ch = 16`:
"""),
    code('''
fig, text = layer_report(240, 40, 16, "v2")
print(text)
assert "1,280 instead of 9,600" in text
fig
'''),
    md("""
Now move the sliders. Things to try:

* `Ch = 1, 2, 4`: more groups, fewer weights; L gets more groups too.
* `Ic = 24, Fc = 144` with V1 and with V2: V1 stays dense, V2 replicates 8 channels.
* `Ch` larger than `Ic / 2`: the layer stays dense in V2.
"""),
    code('''
explore_layer(240, 40, 16, "v2")  # not run when the book is built: a static page has no kernel
''', "skip-execution"),
    md("""
## The whole network

`network_report(Ch, scheme)` draws, for kEffNet-B0, the parameters of each of the 64 pointwise layers
(dense, V1, V2) and the total parameters of the model versus `Ch`, with the paper's published counts
as stars.
"""),
    code('''
fig, totals = network_report(16, "v2")
print(f"V2, Ch=16: {totals['parameters']:,} parameters, {totals['savings']:.1%} fewer than the baseline")
assert totals["parameters"] == PUBLISHED[("v2", 16)] == 623_226
assert totals["baseline_parameters"] == PUBLISHED[("dense", None)]
fig
'''),
    code('''
explore_network(16, "v2")  # not run when the book is built: a static page has no kernel
''', "skip-execution"),
    md("""
**Questions to answer with the widgets.**

1. At which `Ch` does V2 save about 3/4 of the parameters? (The paper's headline: V2 at `Ch = 32` saves
   76%.)
2. Where is V1 above V2 on the totals curve, and why? (Hint: layers V1 leaves dense.)
3. Which layers are still dense at `Ch = 16` in V2? (Look for bars of equal height.)
"""),
]

# ------------------------------------------------------------------------------------------------ 06
NOTEBOOKS["06_keffnet_b0.ipynb"] = [
    md("""
# 6. kEffNet-B0: the whole network

**Learning goal.** You will build kEffNet-B0 (EfficientNet-B0 with every pointwise convolution replaced
by the block of notebook 4), read its per-layer table, and reproduce the paper's published parameter
counts for V1 and V2 at `Ch = 16` and `Ch = 32`.
"""),
    code(setup('''
from igpw_viz.nn.counting import count_macs, count_parameters, format_pointwise_table, pointwise_table
from igpw_viz.core.paper import PUBLISHED_PARAMETERS as PUBLISHED
from igpw_viz.viz.network import draw_network_layers, draw_network_totals
from igpw_viz.nn.models import efficientnet_b0, keffnet_b0
''')),
    md("""
## Building the model

`keffnet_b0(num_classes, channels_per_group, scheme, skip_strides)` builds the network from the same
stage table as `efficientnet_b0`. For CIFAR-10's 32x32 images the paper skips the first three strides
(`skip_strides=3`), so the feature maps are 31x31 in the first stages instead of 16x16.
"""),
    code('''
model = keffnet_b0(num_classes=10, channels_per_group=16, scheme="v2", skip_strides=3)
print(model.features[3][0])  # block 3a: expansion, depthwise, squeeze-excitation, projection
n = count_parameters(model)
print(f"kEffNet-B0 V2, Ch=16: {n:,} parameters")
assert n == PUBLISHED[("v2", 16)] == 623_226
'''),
    md("""
A forward pass on a small batch of CIFAR-sized images gives one score per class:
"""),
    code('''
model.eval()
with torch.no_grad():
    logits = model(torch.randn(2, 3, 32, 32))  # N, C, H, W
print(logits.shape)
assert logits.shape == (2, 10)
'''),
    md("""
## The per-layer table

`pointwise_table` runs one forward pass with hooks and lists every pointwise layer: its shape, whether V2
grouped it, the groups of K and L, how many channels were replicated, the output map size, and
parameters and MACs against the dense layer.
"""),
    code('''
rows = pointwise_table(model, image_size=32)
print(format_pointwise_table(rows))
assert len(rows) == 64
assert sum(r.weights for r in rows) == 372_224  # pointwise conv weights, algorithm spec
'''),
    md("""
The analytic MAC count (multiply-accumulates of all convolutions and the classifier, for one 32x32 image)
is also a reference value:
"""),
    code('''
macs = count_macs(model, 32)
print(f"{macs:,} MACs per 32x32 image")
assert macs == 79_124_080
'''),
    md("""
## Against the paper

We build the four kEffNet-B0 variants of the paper's CIFAR-10 table and the baseline, and compare their
trainable parameters with the published numbers.
"""),
    code('''
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
'''),
    md("""
The per-layer parameters at `Ch = 16` (log scale) and the totals versus `Ch`:
"""),
    code('''
draw_network_layers(16).figure
'''),
    code('''
draw_network_totals(current=32, scheme="v2").figure
'''),
    md("""
**What to remember.**

* kEffNet-B0 is EfficientNet-B0 with each of its 64 pointwise layers replaced by a V1 or V2 block; the
  stem, the depthwise convolutions and the classifier are unchanged.
* V2 at `Ch = 16` keeps 623,226 of 4,020,358 parameters (84.5% saved); at `Ch = 32`, 950,650 (76% saved),
  and these counts match the paper exactly.
* Fewer parameters is only half of the story: notebooks 7-10 train these models and compare accuracy.
"""),
]


# ------------------------------------------------------------------------------------------------ 07
NOTEBOOKS["07_first_training_run.ipynb"] = [
    md("""
# 7. A first training run (offline, on a CPU)

**Learning goal.** You will train EfficientNet-B0 and kEffNet-B0 V2 (`Ch = 16`) with the library's
training engine on a dataset that ships with scikit-learn (handwritten digits, 1,797 images of 8x8
pixels), read the learning curves, and compare accuracy and parameters. Everything here runs offline.
"""),
    code(setup("""
import tempfile

from igpw_viz.data.digits import load_digits_splits
from igpw_viz.viz.samples import draw_samples
from igpw_viz.core.paper import PUBLISHED_PARAMETERS as PUBLISHED
from igpw_viz.training.results import load_run, plot_learning_curves
from igpw_viz.training import preset, train
""")),
    md("""
## The data

`load_digits_splits` turns scikit-learn's digits into the same format as the real datasets: uint8
images, `N x 3 x H x W`, split into train, validation and test sets stratified by class. `draw_samples`
shows the first training images of each class, one column per class.
"""),
    code('''
digits = load_digits_splits(seed=0)
print(digits)
fig = draw_samples(digits.train.images, digits.train.labels, digits.classes, per_class=3)
assert digits.num_classes == 10 and len(digits.train) + len(digits.val) + len(digits.test) == 1797
assert [ax.get_title() for ax in fig.axes[:10]] == list(digits.classes)
fig
'''),
    md("""
## The configuration

`preset(dataset, model)` returns a `TrainConfig` with the protocol for that dataset: for the paper's
datasets the paper's settings (RMSprop, the cyclic learning rate, batch 64, epochs, augmentation), for
the digits a short schedule meant to finish in about a minute per model on two CPU cores (8x8 images
upsampled to 16x16). Every field can be overridden by keyword. In smoke mode we cut the run to a few
batches.
"""),
    code('''
smoke = dict(epochs=1, limit_train_batches=2, limit_eval_batches=1, batch_size=16) if SMOKE else {}
configs = {tag: preset("digits", tag, device="cpu", progress=not SMOKE, **smoke) for tag in ("baseline", "v2-16")}
print(configs["v2-16"])
assert configs["v2-16"].channels_per_group == 16 and configs["baseline"].model == "efficientnet_b0"
'''),
    md("""
## Training

`train(config)` builds the model and the data pipeline, trains with the per-epoch schedule, keeps the
checkpoint with the best validation accuracy, and tests it once at the end. It writes everything into a
run folder (`config.json`, `history.csv`, `best.pt`, `last.pt`, `metrics.json`); here a temporary one.
"""),
    code('''
runs_root = tempfile.mkdtemp(prefix="igpw_runs_")
results = {tag: train(cfg, runs_root=runs_root) for tag, cfg in configs.items()}
for tag, r in results.items():
    print(f"{tag:9s} {r.metrics['params']:>10,} params  test accuracy {r.metrics['test_acc']:.2%}  "
          f"({r.metrics['time_per_epoch_s']:.1f} s/epoch)")
assert results["v2-16"].metrics["params"] == 623_226 == PUBLISHED[("v2", 16)]
assert results["baseline"].metrics["params"] == 4_020_358
assert all(0.0 <= r.metrics["test_acc"] <= 1.0 for r in results.values())
if not SMOKE:  # a real run learns the digits well; a smoke run only proves the code path
    assert min(r.metrics["test_acc"] for r in results.values()) > 0.8
'''),
    md("""
## Learning curves

The history has one row per epoch (`history.csv` in the run folder). `load_run` reads a run folder back and
`plot_learning_curves` draws validation accuracy (solid) and training accuracy (dashed) per epoch. (In smoke
mode there is a single epoch: the curves are points.)
"""),
    code('''
runs = [load_run(r.run_dir) for r in results.values()]
fig = plot_learning_curves(runs)
assert all(len(r.history) == configs[tag].epochs for tag, r in results.items())
assert len(fig.axes[0].lines) == 2 * len(runs)
fig
'''),
    md("""
**What to remember.**

* The same `preset` / `train` calls run the paper's protocol on the real datasets (notebooks 8-10); only
  the dataset name changes.
* kEffNet-B0 V2-16 has 15% of the baseline's parameters. The paper's question is whether it keeps the
  accuracy; on the digits you can answer it on your laptop.

**Exercise.** Train `v2-4` and `v1-16` (change the tags) and compare parameters and accuracy.
"""),
]


def dataset_notebook(number: str, name: str, title: str, about: str, tags: tuple[str, ...],
                     n_classes: int, paper: str, paper_acc: str) -> list:
    return [
        md(f"""
# {number}. Training on {title}

**Learning goal.** You will download {title} (once, hash-checked), look at its splits and images, train
{", ".join(tags)} with the paper's protocol, and compare the test accuracy with the paper.

{about}

The full protocol needs a GPU and hours. With `IGPW_SMOKE=1` this notebook instead uses a tiny archive in
the real format, generated locally, through the *same* loader and training code, for one short epoch:
the numbers are then meaningless, but every line runs.
"""),
        code(setup("""
import contextlib
import tempfile

from igpw_viz.data import load_dataset, override
from igpw_viz.data.fixtures import make_fixture_root
from igpw_viz.viz.samples import draw_samples
from igpw_viz.core.paper import paper_accuracies
from igpw_viz.training import preset, train
""")),
        md("""
## Getting the data

`load_dataset` looks for the archive in the data folder (argument `root`, else `$IGPW_DATA_DIR`, else
`~/.cache/igpw_viz`), downloads it if needed with a checked SHA-256, decodes it once into a cache, and
applies the paper's split. Offline, it tells you which file to copy where. In smoke mode we write a tiny
fixture archive and register it in place of the real one while we use it.
"""),
        code(f"""
NAME = "{name}"
if SMOKE:
    fixture = make_fixture_root(NAME, tempfile.mkdtemp(prefix="igpw_smoke_"), size=10)
    DATA_ROOT, IMAGE_SIZE = str(fixture.root), 32
else:
    DATA_ROOT, IMAGE_SIZE = None, None  # the default data folder; the paper's image size


def dataset_context():
    # the fixture archive stands in for the real one in smoke mode; nothing changes otherwise
    return override(fixture.spec) if SMOKE else contextlib.nullcontext()


with dataset_context():
    data = load_dataset(NAME, DATA_ROOT, image_size=IMAGE_SIZE, offline=SMOKE or None, progress=not SMOKE)
print(data)
for part in ("train", "val", "test"):
    split = getattr(data, part)
    print(f"{{part:5s}} {{len(split):>7,}} images, per class {{split.class_counts(data.num_classes)}}")
assert data.num_classes == {n_classes}
"""),
        md("""
## A look at the images

The first training images of each class (`draw_samples`, one column per class):
"""),
        code("""
fig = draw_samples(data.train.images, data.train.labels, data.classes, per_class=4)
assert [ax.get_title() for ax in fig.axes[:data.num_classes]] == list(data.classes)
assert all((data.train.labels == c).any() for c in range(data.num_classes))
fig
"""),
        md(f"""
## Training with the paper's protocol

`preset("{name}", tag)` fills in the paper's settings for this dataset; we print the one for
{tags[-1]}. In smoke mode we shrink it (32x32 images, batch 8, two batches, one epoch).
"""),
        code(f"""
TAGS = {tags!r}
smoke = dict(epochs=1, batch_size=8, image_size=32, skip_strides=3, limit_train_batches=2,
             limit_eval_batches=1, device="cpu", offline=True, data_root=DATA_ROOT) if SMOKE else {{}}
configs = {{tag: preset(NAME, tag, progress=not SMOKE, **smoke) for tag in TAGS}}
print(configs[TAGS[-1]])
assert all(cfg.dataset == NAME for cfg in configs.values())
"""),
        md("""
Each run writes its folder under `runs/` (next to the notebooks): the configuration, the per-epoch
history, the best and last checkpoints and the final metrics. An interrupted run continues with
`train(cfg, run_dir=..., resume=True)`. The same runs are available from the command line:
`python -m igpw_viz train --help`.
"""),
        code("""
runs_root = tempfile.mkdtemp(prefix="igpw_runs_") if SMOKE else "runs"
results = {}
with dataset_context():
    for tag, cfg in configs.items():
        results[tag] = train(cfg, runs_root=runs_root)
for tag, r in results.items():
    m = r.metrics
    print(f"{tag:9s} {m['params']:>10,} params  best epoch {m['best_epoch']:>4}  test accuracy {m['test_acc']:.2%}")
assert set(results) == set(TAGS)
assert all(0.0 <= r.metrics["test_acc"] <= 1.0 for r in results.values())
"""),
        md(f"""
## Comparison with the paper

{paper}
"""),
        code(f"""
# published test accuracies (%), one run each: igpw_viz.core.paper.PAPER_RESULTS
PAPER_TEST_ACC = paper_accuracies(NAME)
print(f"{{'model':9s}} {{'ours':>8s}} {{'paper':>8s}}")
for tag, r in results.items():
    print(f"{{tag:9s}} {{100 * r.metrics['test_acc']:8.2f}} {{PAPER_TEST_ACC[tag]:8.2f}}")
QUOTED = {paper_acc}  # the numbers quoted above
assert set(PAPER_TEST_ACC) >= set(TAGS) and all(PAPER_TEST_ACC[k] == v for k, v in QUOTED.items())
if not SMOKE:  # a full run should land within a couple of points of the published number
    assert all(abs(100 * r.metrics["test_acc"] - PAPER_TEST_ACC[t]) < 3 for t, r in results.items())
"""),
        md("""
**What to remember.** The paper's claim is not that kEffNet-B0 is more accurate, but that it reaches about
the same accuracy with a fraction of the parameters.
"""),
    ]


NOTEBOOKS["08_cifar10.ipynb"] = dataset_notebook(
    "8", "cifar10", "CIFAR-10",
    "CIFAR-10 has 60,000 colour images of 32x32 pixels in 10 classes (50,000 for training, 10,000 for "
    "testing). The paper validates on the first 10% of the training arrays, trains kEffNet-B0 at 32x32 with "
    "the first three strides skipped, and the baseline at 224x224 (upsampled), for 50 epochs with batch 64.",
    ("baseline", "v2-16", "v2-32"), 10,
    "Published (50 epochs, best validation checkpoint): baseline 93.33%, V1-16 92.46%, V2-16 92.61%, "
    "V1-32 93.61%, V2-32 93.67%.",
    '{"baseline": 93.33, "v1-16": 92.46, "v2-16": 92.61, "v1-32": 93.61, "v2-32": 93.67}')
NOTEBOOKS["09_colorectal_histology.ipynb"] = dataset_notebook(
    "9", "colorectal_histology", "colorectal cancer histology",
    "Kather et al. (2016) published 5,000 tissue tiles of 150x150 pixels, 625 in each of 8 classes (tumour, "
    "stroma, complex, lymphocytes, debris, mucosa, adipose, empty). The paper zero-pads and resizes them to "
    "224x224, splits each class on its sorted file list (63 validation, 63 test, 499 training images), "
    "enlarges validation four-fold with flips, and trains for 1000 epochs.",
    ("baseline", "v2-16"), 8,
    "Published (1000 epochs, best validation loss): baseline 97.61%, V2-16 97.62%.",
    '{"baseline": 97.61, "v2-16": 97.62}')
NOTEBOOKS["10_malaria.ipynb"] = dataset_notebook(
    "10", "malaria", "malaria cell images",
    "The NIH malaria dataset has 27,558 cell images of varying size, half parasitized and half uninfected. "
    "The paper uses the same split procedure and preprocessing as for the histology tiles (224x224; 1,378 "
    "validation and 1,378 test images per class) and trains for 75 epochs. A cell-level split mixes "
    "patients between training and test; `load_dataset(..., split=\"patient\")` offers the stricter "
    "patient-disjoint protocol.",
    ("baseline", "v2-16", "v2-32"), 2,
    "Published (75 epochs, best validation loss): baseline 97.39%, V2-16 97.61%, V2-32 97.57%.",
    '{"baseline": 97.39, "v2-16": 97.61, "v2-32": 97.57}')


# ------------------------------------------------------------------------------------------------ 11
NOTEBOOKS["11_results.ipynb"] = [
    md("""
# 11. Results across runs and datasets

**Learning goal.** You will read run folders back (`igpw_viz.training.results`), put the runs side by side in one
table, and draw learning curves and accuracy against parameters next to the paper's published points.

After notebooks 8-10 in full mode, the run folders are under `runs/` next to the notebooks. In smoke mode
(and if `runs/` is empty) this notebook first makes two tiny digits runs so that every cell has something
to show.
"""),
    code(setup("""
import tempfile
from pathlib import Path

from igpw_viz.core.paper import PAPER_CIFAR10
from igpw_viz.training.results import compare_runs, format_table, load_runs
from igpw_viz.training.results import plot_accuracy_vs_parameters, plot_learning_curves
from igpw_viz.training import preset, train
""")),
    code('''
runs_folder = Path("runs")
if SMOKE or not any(runs_folder.glob("*/config.json")):
    runs_folder = Path(tempfile.mkdtemp(prefix="igpw_runs_"))
    smoke = dict(epochs=2, limit_train_batches=1, limit_eval_batches=1, batch_size=8) if SMOKE else {}
    for tag in ("baseline", "v2-16"):
        train(preset("digits", tag, device="cpu", progress=False, **smoke), runs_root=runs_folder)
runs = load_runs(runs_folder)
print(f"{len(runs)} runs in {runs_folder}")
assert len(runs) >= 2
'''),
    md("""
## One table

Parameters (also relative to the first run), MACs per image, best validation accuracy, test accuracy of
the best-validation checkpoint, and time per epoch:
"""),
    code('''
rows = compare_runs(runs)
print(format_table(rows))
assert all(r["params"] and 0 <= r["test_acc"] <= 1 for r in rows)
'''),
    md("""
## Learning curves

Validation accuracy (solid) and training accuracy (dashed) per epoch:
"""),
    code('''
fig = plot_learning_curves(runs)
assert len(fig.axes[0].lines) == 2 * len(runs)
fig
'''),
    md("""
## Accuracy versus parameters

Each run is a point; the paper's CIFAR-10 results are drawn as well. The paper's claim is visible in this
chart: at 32 channels per group, kEffNet-B0 V2 sits at the baseline's accuracy with a quarter of its
parameters.
"""),
    code('''
for label, params, acc in PAPER_CIFAR10:
    print(f"paper: {label:16s} {params:>10,} params  {acc:.2f}%")
fig = plot_accuracy_vs_parameters(runs, paper=True)
assert dict((label, p) for label, p, _ in PAPER_CIFAR10)["V2-32"] == 950_650
fig
'''),
    md("""
**What to remember.** Compare models by accuracy *and* cost: parameters, MACs and time per epoch. Fewer
parameters and MACs do not automatically mean faster training on every device (notebook 4).
"""),
]


def write(names: list[str] | None = None) -> None:
    for name, cells in NOTEBOOKS.items():
        if names and name not in names:
            continue
        nb = new_notebook(cells=cells)
        nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
        nb.metadata["language_info"] = {"name": "python"}
        for i, cell in enumerate(nb.cells):
            cell["id"] = str(i)  # what nbstripout writes
        nbformat.validate(nb)
        nbformat.write(nb, HERE / name)
        print("wrote", name)
    subprocess.run([sys.executable, "-m", "ruff", "check", "-q", "--fix", "--select", "I,F401",
                    str(HERE)], check=False)


if __name__ == "__main__":
    write(sys.argv[1:] or None)
