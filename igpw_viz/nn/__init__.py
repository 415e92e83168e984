"""PyTorch: the readable layer (`layer.py`) and its fast forms (`fast/`), the two networks, exact counts, and
the slow references used by tests and benchmarks (`oracle.py`)."""

from .counting import count_macs, count_parameters, format_pointwise_table, pointwise_table
from .layer import GroupedPointwiseConv, InterleavedGroupedPointwise
from .models import EfficientNet, efficientnet_b0, keffnet_b0
from .pretrained import load_efficientnet_b0

__all__ = ["InterleavedGroupedPointwise", "GroupedPointwiseConv", "EfficientNet", "efficientnet_b0",
           "keffnet_b0", "load_efficientnet_b0", "count_parameters", "count_macs", "pointwise_table",
           "format_pointwise_table"]
