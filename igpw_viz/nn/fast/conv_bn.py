"""Fast exact 1x1 conv and BatchNorm on the CPU: the layer's dense convs and the BN after its stages.

Two measured facts of this 2-core CPU (benchmarks/conv_bn_bench.py, benchmarks/RESULTS.md):
- On NCHW maps of at least 32x32 pixels one batched matmul over the batch (`baddbmm`) is as fast as
  oneDNN's 1x1 conv or faster, fwd+bwd (up to 3.6x with 2 threads); on smaller maps oneDNN wins.
- A training-mode BatchNorm after an expansion costs more than the conv: its statistics, its normalisation
  and their backward are passes over the wide output. The output's batch mean and variance are linear and
  quadratic in the input (mean_y = W mu, var_y = diag(W Sigma W^T)), so they can be computed from the
  narrow input's covariance and folded into the conv's weight and bias: same values, same gradients
  (autograd differentiates through the statistics), same running-statistics update.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

BMM_MIN_PIXELS = 32 * 32  # smallest H*W where baddbmm beat oneDNN's NCHW 1x1 conv, at 1 and 2 threads
FOLD_MAC_PER_PASS = 8  # fold training BN when in_channels**2 <= this x out_channels (see fold_pays)


def conv1x1(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
            prefer_bmm: bool = False) -> torch.Tensor:
    """y = weight @ x per pixel (weight: out x in), as baddbmm on large contiguous CPU maps, else a conv.
    ``prefer_bmm``: baddbmm on any contiguous CPU map larger than 1x1 (small weights: it wins at every size)."""
    n, c, h, w = x.shape
    large = h * w >= BMM_MIN_PIXELS or (prefer_bmm and h * w > 1)
    if x.device.type == "cpu" and large and x.is_contiguous():
        x3 = x.view(n, c, h * w)  # N, C, HW
        batched = weight.expand(n, -1, -1)  # N, F, C (a view)
        y = torch.bmm(batched, x3) if bias is None else torch.baddbmm(bias.view(1, -1, 1), batched, x3)
        return y.view(n, -1, h, w)  # N, F, H, W
    return F.conv2d(x, weight[:, :, None, None], bias)


def foldable(norm: nn.Module | None) -> bool:
    """A plain affine BatchNorm2d that tracks running statistics (SyncBatchNorm and friends are not folded)."""
    return type(norm) is nn.BatchNorm2d and norm.affine and norm.track_running_stats


def fold_pays(in_channels: int, out_channels: int) -> bool:
    """Whether folding a training-mode BN pays, per group: the input covariance costs about Ic^2 MACs per
    pixel (fwd+bwd a few times that) against BN's passes over the Fc outputs. The constant is measured
    (benchmarks/conv_bn_bench.py, layer_bench.py): 8 folds the expansions (16->96, 24->144, K of 40->240:
    16 inputs, 80 filters per group) and keeps BN where groups have 16 inputs and <= 16 filters (16 made
    those L stages slower)."""
    return in_channels * in_channels <= FOLD_MAC_PER_PASS * out_channels


def output_stats(x: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Batch mean and biased variance of each filter's output, from the input alone.

    ``x``: N x G x c x L (G groups of c input channels, L pixels); ``weight``: G x f x c (f filters per
    group). Returns mean and variance (G x f, float32 or float64, never bf16) and the pixel count.
    mean_y = W mu and var_y = diag(W Sigma W^T) per group: what BatchNorm would compute on the output.
    """
    n, groups, c, length = x.shape
    count = n * length
    if count <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got {n} images of {length} pixels")
    dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    with torch.autocast(x.device.type, enabled=False):
        x32, w32 = x.to(dtype), weight.to(dtype)
        mean = x32.mean(dim=(0, 3))  # G, c
        centred = x32 - mean[None, :, :, None]  # N, G, c, L
        cov = torch.matmul(centred, centred.transpose(-1, -2)).sum(0) / count  # G, c, c
        mean_y = (w32 @ mean.unsqueeze(-1)).squeeze(-1)  # G, f
        var_y = ((w32 @ cov) * w32).sum(-1).clamp_min(0.0)  # G, f
    return mean_y, var_y, count


def norm_scale_shift(norm: nn.BatchNorm2d, mean: torch.Tensor | None = None, var: torch.Tensor | None = None,
                     count: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """BN as y * scale + shift: from batch statistics (training; updates the running ones exactly as
    BatchNorm2d does) or, when ``mean`` is None, from the running statistics (eval)."""
    if mean is None:
        mean, var = norm.running_mean, norm.running_var
    else:
        _update_running_stats(norm, mean.detach(), var.detach(), count)
    scale = norm.weight * torch.rsqrt(var + norm.eps)  # F
    return scale, norm.bias - mean * scale


def folded_weight_and_bias(x: torch.Tensor, weight: torch.Tensor,
                           norm: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight (F x C) and bias of conv1x1 followed by ``norm``: batch statistics from the input's
    covariance in training mode, running ones in eval."""
    if norm.training:
        n, c, h, w = x.shape
        mean, var, count = output_stats(x.reshape(n, 1, c, h * w), weight[None])
        scale, shift = norm_scale_shift(norm, mean[0], var[0], count)
    else:
        scale, shift = norm_scale_shift(norm)
    return weight * scale[:, None].to(weight.dtype), shift


@torch.no_grad()
def _update_running_stats(norm: nn.BatchNorm2d, mean: torch.Tensor, var: torch.Tensor, count: int) -> None:
    """What BatchNorm2d does in training mode: unbiased variance, momentum or cumulative average."""
    norm.num_batches_tracked.add_(1)
    momentum = norm.momentum if norm.momentum is not None else 1.0 / float(norm.num_batches_tracked)
    unbiased = var * (count / max(count - 1, 1))
    norm.running_mean.lerp_(mean.to(norm.running_mean.dtype), momentum)
    norm.running_var.lerp_(unbiased.to(norm.running_var.dtype), momentum)


def conv1x1_bn(x: torch.Tensor, weight: torch.Tensor, norm: nn.BatchNorm2d) -> torch.Tensor:
    """BatchNorm2d(conv1x1(x, weight)) with BN folded into the conv (``foldable(norm)`` must hold)."""
    return conv1x1(x, *for_input(x, *folded_weight_and_bias(x, weight, norm)))


def for_input(x: torch.Tensor, *tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Folded weights and biases (computed in fp32/fp64) in ``x``'s dtype, unless autocast is on: it casts
    them for the matmul itself."""
    if torch.is_autocast_enabled(x.device.type):
        return tensors
    return tuple(t.to(x.dtype) for t in tensors)
