"""EfficientNet-B0 and kEffNet-B0 (every 1x1 conv an interleaved grouped pointwise block), from the table.

Both networks are built by one skeleton from `core.architecture.B0_STAGES`, with the same conventions
(`core.architecture.Conventions`: the paper's Keras padding and BatchNorm by default, or torchvision's);
they differ only in how a pointwise conv is made (a conv + BN vs `InterleavedGroupedPointwise`), in the
head's swish and in the initialisation of the grouped blocks. Module names and order follow torchvision's
`efficientnet_b0` (`features`, `avgpool`, `classifier`; `features[i][j].block`), so a student can compare
the two prints line by line.

Choices (documented because they are not forced by the parameter counts):
- ``conventions="keras"`` (default): Keras `correct_pad` padding and BatchNorm eps 1e-3, PyTorch momentum
  0.01, as the paper trained them; ``conventions="torchvision"``: symmetric k//2 padding, eps 1e-5,
  momentum 0.1 (to load torchvision's or timm's weights). ``bn_eps``/``bn_momentum`` override BN alone.
- Initialisation is the reference's for both: convs variance-scaling(2.0, fan_out, truncated normal)
  (Keras's depthwise fan_out = k*k), classifier uniform(+-sqrt(1/classes)) with zero bias; kEffNet's
  pointwise blocks keep the layer's own glorot-uniform init (the reference's kConv2D).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..core.architecture import (
    B0_STAGES,
    DROP_CONNECT,
    DROPOUT,
    HEAD_CHANNELS,
    KERAS,
    STEM_CHANNELS,
    BlockConfig,
    Conventions,
    PointwiseShape,
    b0_blocks,
    min_image_size,
)
from ..core.architecture import conventions as lookup_conventions
from ..core.plan import SCHEMES
from .layer import InterleavedGroupedPointwise

PointwiseFactory = Callable[[PointwiseShape], nn.Module]


# --------------------------------------------------------------------------- small building blocks
def keras_pad(size: int, kernel: int) -> tuple[int, int]:
    """Keras `correct_pad` (TF 'same' for stride 2): (k//2 - 1, k//2) on even sizes, (k//2, k//2) on odd."""
    return kernel // 2 - (1 - size % 2), kernel // 2


class KerasPadConv2d(nn.Conv2d):
    """A 'valid' conv after the reference's asymmetric ZeroPadding2D(correct_pad); Conv2d's parameters."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (top, bottom), (left, right) = (keras_pad(x.shape[-2], self.kernel_size[0]),
                                        keras_pad(x.shape[-1], self.kernel_size[1]))
        return super().forward(F.pad(x, (left, right, top, bottom)))  # N, C, H', W'


class DepthwiseConv2d(KerasPadConv2d):
    """Depthwise conv (torch or Keras padding). On CPU it runs in channels_last and returns the input's
    layout: oneDNN's NCHW depthwise fwd+bwd was 1.3-38x slower (benchmarks/depthwise_layout.py)."""

    def __init__(self, channels: int, kernel: int, stride: int, keras_padding: bool):
        super().__init__(channels, channels, kernel, stride, 0 if keras_padding else kernel // 2,
                         groups=channels, bias=False)
        self.keras_padding = keras_padding

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        to_nhwc = x.device.type == "cpu" and not x.is_contiguous(memory_format=torch.channels_last)
        if to_nhwc:
            x = x.contiguous(memory_format=torch.channels_last)  # N, C, H, W (NHWC strides)
        y = super().forward(x) if self.keras_padding else nn.Conv2d.forward(self, x)  # N, C, H', W'
        return y.contiguous() if to_nhwc else y


class ConvBNAct(nn.Sequential):
    """Conv -> BN -> activation, torchvision's `Conv2dNormActivation` layout ([0] conv, [1] bn, [2] act)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1,
                 activation: bool = True, keras_pad: bool = False, *, bn_eps: float, bn_momentum: float):
        if groups == in_channels == out_channels > 1:
            conv = DepthwiseConv2d(out_channels, kernel, stride, keras_pad)
        elif keras_pad:
            conv = KerasPadConv2d(in_channels, out_channels, kernel, stride, 0, groups=groups, bias=False)
        else:
            conv = nn.Conv2d(in_channels, out_channels, kernel, stride, kernel // 2, groups=groups,
                             bias=False)
        layers = [conv, nn.BatchNorm2d(out_channels, eps=bn_eps, momentum=bn_momentum)]
        super().__init__(*layers, *([nn.SiLU()] if activation else []))


class SqueezeExcitation(nn.Module):
    """x * scale_activation(fc2(activation(fc1(avgpool(x))))): torchvision's names; fc1/fc2 may carry
    their own activation (kEffNet's blocks), then activation/scale_activation are Identity."""

    def __init__(self, fc1: nn.Module, fc2: nn.Module, activation: nn.Module, scale_activation: nn.Module):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1, self.fc2 = fc1, fc2
        self.activation, self.scale_activation = activation, scale_activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.avgpool(x)  # N, E, 1, 1
        s = self.scale_activation(self.fc2(self.activation(self.fc1(s))))  # N, E, 1, 1
        return x * s  # N, E, H, W


class StochasticDepth(nn.Module):
    """Drop the whole residual branch per sample with probability p in training (Keras Dropout with
    noise_shape (N, 1, 1, 1); torchvision's StochasticDepth "row"); survivors are scaled by 1/(1-p)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device).bernoulli_(keep)  # N,1,1,1
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f"p={self.p:.4g}, mode=row"


class MBConv(nn.Module):
    """Inverted residual block: [expand] -> depthwise -> SE -> project (+ stochastic depth + shortcut)."""

    def __init__(self, cfg: BlockConfig, stride: int, pointwise: PointwiseFactory, se_activations: bool,
                 keras_padding: bool, drop_rate: float, *, bn_eps: float, bn_momentum: float):
        super().__init__()
        self.name, self.config = cfg.name, cfg
        e = cfg.expanded_channels
        self.has_expand = cfg.expand_ratio != 1
        self.use_res_connect = stride == 1 and cfg.in_channels == cfg.out_channels
        layers: list[nn.Module] = []
        if self.has_expand:
            layers.append(pointwise(PointwiseShape(cfg.name, "expand", cfg.in_channels, e)))
        layers.append(ConvBNAct(e, e, cfg.kernel, stride, groups=e, keras_pad=keras_padding and stride > 1,
                                bn_eps=bn_eps, bn_momentum=bn_momentum))
        layers.append(SqueezeExcitation(
            pointwise(PointwiseShape(cfg.name, "se_reduce", e, cfg.se_channels)),
            pointwise(PointwiseShape(cfg.name, "se_expand", cfg.se_channels, e)),
            nn.SiLU() if se_activations else nn.Identity(),
            nn.Sigmoid() if se_activations else nn.Identity()))
        layers.append(pointwise(PointwiseShape(cfg.name, "project", e, cfg.out_channels)))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(drop_rate if self.use_res_connect else 0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)  # N, out, H/stride, W/stride
        return x + self.stochastic_depth(y) if self.use_res_connect else y

    def pointwise_layers(self) -> list[tuple[str, nn.Module]]:
        """(role, module) of this block's 1x1 convs in network order (whatever their current form)."""
        se = self.block[-2]
        roles = [("expand", self.block[0])] if self.has_expand else []
        return roles + [("se_reduce", se.fc1), ("se_expand", se.fc2), ("project", self.block[-1])]


# --------------------------------------------------------------------------- the network
class EfficientNet(nn.Module):
    """EfficientNet-B0 skeleton: `features` (stem, 7 stages, head), `avgpool`, `classifier`."""

    def __init__(self, num_classes: int, pointwise: PointwiseFactory, *, se_activations: bool,
                 keras_padding: bool, skip_strides: int = 0, in_channels: int = 3,
                 dropout: float = DROPOUT, stochastic_depth: float = DROP_CONNECT,
                 bn_eps: float = KERAS.bn_eps, bn_momentum: float = KERAS.bn_momentum):
        super().__init__()
        _check_positive("num_classes", num_classes)
        _check_positive("in_channels", in_channels)
        self.min_image_size = min_image_size(skip_strides)  # ValueError for a bad skip_strides
        for name, p in (("dropout", dropout), ("stochastic_depth", stochastic_depth)):
            if not 0.0 <= p < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {p!r}")
        self.in_channels, self.num_classes, self.skip_strides = in_channels, num_classes, skip_strides
        bn = {"bn_eps": bn_eps, "bn_momentum": bn_momentum}

        # stem: 3x3 conv; the reference pads (correct_pad) and convolves 'valid' even at stride 1.
        stem_stride = 1 if skip_strides >= 1 else 2
        stem = ConvBNAct(in_channels, STEM_CHANNELS, 3, stem_stride,
                         keras_pad=keras_padding, **bn)
        strides_left, total_stride = skip_strides - 1, stem_stride
        blocks = b0_blocks()
        stages: list[nn.Module] = [stem]
        for s, _ in enumerate(B0_STAGES):
            stage = []
            for cfg in (b for b in blocks if b.name.startswith(str(s + 1))):
                stride = cfg.stride
                if stride == 2 and strides_left > 0:  # skip_stride_cnt: the first strided stages keep size
                    stride, strides_left = 1, strides_left - 1
                total_stride *= stride
                drop = stochastic_depth * cfg.index / len(blocks)
                stage.append(MBConv(cfg, stride, pointwise, se_activations, keras_padding, drop, **bn))
            stages.append(nn.Sequential(*stage))
        stages.append(pointwise(PointwiseShape("head", "head", B0_STAGES[-1].out_channels, HEAD_CHANNELS)))
        self.features = nn.Sequential(*stages)
        assert total_stride == self.min_image_size  # the table and the skeleton agree
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(HEAD_CHANNELS, num_classes))
        self._reset_parameters()

    @torch.no_grad()
    def _reset_parameters(self) -> None:
        """Reference init for stem/depthwise/baseline 1x1 convs and classifier; grouped blocks keep theirs."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                std = math.sqrt(2.0 / fan_out) / 0.87962566103423978  # Keras truncated-normal correction
                nn.init.trunc_normal_(m.weight, 0.0, std, -2 * std, 2 * std)
                if m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_parameters()
        linear = self.classifier[-1]
        limit = math.sqrt(1.0 / self.num_classes)
        linear.weight.uniform_(-limit, limit)
        linear.bias.zero_()

    def check_input(self, x: torch.Tensor) -> None:
        """ValueError for a wrong channel count or an image smaller than the network's total stride."""
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            raise ValueError(f"x must be an N x C x H x W tensor, got "
                             f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x has {x.shape[1]} channels but the model has in_channels={self.in_channels}")
        if x.shape[-2] < self.min_image_size or x.shape[-1] < self.min_image_size:
            raise ValueError(f"x is {x.shape[-2]}x{x.shape[-1]}: images must be at least "
                             f"{self.min_image_size}x{self.min_image_size} for this network's strides "
                             f"(skip_strides={self.skip_strides})")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.features(x)  # N, 1280, H/32, W/32
        x = torch.flatten(self.avgpool(x), 1)  # N, 1280
        return self.classifier(x)  # N, classes

    # ----------------------------------------------------------------- inspection
    def pointwise_layers(self) -> list[tuple[str, str, nn.Module]]:
        """(block, role, module) of every 1x1 conv in network order; the module holds the conv and its BN."""
        rows = [(blk.name, role, m) for stage in self.features[1:-1] for blk in stage
                for role, m in blk.pointwise_layers()]
        return rows + [("head", "head", self.features[-1])]

    # ----------------------------------------------------------------- inference
    @torch.no_grad()
    def fuse(self, dense_pointwise: bool = False) -> EfficientNet:
        """An eval-mode copy with every BatchNorm folded into the conv before it (self is untouched).

        Grouped blocks keep their K/L structure (BN folded into K and L: same MACs, exact). With
        ``dense_pointwise=True`` each block without an activation between K and L becomes one dense 1x1
        conv via `InterleavedGroupedPointwise.fuse()` (fewer kernels, but the dense layer's MACs).
        """
        fused = copy.deepcopy(self).eval()
        for parent in list(fused.modules()):
            for name, child in list(parent.named_children()):
                if isinstance(child, ConvBNAct):
                    _fold_bn(child[0], child[1])
                    child[1] = nn.Identity()
                elif isinstance(child, InterleavedGroupedPointwise):
                    if dense_pointwise and (child.l is None or child.act is None):
                        setattr(parent, name, child.fuse())
                        continue
                    for conv, norm in ((child.k, "k_norm"), (child.l, "l_norm")):
                        if getattr(child, norm, None) is not None:
                            _fold_bn(conv, getattr(child, norm))
                            setattr(child, norm, None)
        return fused


def _fold_bn(conv: nn.Module, norm: nn.BatchNorm2d) -> None:
    """Fold an eval BatchNorm into the preceding conv's weight (rows = output channels) and bias."""
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)  # out
    bias = conv.bias if conv.bias is not None else torch.zeros_like(norm.running_mean)
    new_bias = (bias - norm.running_mean) * scale + norm.bias
    conv.weight.mul_(scale.reshape(-1, *([1] * (conv.weight.dim() - 1))))
    if conv.bias is None:
        conv.bias = nn.Parameter(new_bias.to(conv.weight.dtype))
    else:
        conv.bias.copy_(new_bias)


def _check_positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


# --------------------------------------------------------------------------- the two models
def _bn_settings(conv: Conventions, bn_eps: float | None, bn_momentum: float | None) -> dict[str, float]:
    return {"bn_eps": conv.bn_eps if bn_eps is None else bn_eps,
            "bn_momentum": conv.bn_momentum if bn_momentum is None else bn_momentum}


def efficientnet_b0(num_classes: int = 1000, skip_strides: int = 0, *, dropout: float = DROPOUT,
                    stochastic_depth: float = DROP_CONNECT, in_channels: int = 3,
                    conventions: str | Conventions = "keras", bn_eps: float | None = None,
                    bn_momentum: float | None = None) -> EfficientNet:
    """Standard EfficientNet-B0 (torchvision's module layout): 5,288,548 parameters at 1000 classes.
    ``skip_strides``: the first strided convs keep the size, as in kEffNet-B0 for small images."""
    conv = lookup_conventions(conventions)
    bn = _bn_settings(conv, bn_eps, bn_momentum)

    def pointwise(shape: PointwiseShape) -> nn.Module:
        if shape.bias:  # squeeze-excitation: conv with bias, activation applied by SqueezeExcitation
            return nn.Conv2d(shape.in_channels, shape.out_channels, 1, bias=True)
        return ConvBNAct(shape.in_channels, shape.out_channels, 1, activation=shape.role != "project", **bn)

    return EfficientNet(num_classes, pointwise, se_activations=True, keras_padding=conv.keras_padding,
                        skip_strides=skip_strides, in_channels=in_channels, dropout=dropout,
                        stochastic_depth=stochastic_depth, **bn)


def keffnet_b0(num_classes: int = 10, channels_per_group: int = 16, scheme: str = "v2",
               skip_strides: int = 0, *, dropout: float = DROPOUT, stochastic_depth: float = DROP_CONNECT,
               in_channels: int = 3, implementation: str = "auto", conventions: str | Conventions = "keras",
               bn_eps: float | None = None, bn_momentum: float | None = None) -> EfficientNet:
    """kEffNet-B0: every 1x1 conv an `InterleavedGroupedPointwise` (V1/V2, Ch channels per group), the head
    without swish; ``skip_strides=3`` is the paper's 32x32 CIFAR-10 model (31x31 maps).
    ``scheme="dense"`` keeps every 1x1 conv dense (the same skeleton, for comparison)."""
    if not isinstance(scheme, str) or scheme.lower() not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    scheme = scheme.lower()
    _check_positive("channels_per_group", channels_per_group)
    conv = lookup_conventions(conventions)
    bn = _bn_settings(conv, bn_eps, bn_momentum)

    def pointwise(shape: PointwiseShape) -> nn.Module:
        return InterleavedGroupedPointwise(
            shape.in_channels, shape.out_channels, channels_per_group, scheme,
            batch_norm=shape.batch_norm, activation=shape.activation, bias=shape.bias,
            implementation=implementation, **bn)

    return EfficientNet(num_classes, pointwise, se_activations=False, keras_padding=conv.keras_padding,
                        skip_strides=skip_strides, in_channels=in_channels, dropout=dropout,
                        stochastic_depth=stochastic_depth, **bn)

