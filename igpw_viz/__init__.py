"""igpw_viz: interleaved grouped pointwise convolutions without divisibility constraints.

Plans (pure Python index maths), a readable PyTorch layer with fast forms behind it, EfficientNet-B0 and
kEffNet-B0, drawings, widgets, datasets and training for the method of Schwarz Schuler et al., Entropy
2022 (`docs/algorithm.md`). The package is layered: ``core`` (pure Python) <- ``nn`` (torch) <- ``viz``,
``data``, ``training``. ``import igpw_viz`` loads no torch: the torch-based names load on first use.
"""

from .core.plan import SCHEMES, GroupedStage, PointwisePlan, plan_pointwise

__version__ = "0.1.0"

_LAZY = {  # name -> module that defines it (imported on first access)
    "InterleavedGroupedPointwise": "igpw_viz.nn.layer",
    "efficientnet_b0": "igpw_viz.nn.models",
    "keffnet_b0": "igpw_viz.nn.models",
    "count_parameters": "igpw_viz.nn.counting",
    "count_macs": "igpw_viz.nn.counting",
    "convert": "igpw_viz.nn.convert",
    "load_efficientnet_b0": "igpw_viz.nn.pretrained",
    "InterleavedGroupedLinear": "igpw_viz.nn.linear",
}
__all__ = ["SCHEMES", "GroupedStage", "PointwisePlan", "plan_pointwise", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'igpw_viz' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
