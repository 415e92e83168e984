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
# # 5. Explore Ch interactively
#
# **Learning goal.** Build an intuition for the hyper-parameter `Ch` (channels per group): how it changes
# the wiring of one layer, and how it trades parameters for mixing over the whole kEffNet-B0.
#
# Each interactive widget below comes after a *fixed-value* call of the same function. The fixed call is
# what the book and the tests show; the widget is for you to play with in JupyterLab (sliders update when
# you release them). In the web book the widget cells are shown but not run (their tag `skip-execution`):
# open the notebook in JupyterLab to use them.

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

from igpw_viz import plan_pointwise
from igpw_viz.core.paper import PUBLISHED_PARAMETERS as PUBLISHED
from igpw_viz.data.fixtures import smoke_enabled
from igpw_viz.viz.connectivity import layer_report
from igpw_viz.viz.network import network_report
from igpw_viz.viz.tradeoff import draw_tradeoff, tradeoff_points
from igpw_viz.viz.widgets import explore_layer, explore_network

SMOKE = smoke_enabled()
torch.manual_seed(0)
np.random.seed(0)
print(f"SMOKE = {SMOKE}, torch {torch.__version__}")

# %% [markdown]
# ## One layer
#
# `layer_report(Ic, Fc, Ch, scheme)` returns the wiring drawing and the plan's description with its counts.
# Here for the projection `240 -> 40` at `Ch = 16`:

# %%
fig, text = layer_report(240, 40, 16, "v2")
print(text)
assert "1,280 instead of 9,600" in text
fig

# %% [markdown]
# ## Savings have a price: mixing
#
# "86.7% saved" is only half of the story. A dense 1x1 conv lets every output read every input; a grouped
# one does not. The plan counts, for each output, how many inputs it depends on (through K, the interleave,
# L and the sum): `plan.mixing()`. The smaller `Ch`, the more is saved, and the less each output sees.
# The trade-off over `Ch` for this layer (the dot marks `Ch = 16`):

# %%
for ch in (1, 4, 8, 16, 32):
    plan = plan_pointwise(240, 40, ch)
    print(f"Ch = {ch:2d}: {1 - plan.weights / plan.dense_weights:6.1%} of weights saved; {plan.mixing()}")
assert str(plan_pointwise(240, 40, 16).mixing()).startswith("each output reads 192-240 of 240 inputs")
draw_tradeoff(240, 40, "v2", current=16).figure

# %% [markdown]
# Two settings are degenerate. **`Ch = 1`** makes every group one channel wide: at `240 -> 40` K still
# needs 6 channels per group (it cannot have more groups than filters), but L only scales single channels
# and the interleave moves nothing, so each output reads just the 6 inputs of its K group: 97.1% saved,
# 2.5% of the inputs seen. **`Ch` of half of `Ic` or more** (here from `Ch = 120`) leaves nothing worth
# grouping: V2 keeps the layer dense, saving nothing and mixing everything. `describe()` says so in words.

# %%
print(plan_pointwise(240, 40, 1).describe())
assert plan_pointwise(240, 40, 1).mixing().max_inputs == 6 and plan_pointwise(240, 40, 120).is_dense

# %% [markdown]
# Now move the sliders (`Ic` input channels, `Fc` output channels, `Ch` channels per group, the scheme).
# The widget shows the wiring, the plan in words with its savings *and* its mixing, and the trade-off
# curve with your `Ch` marked. Things to try:
#
# * `Ch = 1, 2, 4, 8, 16`: watch the savings rise a little and the mixing fall a lot.
# * `Ic = 24, Fc = 144` with V1 and with V2: V1 stays dense, V2 replicates 8 channels.
# * `Ch` of at least half of `Ic`: the layer stays dense in V2.

# %% tags=["skip-execution"]
explore_layer(240, 40, 16, "v2")  # not run when the book is built: a static page has no kernel

# %% [markdown]
# ## The whole network
#
# `network_report(Ch, scheme)` draws, for kEffNet-B0, the parameters of each of the 64 pointwise layers
# (dense, V1, V2) and the total parameters of the model versus `Ch`, with the paper's published counts
# as stars.

# %%
fig, totals = network_report(16, "v2")
print(f"V2, Ch=16: {totals['parameters']:,} parameters, {totals['savings']:.1%} fewer than the baseline")
assert totals["parameters"] == PUBLISHED[("v2", 16)] == 623_226
assert totals["baseline_parameters"] == PUBLISHED[("dense", None)]
fig

# %% tags=["skip-execution"]
explore_network(16, "v2")  # not run when the book is built: a static page has no kernel

# %% [markdown]
# **Questions to answer with the widgets.**
#
# 1. At which `Ch` does V2 save about 3/4 of the parameters? (The paper's headline: V2 at `Ch = 32` saves
#    76%.)
# 2. Where is V1 above V2 on the totals curve, and why? (Hint: layers V1 leaves dense.)
# 3. Which layers are still dense at `Ch = 16` in V2? (Look for bars of equal height.)
#
# ## Exercise
#
# For the projection `240 -> 40` (V2), what is the largest saving you can get while every output still
# reads at least half of the 240 inputs? Which `Ch` gives it? Use `plan_pointwise(...).mixing()` or
# `tradeoff_points(240, 40)`.

# %% tags=["solution", "hide-cell"]
# Solution
candidates = [pt for pt in tradeoff_points(240, 40, "v2", channels=range(1, 241)) if pt.min_reads >= 0.5]
best = max(candidates, key=lambda pt: pt.saved)
print(f"Ch = {best.channels_per_group}: {best.saved:.1%} saved, each output reads at least {best.min_reads:.0%}")
# the same answer straight from the plans, without the trade-off helper:
plans = [plan_pointwise(240, 40, ch) for ch in range(1, 241)]
by_plan = max(1 - p.weights / p.dense_weights for p in plans if p.mixing().min_inputs >= 120)
assert best.saved == by_plan and plan_pointwise(240, 40, best.channels_per_group).mixing().min_inputs >= 120
