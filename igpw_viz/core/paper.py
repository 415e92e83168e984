"""Every number the paper publishes, and the datasets and protocol it trains with, defined once (pure Python).

Source: Schwarz Schuler et al., Entropy 24(9):1264, 2022; the rules and figures are restated in
`docs/algorithm.md`. Code, tests, charts and notebooks read these tables; none repeats them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# --------------------------------------------------------------------------- parameters and MACs
# Whole-model trainable parameters at 10 classes, 32x32, skip_strides=3: (scheme, Ch) -> count.
# ("dense", None) is EfficientNet-B0, the baseline.
PUBLISHED_PARAMETERS: dict[tuple[str, int | None], int] = {
    ("dense", None): 4_020_358,
    ("v1", 16): 639_702,
    ("v2", 16): 623_226,
    ("v1", 32): 1_059_202,
    ("v2", 32): 950_650,
}
# EfficientNet-B0's trainable parameters per class count (the same in torchvision, timm and Keras).
BASELINE_PARAMETERS: dict[int, int] = {1000: 5_288_548, 10: 4_020_358, 8: 4_017_796, 2: 4_010_110}
# Sum of the pointwise conv weights over the network: (scheme, Ch) -> weights.
POINTWISE_WEIGHTS: dict[tuple[str, int | None], int] = {
    ("dense", None): 3_773_312, ("v2", 16): 372_224, ("v2", 32): 699_648,
}
# Analytic MACs of one image (convs, depthwise convs, classifier; 10 classes):
# (model tag, image size, skip_strides) -> MACs. The paper's TF-profiler FLOPs are these plus a
# resolution-dependent constant and are not reproducible with other tools.
ANALYTIC_MACS: dict[tuple[str, int, int], int] = {
    ("baseline", 224, 0): 384_547_552,
    ("v2-16", 32, 3): 79_124_080,
    ("v2-32", 32, 3): 119_528_816,
}
# The authors' Keras training time per epoch on one V100, seconds: (dataset, model tag) -> s.
KERAS_EPOCH_SECONDS: dict[tuple[str, str], int] = {
    ("cifar10", "v2-16"): 126, ("cifar10", "v2-32"): 168, ("cifar10", "baseline"): 344,  # baseline: 224 px, batch 32
}

# --------------------------------------------------------------------------- datasets
# Training images per epoch under the paper's split (CIFAR-10: 50,000 minus the first 10% for validation;
# colorectal and malaria: 499 and 11,023 per class after validation and test are taken, docs/algorithm.md).
PAPER_TRAIN_IMAGES: dict[str, int] = {"cifar10": 45_000, "colorectal_histology": 8 * 499, "malaria": 2 * 11_023}
DATASETS: tuple[str, ...] = ("digits", "cifar10", "colorectal_histology", "malaria")
DATASET_TITLES: dict[str, str] = {"digits": "digits", "cifar10": "CIFAR-10",
                                  "colorectal_histology": "colorectal histology", "malaria": "malaria"}
DATASET_ALIASES: dict[str, str] = {
    "cifar": "cifar10", "cifar-10": "cifar10", "colorectal": "colorectal_histology",
    "colorectal-histology": "colorectal_histology", "kather": "colorectal_histology",
    "kather2016": "colorectal_histology",
}


def canonical_dataset(name: str) -> str:
    """The dataset's canonical name (aliases and case accepted); ValueError naming the known ones."""
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a str, got {type(name).__name__}")
    key = name.strip().lower()
    key = DATASET_ALIASES.get(key, key)
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return key


# The training protocol per dataset (the paper's; "digits" is this project's embedded default, sized to
# finish in about a minute per model on 2 CPU cores: 8x8 upsampled to 16x16, skip_strides=1 for both
# models, one short cycle of the schedule, torchvision-style BN momentum 0.1 so the running statistics
# settle within a few hundred steps). `training.config.preset` turns these into a TrainConfig.
PROTOCOLS: dict[str, dict[str, Any]] = {
    "cifar10": dict(epochs=50, batch_size=64, lr_period=25, lr_floor=None, select_metric="val_acc",
                    image_size=32, skip_strides=3, augment="paper", split="paper"),
    "colorectal_histology": dict(epochs=1000, batch_size=64, lr_period=25, lr_floor=2.5245e-4,
                                 select_metric="val_loss", image_size=224, skip_strides=0, augment="paper",
                                 split="paper"),
    "malaria": dict(epochs=75, batch_size=64, lr_period=25, lr_floor=2.5245e-4, select_metric="val_loss",
                    image_size=224, skip_strides=0, augment="paper", split="paper"),
    "digits": dict(epochs=15, batch_size=64, lr_period=15, lr_rise_epochs=3, lr_floor=None,
                   select_metric="val_acc", image_size=16, skip_strides=1, augment="none",
                   split="stratified", bn_momentum=0.1),
}
# CIFAR-10's baseline is trained at 224x224 (upsampled) with all strides, as in the paper.
CIFAR10_BASELINE_PROTOCOL: dict[str, Any] = dict(image_size=224, skip_strides=0)


# --------------------------------------------------------------------------- accuracies
@dataclass(frozen=True)
class PaperResult:
    """One published test accuracy (best-validation checkpoint, one run each).

    ``tag`` is the model tag ("baseline", "v2-16", ...); ``params`` the trainable parameters at the
    dataset's class count; ``tta``: averaged with the horizontally flipped image."""

    dataset: str
    tag: str
    epochs: int
    accuracy: float  # %
    params: int | None
    tta: bool = False

    @property
    def label(self) -> str:
        return "EfficientNet-B0" if self.tag == "baseline" else self.tag.upper()


_B, _P = "baseline", PaperResult
PAPER_RESULTS: tuple[PaperResult, ...] = (
    # CIFAR-10 (10 classes), 50 epochs; kEffNet-B0 at 32x32 with the first strides skipped
    _P("cifar10", _B, 50, 93.33, PUBLISHED_PARAMETERS[("dense", None)]),
    _P("cifar10", "v1-16", 50, 92.46, PUBLISHED_PARAMETERS[("v1", 16)]),
    _P("cifar10", "v2-16", 50, 92.61, PUBLISHED_PARAMETERS[("v2", 16)]),
    _P("cifar10", "v1-32", 50, 93.61, PUBLISHED_PARAMETERS[("v1", 32)]),
    _P("cifar10", "v2-32", 50, 93.67, PUBLISHED_PARAMETERS[("v2", 32)]),
    # the V2 sweep over small Ch (parameters counted with this project's kEffNet-B0, 10 classes)
    _P("cifar10", "v2-2", 50, 84.36, 311_994), _P("cifar10", "v2-4", 50, 87.66, 354_818),
    _P("cifar10", "v2-8", 50, 90.53, 444_346),
    # CIFAR-10, 180 epochs
    _P("cifar10", _B, 180, 94.86, PUBLISHED_PARAMETERS[("dense", None)]),
    _P("cifar10", "v2-32", 180, 94.45, PUBLISHED_PARAMETERS[("v2", 32)]),
    _P("cifar10", "v2-32", 180, 94.95, PUBLISHED_PARAMETERS[("v2", 32)], tta=True),
    # colorectal histology (8 classes), 1000 epochs, 224x224
    _P("colorectal_histology", _B, 1000, 97.61, BASELINE_PARAMETERS[8]),
    _P("colorectal_histology", "v2-16", 1000, 97.62, 620_664),
    # malaria (2 classes), 75 epochs, 224x224
    _P("malaria", _B, 75, 97.39, BASELINE_PARAMETERS[2]), _P("malaria", "v2-16", 75, 97.61, 612_978),
    _P("malaria", "v2-32", 75, 97.57, 940_402),
)
del _B, _P


def paper_results(dataset: str | None = None, epochs: int | None = None, tta: bool | None = False
                  ) -> list[PaperResult]:
    """Published results, filtered by dataset, epochs and TTA (``tta=None``: with and without)."""
    return [p for p in PAPER_RESULTS if (dataset is None or p.dataset == dataset)
            and (epochs is None or p.epochs == epochs) and (tta is None or p.tta == tta)]


def paper_accuracies(dataset: str, epochs: int | None = None) -> dict[str, float]:
    """``{tag: accuracy %}`` of the paper's main protocol for ``dataset`` (its first listed epoch count, e.g.
    50 for CIFAR-10), without TTA; empty for a dataset the paper does not report."""
    found = paper_results(dataset, epochs)
    if epochs is None and found:
        found = [p for p in found if p.epochs == found[0].epochs]
    return {p.tag: p.accuracy for p in found}


# The five models of the paper's main CIFAR-10 table (50 epochs) as (label, parameters, accuracy %).
PAPER_CIFAR10: tuple[tuple[str, int, float], ...] = tuple(
    (p.label, p.params, p.accuracy) for p in paper_results("cifar10", 50)
    if p.tag in ("baseline", "v1-16", "v2-16", "v1-32", "v2-32") and p.params is not None)
