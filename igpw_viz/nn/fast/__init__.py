"""Fast forms of the layer (CPU and CUDA): gathers with cheap backward passes, batched matmuls over groups,
BatchNorm folded into convs, and the measured rules that choose between them. Every form computes the
function of the readable layer in `igpw_viz/nn/layer.py` (tests/test_layer_faces.py checks it)."""

from .block import FastBlock
from .conv_bn import conv1x1, conv1x1_bn, fold_pays, foldable
from .gather import ChannelGather
from .stage import IMPLEMENTATIONS, SMALL_DENSE_WEIGHTS, FastStage, choose_implementation

__all__ = ["FastBlock", "FastStage", "ChannelGather", "IMPLEMENTATIONS", "SMALL_DENSE_WEIGHTS",
           "choose_implementation", "conv1x1", "conv1x1_bn", "fold_pays", "foldable"]
