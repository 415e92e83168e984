"""Model and data for a ``TrainConfig``: the project's builders and the data package's pipeline."""

from __future__ import annotations

import torch

from ..data import AugmentConfig, DatasetSplits, DeviceBatches, load_dataset, paper_augment
from ..data.views import ImageView
from ..nn.models import EfficientNet, efficientnet_b0, keffnet_b0
from .config import TrainConfig

__all__ = ["build_model", "load_splits", "train_augment"]


def build_model(cfg: TrainConfig, num_classes: int) -> EfficientNet:
    """EfficientNet-B0 or kEffNet-B0 for ``cfg`` (the same ``skip_strides`` for both, see config)."""
    extra = {k: v for k, v in (("dropout", cfg.dropout), ("bn_momentum", cfg.bn_momentum)) if v is not None}
    if cfg.model == "efficientnet_b0":
        return efficientnet_b0(num_classes, cfg.skip_strides, **extra)
    return keffnet_b0(num_classes, cfg.channels_per_group, cfg.scheme, cfg.skip_strides, **extra)


def load_splits(cfg: TrainConfig, *, progress: bool = True) -> DatasetSplits:
    """The dataset's train/val/test splits as uint8 images, through ``load_dataset`` (digits from
    scikit-learn; CIFAR at its native size; colorectal/malaria at the training size)."""
    if cfg.dataset == "digits":  # embedded: one seeded split, upsampled on the device
        return load_dataset("digits", seed=cfg.seed)
    size = None if cfg.dataset == "cifar10" else cfg.image_size  # resized on the device
    return load_dataset(cfg.dataset, cfg.data_root, split=cfg.split, seed=cfg.seed, image_size=size,
                        offline=cfg.offline, progress=progress)


def train_augment(cfg: TrainConfig) -> AugmentConfig | None:
    if cfg.augment == "none":
        return None
    if cfg.augment == "light" or cfg.dataset == "digits":  # digits are not flip-invariant
        return AugmentConfig(rotation=10, width_shift=0.1, height_shift=0.1, zoom=0.1)
    return paper_augment(cfg.dataset)


def make_batches(images: ImageView | torch.Tensor, labels: torch.Tensor, cfg: TrainConfig, batch_size: int,
                 device: torch.device, *, train: bool, rank: int = 0, world_size: int = 1,
                 dtype: torch.dtype = torch.float32, channels_last: bool = False) -> DeviceBatches:
    """Training batches merge a last batch of one image into the one before (BatchNorm needs two);
    evaluation batches keep every image in order, the last batch as it falls."""
    return DeviceBatches(images, labels, batch_size, augment=train_augment(cfg) if train else None,
                         device=device, seed=cfg.seed, shuffle=train, drop_last=False,
                         output_size=cfg.image_size, channels_last=channels_last, dtype=dtype,
                         rank=rank, world_size=world_size, merge_single_last=train)
