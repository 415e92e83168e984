"""The embedded dataset: scikit-learn's handwritten digits (1,797 8x8 grayscale images, 10 classes),
shipped inside the installed scikit-learn package, so the default training job works offline.

The images become the data package's format (``DatasetSplits`` of uint8 N x 3 x 8 x 8 ``ImageView``s: the
0..16 intensities scaled to 0..255 and copied to three channels); the device pipeline upsamples them to
the training size (``DeviceBatches(output_size=...)``). The split is seeded and stratified per class.
"""

from __future__ import annotations

import numpy as np
import torch

from .views import DatasetSplits, ImageView, Split

__all__ = ["load_digits_splits"]


def load_digits_splits(seed: int = 0, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)) -> DatasetSplits:
    """Train/val/test splits of the digits, stratified by class, reproducible from ``seed``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if len(fractions) != 3 or min(fractions) <= 0 or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"digits fractions must be three positive numbers summing to 1, got {fractions}")
    bunch = load_digits()
    x = np.clip(np.rint(bunch.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)  # (1797, 8, 8)
    x = np.ascontiguousarray(np.repeat(x[:, None], 3, axis=1))  # (1797, 3, 8, 8)
    y = bunch.target.astype(np.int64)  # (1797,)
    idx = np.arange(len(y))
    train, rest = train_test_split(idx, train_size=fractions[0], stratify=y, random_state=seed)
    val_share = fractions[1] / (fractions[1] + fractions[2])
    val, test = train_test_split(rest, train_size=val_share, stratify=y[rest], random_state=seed)
    base = ImageView(x)

    def part(rows: np.ndarray) -> Split:
        rows = np.sort(rows)
        return Split(base.take(rows), torch.from_numpy(y[rows]))

    return DatasetSplits("digits", tuple(str(i) for i in range(10)), part(train), part(val), part(test),
                         info={"source": "sklearn.datasets.load_digits", "seed": seed,
                               "fractions": list(fractions)})
