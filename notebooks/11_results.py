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
# # 11. Results across runs and datasets
#
# **Learning goal.** You will read run folders back (`igpw_viz.training.results`), put the runs side by side in one
# table, and draw learning curves and accuracy against parameters next to the paper's published points.
#
# After [chapter 7](07_first_training_run.ipynb) or chapters [8](08_cifar10.ipynb)-[10](10_malaria.ipynb)
# in full mode, the run folders are under `runs/` next to the notebooks. In smoke mode this notebook first
# makes two tiny digits runs (a few seconds, meaningless numbers) so that every cell has something to show.
# In full mode with an empty `runs/` it stops and asks: set `TRAIN_DIGITS = True` below to train the two
# real digits runs here (15 epochs each, about 4 minutes on 2 CPU cores), or run the other chapters first.

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

import tempfile
from pathlib import Path

import numpy as np
import torch

from igpw_viz.core.paper import PAPER_CIFAR10
from igpw_viz.data.fixtures import smoke_enabled
from igpw_viz.training import preset, train
from igpw_viz.training.results import (
    compare_runs,
    format_table,
    load_runs,
    plot_accuracy_vs_parameters,
    plot_learning_curves,
)

SMOKE = smoke_enabled()
torch.manual_seed(0)
np.random.seed(0)
print(f"SMOKE = {SMOKE}, torch {torch.__version__}")

# %%
TRAIN_DIGITS = False  # full mode with no runs yet: set True to train baseline and v2-16 on the digits here
runs_folder = Path("runs")
if SMOKE or not any(runs_folder.glob("*/config.json")):
    if not (SMOKE or TRAIN_DIGITS):
        raise RuntimeError("no run folders under runs/: run chapters 7-10 first, or set TRAIN_DIGITS = True "
                           "in this cell to train two digits runs here (about 4 minutes on 2 CPU cores)")
    runs_folder = Path(tempfile.mkdtemp(prefix="igpw_runs_"))
    smoke = dict(epochs=2, limit_train_batches=1, limit_eval_batches=1, batch_size=8) if SMOKE else {}
    for tag in ("baseline", "v2-16"):
        train(preset("digits", tag, device="cpu", progress=False, **smoke), runs_root=runs_folder)
runs = load_runs(runs_folder)
print(f"{len(runs)} runs in {runs_folder}")
assert len(runs) >= 2

# %% [markdown]
# ## One table
#
# Parameters (also relative to the first run), MACs per image, best validation accuracy, test accuracy of
# the best-validation checkpoint, and time per epoch:

# %%
rows = compare_runs(runs)
print(format_table(rows))
assert all(r["params"] and 0 <= r["test_acc"] <= 1 for r in rows)

# %% [markdown]
# ## Learning curves
#
# Validation accuracy (solid) and training accuracy (dashed) per epoch:

# %%
fig = plot_learning_curves(runs)
assert len(fig.axes[0].lines) == 2 * len(runs)
fig

# %% [markdown]
# ## Accuracy versus parameters
#
# Each run is a point; the paper's CIFAR-10 results are drawn as well. The paper's claim is visible in this
# chart: at 32 channels per group, kEffNet-B0 V2 sits at the baseline's accuracy with a quarter of its
# parameters.

# %%
for label, params, acc in PAPER_CIFAR10:
    print(f"paper: {label:16s} {params:>10,} params  {acc:.2f}%")
fig = plot_accuracy_vs_parameters(runs, paper=True)
assert dict((label, p) for label, p, _ in PAPER_CIFAR10)["V2-32"] == 950_650
fig

# %% [markdown]
# **What to remember.** Compare models by accuracy *and* cost: parameters, MACs and time per epoch. Fewer
# parameters and MACs do not automatically mean faster training on every device (notebook 4).

# %% [markdown]
# ## Exercise
#
# From the paper's CIFAR-10 numbers (`PAPER_CIFAR10`: label, parameters, test accuracy), which model gives
# the most accuracy per million parameters, and how many points does V2-16 give up against the baseline
# for its 84.5% fewer parameters?

# %% tags=["solution", "hide-cell"]
# Solution
per_million = {label: acc / (params / 1e6) for label, params, acc in PAPER_CIFAR10}
best = max(per_million, key=per_million.get)
acc = {label: a for label, _, a in PAPER_CIFAR10}
print({k: round(v, 1) for k, v in per_million.items()})
print(f"most accuracy per parameter: {best}; V2-16 gives up {acc['EfficientNet-B0'] - acc['V2-16']:.2f} points")
assert best == "V2-16" and round(acc["EfficientNet-B0"] - acc["V2-16"], 2) == 0.72
