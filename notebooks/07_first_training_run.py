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
# # 7. A first training run (offline, on a CPU)
#
# **Learning goal.** You will train EfficientNet-B0 and kEffNet-B0 V2 (`Ch = 16`) with the library's
# training engine on a dataset that ships with scikit-learn (handwritten digits, 1,797 images of 8x8
# pixels), read the learning curves, and compare accuracy and parameters. Everything here runs offline.

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

import numpy as np
import torch

from igpw_viz.core.paper import PUBLISHED_PARAMETERS as PUBLISHED
from igpw_viz.data.digits import load_digits_splits
from igpw_viz.data.fixtures import smoke_enabled
from igpw_viz.nn.counting import count_parameters
from igpw_viz.training import preset, train
from igpw_viz.training.build import build_model
from igpw_viz.training.results import load_run, plot_learning_curves
from igpw_viz.viz.samples import draw_samples

SMOKE = smoke_enabled()
torch.manual_seed(0)
np.random.seed(0)
print(f"SMOKE = {SMOKE}, torch {torch.__version__}")

# %% [markdown]
# ## The data
#
# `load_digits_splits` turns scikit-learn's digits into the same format as the real datasets: uint8
# images, `N x 3 x H x W`, split into train, validation and test sets stratified by class. `draw_samples`
# shows the first training images of each class, one column per class.

# %%
digits = load_digits_splits(seed=0)
print(digits)
fig = draw_samples(digits.train.images, digits.train.labels, digits.classes, per_class=3)
assert digits.num_classes == 10 and len(digits.train) + len(digits.val) + len(digits.test) == 1797
assert [ax.get_title() for ax in fig.axes[:10]] == list(digits.classes)
fig

# %% [markdown]
# ## The configuration
#
# `preset(dataset, model)` returns a `TrainConfig` with the protocol for that dataset: for the paper's
# datasets the paper's settings (RMSprop, the cyclic learning rate, batch 64, epochs, augmentation), for
# the digits a short schedule meant to finish in about a minute per model on two CPU cores (8x8 images
# upsampled to 16x16). Every field can be overridden by keyword. In smoke mode we cut the run to a few
# batches.

# %%
smoke = dict(epochs=1, limit_train_batches=2, limit_eval_batches=1, batch_size=16) if SMOKE else {}
configs = {tag: preset("digits", tag, device="cpu", progress=False, **smoke) for tag in ("baseline", "v2-16")}
print(configs["v2-16"])
assert configs["v2-16"].channels_per_group == 16 and configs["baseline"].model == "efficientnet_b0"

# %% [markdown]
# ## Training
#
# `train(config)` builds the model and the data pipeline, trains with the per-epoch schedule, keeps the
# checkpoint with the best validation accuracy, and tests it once at the end. It writes everything into a
# run folder (`config.json`, `history.csv`, `best.pt`, `last.pt`, `metrics.json`); here a temporary one.

# %%
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

# %% [markdown]
# ## Learning curves
#
# The history has one row per epoch (`history.csv` in the run folder). `load_run` reads a run folder back and
# `plot_learning_curves` draws validation accuracy (solid) and training accuracy (dashed) per epoch. (In smoke
# mode there is a single epoch: the curves are points.)

# %%
runs = [load_run(r.run_dir) for r in results.values()]
fig = plot_learning_curves(runs)
assert all(len(r.history) == configs[tag].epochs for tag, r in results.items())
assert len(fig.axes[0].lines) == 2 * len(runs)
fig

# %% [markdown]
# **What to remember.**
#
# * The same `preset` / `train` calls run the paper's protocol on the real datasets (notebooks 8-10); only
#   the dataset name changes.
# * kEffNet-B0 V2-16 has 15% of the baseline's parameters. The paper's question is whether it keeps the
#   accuracy; on the digits you can answer it on your laptop.
#
# **Exercise.** Train `v2-4` and `v1-16` (change the tags) and compare parameters and accuracy.

# %% tags=["solution", "hide-cell"]
# Solution
# Parameters first (no training needed); then train them by changing the tags in the configuration cell.
counts = {tag: count_parameters(build_model(preset("digits", tag), 10)) for tag in ("v2-4", "v1-16", "v2-16")}
for tag, n in counts.items():
    print(f"{tag:6s} {n:>9,} parameters")
assert counts["v1-16"] == PUBLISHED[("v1", 16)] and counts["v2-16"] == PUBLISHED[("v2", 16)]
assert counts["v2-4"] < counts["v2-16"]  # four channels per group: fewer weights per filter
