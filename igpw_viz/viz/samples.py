"""A grid of dataset images, one column per class."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from . import style


def draw_samples(images, labels, classes: Sequence[str], per_class: int = 4, fig: Figure | None = None,
                 cell: float = 1.3) -> Figure:
    """A grid of sample images: one column per class (titled with the class name), the first
    ``per_class`` images of that class from top to bottom.

    ``images``: uint8 ``N x 3 x H x W`` (torch tensor, numpy array, or a dataset split's image view; only
    the drawn images are read); ``labels``: ``N`` class indices;
    ``classes``: the class names (one column each, also for a class without images). Each column's top axis
    carries the title; empty cells are hidden. Returns the Figure (a new one unless ``fig`` is given)."""
    shape = tuple(images.shape)
    labs = np.asarray(labels.cpu() if hasattr(labels, "cpu") else labels).reshape(-1)
    if len(shape) != 4 or shape[1] not in (1, 3):
        raise ValueError(f"images must be N x 3 x H x W (or N x 1 x H x W), got shape {shape}")
    if shape[0] != len(labs):
        raise ValueError(f"{shape[0]} images but {len(labs)} labels")
    if per_class < 1 or not len(classes):
        raise ValueError(f"need per_class >= 1 and at least one class, got {per_class} and {len(classes)}")
    n = len(classes)
    cell = min(cell, style.WIDTH_IN / n)  # at most 10 inches wide: 10 pt titles stay legible
    if fig is None:
        fig = Figure(figsize=(cell * n, cell * per_class + 0.4), layout="constrained")
    fs = style.fontsize(fig)
    axes = fig.subplots(per_class, n, squeeze=False)
    for c, name in enumerate(classes):
        rows = np.flatnonzero(labs == c)[:per_class]
        axes[0, c].set_title(str(name), fontsize=fs, pad=3 + 1.3 * fs * (c % 2 and n > 6))  # staggered
        for r in range(per_class):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            if r < len(rows):
                one = images[int(rows[r])]
                img = np.asarray(one.cpu() if hasattr(one, "cpu") else one).transpose(1, 2, 0)  # H x W x 3
                ax.imshow(img[..., 0] if img.shape[2] == 1 else img, cmap="gray", vmin=0, vmax=255,
                          interpolation="nearest")
            else:
                ax.set_frame_on(False)
    return fig
