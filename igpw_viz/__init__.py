"""igpw_viz: interleaved grouped pointwise convolutions without divisibility constraints.

Plans (pure Python index maths), a fast PyTorch layer, kEffNet-B0, drawings, widgets, datasets and
training for the method of Schwarz Schuler et al., Entropy 2022.
"""

from .plan import GroupedStage, PointwisePlan, plan_pointwise

__version__ = "0.1.0"
__all__ = ["GroupedStage", "InterleavedGroupedPointwise", "PointwisePlan", "plan_pointwise"]


def __getattr__(name: str):
    """Import the torch-based layer lazily, so the pure plan works without loading torch."""
    if name == "InterleavedGroupedPointwise":
        from .layers import InterleavedGroupedPointwise

        return InterleavedGroupedPointwise
    raise AttributeError(f"module 'igpw_viz' has no attribute {name!r}")
