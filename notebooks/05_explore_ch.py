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
import numpy as np
import torch

from igpw_viz.core.paper import PUBLISHED_PARAMETERS as PUBLISHED
from igpw_viz.data.fixtures import smoke_enabled
from igpw_viz.viz.connectivity import layer_report
from igpw_viz.viz.network import network_report
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
# Now move the sliders. Things to try:
#
# * `Ch = 1, 2, 4`: more groups, fewer weights; L gets more groups too.
# * `Ic = 24, Fc = 144` with V1 and with V2: V1 stays dense, V2 replicates 8 channels.
# * `Ch` larger than `Ic / 2`: the layer stays dense in V2.

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
