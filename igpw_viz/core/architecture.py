"""EfficientNet-B0 as a readable table, and the list of its pointwise (1x1) convolutions.

Pure Python (no torch): the models, the benchmarks, the charts and the counts all read the network's
shape from here, and the padding/BatchNorm conventions the models are built with (`docs/algorithm.md`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StageConfig:
    """One MBConv stage of EfficientNet-B0 (torchvision's `MBConvConfig`, without width scaling)."""

    expand_ratio: int
    kernel: int
    stride: int
    in_channels: int
    out_channels: int
    repeats: int


# expand, kernel, stride, in, out, repeats                                    blocks
B0_STAGES: tuple[StageConfig, ...] = (
    StageConfig(1, 3, 1, 32, 16, 1),    # 1a
    StageConfig(6, 3, 2, 16, 24, 2),    # 2a-2b
    StageConfig(6, 5, 2, 24, 40, 2),    # 3a-3b
    StageConfig(6, 3, 2, 40, 80, 3),    # 4a-4c
    StageConfig(6, 5, 1, 80, 112, 3),   # 5a-5c
    StageConfig(6, 5, 2, 112, 192, 4),  # 6a-6d
    StageConfig(6, 3, 1, 192, 320, 1),  # 7a
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
SE_RATIO = 0.25  # of the block's *input* channels
DROPOUT = 0.2
DROP_CONNECT = 0.2

ROLES = ("expand", "se_reduce", "se_expand", "project", "head")
MAX_SKIP_STRIDES = 1 + sum(s.stride == 2 for s in B0_STAGES)  # the stem and the strided stages


def min_image_size(skip_strides: int = 0) -> int:
    """The smallest input side for a network whose first ``skip_strides`` strided convs keep the size
    (smaller images would leave a stride nothing to downsample): the remaining total stride."""
    if isinstance(skip_strides, bool) or not isinstance(skip_strides, int) or not (
            0 <= skip_strides <= MAX_SKIP_STRIDES):
        raise ValueError(f"skip_strides must be an int in 0..{MAX_SKIP_STRIDES}, got {skip_strides!r}")
    return 2 ** (MAX_SKIP_STRIDES - skip_strides)


@dataclass(frozen=True)
class Conventions:
    """How the B0 skeleton pads and normalises. ``keras_padding``: Keras `correct_pad` before strided convs
    (and the stem) then a 'valid' conv, as the paper's code; else torchvision's symmetric k//2 padding.
    ``bn_momentum`` is PyTorch's (1 - Keras momentum)."""

    name: str
    keras_padding: bool
    bn_eps: float
    bn_momentum: float


KERAS = Conventions("keras", True, 1e-3, 0.01)  # the paper's (default for both models)
TORCHVISION = Conventions("torchvision", False, 1e-5, 0.1)  # to load torchvision/timm weights
CONVENTIONS: dict[str, Conventions] = {c.name: c for c in (KERAS, TORCHVISION)}


def conventions(name_or_value: str | Conventions) -> Conventions:
    """Look conventions up by name ("keras" or "torchvision"), or pass a `Conventions` through."""
    if isinstance(name_or_value, Conventions):
        return name_or_value
    if isinstance(name_or_value, str) and name_or_value.lower() in CONVENTIONS:
        return CONVENTIONS[name_or_value.lower()]
    raise ValueError(f"conventions must be one of {sorted(CONVENTIONS)} or a Conventions, got {name_or_value!r}")


@dataclass(frozen=True)
class BlockConfig:
    """One MBConv block, unrolled from its stage."""

    name: str  # "2a", "2b", ...
    index: int  # 0-based position among the 16 blocks (for stochastic depth)
    expand_ratio: int
    kernel: int
    stride: int
    in_channels: int
    out_channels: int

    @property
    def expanded_channels(self) -> int:
        return self.in_channels * self.expand_ratio

    @property
    def se_channels(self) -> int:
        return max(1, int(self.in_channels * SE_RATIO))

    @property
    def has_shortcut(self) -> bool:
        return self.stride == 1 and self.in_channels == self.out_channels


def b0_blocks(stages: tuple[StageConfig, ...] = B0_STAGES) -> tuple[BlockConfig, ...]:
    """The 16 MBConv blocks of B0 in network order, named like Keras ("1a", "2a", "2b", ...)."""
    blocks = []
    for s, stage in enumerate(stages):
        for r in range(stage.repeats):
            blocks.append(BlockConfig(
                name=f"{s + 1}{chr(ord('a') + r)}", index=len(blocks), expand_ratio=stage.expand_ratio,
                kernel=stage.kernel, stride=stage.stride if r == 0 else 1,
                in_channels=stage.in_channels if r == 0 else stage.out_channels,
                out_channels=stage.out_channels))
    return tuple(blocks)


@dataclass(frozen=True)
class PointwiseShape:
    """One 1x1 conv of B0: where it sits, its role, and its channel counts."""

    block: str  # block name, or "head"
    role: str  # one of ROLES
    in_channels: int
    out_channels: int

    @property
    def batch_norm(self) -> bool:
        return self.role in ("expand", "project", "head")

    @property
    def bias(self) -> bool:
        return self.role in ("se_reduce", "se_expand")

    @property
    def activation(self) -> str | None:
        """The activation after the conv in kEffNet-B0 ("silu", "sigmoid" or None)."""
        return {"expand": "silu", "se_reduce": "silu", "se_expand": "sigmoid"}.get(self.role)


def b0_pointwise_shapes(blocks: tuple[BlockConfig, ...] | None = None) -> tuple[PointwiseShape, ...]:
    """Every pointwise conv of B0 in network order (expand, SE reduce, SE expand, project; then head)."""
    shapes = []
    for b in blocks or b0_blocks():
        e = b.expanded_channels
        if b.expand_ratio != 1:
            shapes.append(PointwiseShape(b.name, "expand", b.in_channels, e))
        shapes.append(PointwiseShape(b.name, "se_reduce", e, b.se_channels))
        shapes.append(PointwiseShape(b.name, "se_expand", b.se_channels, e))
        shapes.append(PointwiseShape(b.name, "project", e, b.out_channels))
    shapes.append(PointwiseShape("head", "head", B0_STAGES[-1].out_channels, HEAD_CHANNELS))
    return tuple(shapes)


def non_pointwise_parameters(classes: int = 10, in_channels: int = 3) -> int:
    """Trainable parameters outside the 1x1 convs: the stem 3x3 conv (no bias) + BN, every depthwise conv
    + BN, and the linear classifier."""
    params = in_channels * STEM_CHANNELS * 9 + 2 * STEM_CHANNELS
    for b in b0_blocks():
        e = b.expanded_channels
        params += e * b.kernel**2 + 2 * e
    return params + HEAD_CHANNELS * classes + classes
