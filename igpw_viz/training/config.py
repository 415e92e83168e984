"""Training configuration: one frozen dataclass, with the paper's protocol as the default per dataset.

``preset(dataset, model, **overrides)`` fills in what the paper used (batch 64, RMSprop with Keras'
defaults, the cyclic schedule's period and floor, epochs, image size, skip_strides, selection metric,
augmentation); every field can be overridden. Invalid values raise ``ValueError`` at construction.

RMSprop: Keras' rho 0.9 is PyTorch's ``alpha=0.9``; momentum 0; epsilon 1e-7. TF/Keras (the paper's
TF 2.6-2.8) divides by ``sqrt(v + eps)``; ``torch.optim.RMSprop`` divides by ``sqrt(v) + eps``. We keep
PyTorch's optimizer with eps 1e-7: the two agree once ``v`` is well above 1e-7 (i.e. after the first
steps for any parameter with non-negligible gradients); Keras' placement acts like a larger eps (about
3e-4) for parameters whose gradients stay near zero.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from ..core.architecture import min_image_size
from ..core.paper import CIFAR10_BASELINE_PROTOCOL, DATASETS, PROTOCOLS, canonical_dataset
from ..core.plan import SCHEMES
from .schedule import CyclicSchedule

__all__ = ["TrainConfig", "preset", "DATASETS", "MODELS", "parse_model_tag", "model_tag", "IDENTITY_EXEMPT"]

MODELS = ("efficientnet_b0", "keffnet_b0")
SELECT = ("val_acc", "val_loss")
AUGMENTS = ("paper", "none", "light")
SPLITS = ("paper", "stratified", "patient")
# Fields that may change between a run and its resumption (they do not change what is computed).
IDENTITY_EXEMPT = frozenset({"epochs", "progress", "log_every", "device", "threads", "compile", "data_root",
                             "offline", "num_classes_hint"})


@dataclass(frozen=True)
class TrainConfig:
    """Everything one training run depends on (JSON-serialisable; saved in config.json and checkpoints)."""

    dataset: str = "digits"
    model: str = "keffnet_b0"
    scheme: str = "v2"
    channels_per_group: int = 16
    image_size: int = 32
    skip_strides: int = 1
    epochs: int = 10
    batch_size: int = 64
    # optimizer: RMSprop (Keras defaults) and the cyclic schedule (see schedule.py)
    lr: float = 1e-3
    lr_rise: float = 0.5
    lr_rise_epochs: int = 7
    lr_decay: float = 0.85
    lr_period: int = 25
    lr_floor: float | None = None
    rmsprop_alpha: float = 0.9
    rmsprop_eps: float = 1e-7
    momentum: float = 0.0
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    # model regularisation / BN (None: the model's defaults, i.e. Keras' BN momentum 0.01)
    dropout: float | None = None
    bn_momentum: float | None = None
    # model selection and evaluation
    select_metric: str = "val_acc"
    tta_flip: bool = False
    # data
    augment: str = "paper"
    split: str = "paper"
    data_root: str | None = None
    offline: bool | None = None
    seed: int = 0
    # execution (None: automatic: bf16 and compile on for CUDA, off on CPU; channels_last on)
    device: str = "auto"
    bf16: bool | None = None
    compile: bool | None = None
    channels_last: bool | None = None
    cudnn_benchmark: bool = True
    deterministic: bool = False
    threads: int | None = None
    limit_train_batches: int | None = None
    limit_eval_batches: int | None = None
    log_every: int = 20
    progress: bool = True
    num_classes_hint: int | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dataset", canonical_dataset(self.dataset))
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        if self.scheme not in SCHEMES:
            raise ValueError(f"unknown scheme {self.scheme!r}; choose one of {', '.join(SCHEMES)}")
        for name in ("channels_per_group", "epochs", "batch_size", "lr_period", "log_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 (BatchNorm in training needs two images), got "
                             f"{self.batch_size}")
        if not isinstance(self.image_size, int) or self.image_size < 8:
            raise ValueError(f"image_size must be an integer >= 8, got {self.image_size!r}")
        min_size = min_image_size(self.skip_strides)  # ValueError for a bad skip_strides
        if self.image_size < min_size:
            raise ValueError(f"image_size {self.image_size} is too small for skip_strides={self.skip_strides} "
                             f"(needs >= {min_size})")
        self.schedule  # noqa: B018 -- CyclicSchedule validates the lr fields (one place for those rules)
        if not 0 <= self.rmsprop_alpha < 1 or not 0 < self.rmsprop_eps < 1 or not 0 <= self.momentum < 1 \
                or not 0 <= self.weight_decay < 1:
            raise ValueError("rmsprop_alpha, momentum and weight_decay must be in [0, 1), rmsprop_eps in (0, 1)")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        for name in ("dropout", "bn_momentum"):
            v = getattr(self, name)
            if v is not None and not 0 <= v < 1:
                raise ValueError(f"{name} must be in [0, 1), got {v}")
        if self.select_metric not in SELECT:
            raise ValueError(f"select_metric must be one of {SELECT}, got {self.select_metric!r}")
        if self.augment not in AUGMENTS:
            raise ValueError(f"augment must be one of {AUGMENTS}, got {self.augment!r}")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {self.split!r}")
        if not (self.device in ("auto", "cpu", "cuda") or re.fullmatch(r"cuda:\d+", self.device)):
            raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        for name in ("limit_train_batches", "limit_eval_batches", "threads"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {v!r}")

    # ------------------------------------------------------------------ helpers
    @property
    def schedule(self) -> CyclicSchedule:
        """The learning-rate schedule these fields describe (see schedule.py)."""
        return CyclicSchedule(self.lr, self.lr_rise, self.lr_rise_epochs, self.lr_decay, self.lr_period,
                              self.lr_floor)

    @property
    def tag(self) -> str:
        return model_tag(self.model, self.scheme, self.channels_per_group)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def identity(self) -> dict[str, Any]:
        """The fields that define what is computed (a checkpoint must match them to be resumed)."""
        return {k: v for k, v in self.as_dict().items() if k not in IDENTITY_EXEMPT}

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown config fields: {', '.join(unknown)}")
        return cls(**d)


def model_tag(model: str, scheme: str = "v2", channels_per_group: int = 16) -> str:
    """Short name: ``baseline`` for EfficientNet-B0, else ``v2-16`` / ``v1-32`` / ``dense``."""
    if model == "efficientnet_b0":
        return "baseline"
    return "dense" if scheme == "dense" else f"{scheme}-{channels_per_group}"


def parse_model_tag(tag: str) -> dict[str, Any]:
    """``baseline``/``efficientnet``/``b0`` -> EfficientNet-B0; ``v2-16``, ``v1-32``, ``keffnet-v2-8``,
    ``dense`` -> kEffNet-B0 with that scheme and Ch."""
    t = tag.strip().lower().replace("_", "-")
    if t in ("baseline", "efficientnet", "efficientnet-b0", "b0"):
        return {"model": "efficientnet_b0"}
    t = t.removeprefix("keffnet-b0-").removeprefix("keffnet-")
    if t in ("dense", "keffnet-dense"):
        return {"model": "keffnet_b0", "scheme": "dense"}
    m = re.fullmatch(r"(v[12])-?(\d+)", t)
    if not m or int(m.group(2)) < 1:
        raise ValueError(f"unknown model {tag!r}: use baseline, v2-16, v1-32, ... or dense")
    return {"model": "keffnet_b0", "scheme": m.group(1), "channels_per_group": int(m.group(2))}


def preset(dataset: str = "digits", model: str = "keffnet_b0", **overrides: Any) -> TrainConfig:
    """The paper's settings for ``dataset`` and ``model`` (a name or a tag such as ``v2-32``), then
    ``overrides``. CIFAR-10's baseline runs at 224x224 (upsampled) with all strides, as in the paper."""
    ds = canonical_dataset(dataset)
    fields: dict[str, Any] = {"dataset": ds, **PROTOCOLS[ds]}
    fields.update(parse_model_tag(model) if model not in MODELS else {"model": model})
    if ds == "cifar10" and fields["model"] == "efficientnet_b0":
        fields.update(CIFAR10_BASELINE_PROTOCOL)
    fields.update({k: v for k, v in overrides.items() if v is not None})
    return TrainConfig(**fields)
