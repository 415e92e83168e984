"""Start from ImageNet: a torchvision or timm EfficientNet-B0 state_dict loaded into `efficientnet_b0`.

Weights trained elsewhere can then be converted (`convert(model, 16, init="dense")`) and fine-tuned.
torchvision's parameter names are ours (the model was laid out to match them); timm's are mapped by the
tables below. The conventions follow the source, since padding and BatchNorm eps change the function:
torchvision's and timm's ``efficientnet_b0`` pad symmetrically with eps 1e-5 ("torchvision"); timm's
``tf_efficientnet_b0`` carries the TensorFlow weights with 'same' padding and eps 1e-3 ("keras").
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

import torch

from ..core.architecture import B0_STAGES
from ..core.files import error_line
from .models import EfficientNet, efficientnet_b0

SOURCES = {"torchvision": "torchvision", "timm": "torchvision", "timm-tf": "keras"}  # source -> conventions
_MARKERS = {"features.0.0.weight": "torchvision", "conv_stem.weight": "timm"}  # a key only that layout has

# timm's names -> ours. Blocks: `blocks.{stage}.{block}.{layer}.{param}`, by whether the stage expands.
_TIMM_TOP = {"conv_stem": "features.0.0", "bn1": "features.0.1", "conv_head": "features.8.0",
             "bn2": "features.8.1", "classifier": "classifier.1"}
_TIMM_BLOCK = {
    False: {"conv_dw": "block.0.0", "bn1": "block.0.1", "se.conv_reduce": "block.1.fc1",  # 1a: no expand
            "se.conv_expand": "block.1.fc2", "conv_pw": "block.2.0", "bn2": "block.2.1"},
    True: {"conv_pw": "block.0.0", "bn1": "block.0.1", "conv_dw": "block.1.0", "bn2": "block.1.1",
           "se.conv_reduce": "block.2.fc1", "se.conv_expand": "block.2.fc2", "conv_pwl": "block.3.0",
           "bn3": "block.3.1"},
}
_BLOCK_KEY = re.compile(r"blocks\.(\d+)\.(\d+)\.(.+)\.([^.]+)")
_WRAPPERS = ("state_dict", "model")  # where timm's and torchvision's training checkpoints keep the weights
_PREFIXES = ("module.", "_orig_mod.")  # DistributedDataParallel, torch.compile


def load_efficientnet_b0(state_dict: Mapping[str, torch.Tensor] | str | os.PathLike, *,
                         source: str = "auto", num_classes: int | None = None,
                         **model_kwargs) -> EfficientNet:
    """`efficientnet_b0` holding the given torchvision or timm EfficientNet-B0 weights.

    ``state_dict``: a state_dict, or a file (``.pth``/``.pt`` via ``torch.load(weights_only=True)``,
    ``.safetensors``); a training checkpoint's ``state_dict``/``model`` entry and DDP or compile
    prefixes are unwrapped. ``source``: "auto" tells torchvision from timm by the names; timm's
    ``tf_efficientnet_b0`` weights need ``source="timm-tf"`` (the names are the same, the padding and
    eps are not). ``num_classes``: a new, randomly initialised classifier when it differs from the
    checkpoint's. Other keywords (``skip_strides``, ``dropout``, ...) go to `efficientnet_b0`.
    """
    if source not in ("auto", *SOURCES):
        raise ValueError(f"source must be 'auto' or one of {tuple(SOURCES)}, got {source!r}")
    if "conventions" in model_kwargs:
        raise ValueError("conventions follows source (torchvision and timm: 'torchvision'; timm-tf: 'keras');"
                         " pass source instead")
    is_file = isinstance(state_dict, (str, os.PathLike))
    label = f"state_dict file {os.fspath(state_dict)}" if is_file else "state_dict"
    weights = _unwrap(_read(state_dict) if is_file else state_dict, label)
    layout = _layout(weights, label)
    if source == "auto":
        source = layout
    elif layout != source.split("-")[0]:  # timm-tf has timm's names
        raise ValueError(f"{label} has {layout}'s parameter names, not {source}'s")
    if layout == "timm":
        weights = {_timm_name(k, label): v for k, v in weights.items()}

    classes = weights.get("classifier.1.weight")
    if not isinstance(classes, torch.Tensor) or classes.dim() != 2:
        raise ValueError(f"{label} has no classifier weight (classifier.1.weight / timm's classifier.weight)")
    new_head = num_classes is not None and num_classes != classes.shape[0]
    if new_head:
        weights = {k: v for k, v in weights.items() if not k.startswith("classifier.")}
    model = efficientnet_b0(num_classes if new_head else classes.shape[0], conventions=SOURCES[source],
                            **model_kwargs)
    _check_matches(model, weights, label, skip_head=new_head)
    model.load_state_dict(weights, strict=False)  # completeness and shapes were checked above
    return model


def _read(path: str | os.PathLike) -> Mapping[str, object]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"state_dict file {path} does not exist or is not a file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated, foreign or pickled-code file
        raise ValueError(f"state_dict file {path} could not be read as "
                         f"{'safetensors' if path.suffix == '.safetensors' else 'a torch.save file'} "
                         f"({type(err).__name__}: {error_line(err)})") from None


def _unwrap(obj: object, label: str) -> dict[str, torch.Tensor]:
    if isinstance(obj, Mapping) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
        inner = next((obj[k] for k in _WRAPPERS if isinstance(obj.get(k), Mapping)), None)
        if inner is not None:
            obj = inner
    if not isinstance(obj, Mapping) or not obj:
        raise ValueError(f"{label} is not a non-empty mapping of parameter names to tensors "
                         f"(got {type(obj).__name__})")
    out = {}
    for key, value in obj.items():
        name = str(key)
        for prefix in _PREFIXES:
            name = name.removeprefix(prefix)
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{label}: entry {key!r} is a {type(value).__name__}, not a tensor")
        out[name] = value
    return out


def _layout(weights: Mapping[str, torch.Tensor], label: str) -> str:
    found = {layout for marker, layout in _MARKERS.items() if marker in weights}
    if len(found) != 1:
        sample = ", ".join(list(weights)[:3])
        raise ValueError(f"{label} is not an EfficientNet-B0 state_dict of torchvision (features.0.0.weight) "
                         f"or timm (conv_stem.weight); its first names are {sample}")
    return found.pop()


def _timm_name(key: str, label: str) -> str:
    layer, _, param = key.rpartition(".")
    if layer in _TIMM_TOP:
        return f"{_TIMM_TOP[layer]}.{param}"
    m = _BLOCK_KEY.fullmatch(key)
    if m is not None and int(m[1]) < len(B0_STAGES):
        stage, block, layer, param = int(m[1]), m[2], m[3], m[4]
        table = _TIMM_BLOCK[B0_STAGES[stage].expand_ratio != 1]
        if layer in table:
            return f"features.{stage + 1}.{block}.{table[layer]}.{param}"
    raise ValueError(f"{label}: {key!r} is not a parameter of timm's EfficientNet-B0")


def _check_matches(model: EfficientNet, weights: Mapping[str, torch.Tensor], label: str,
                   skip_head: bool) -> None:
    """One line naming the first missing, unexpected or misshaped parameter (torch lists them all)."""
    ours = {k: v for k, v in model.state_dict().items() if not (skip_head and k.startswith("classifier."))}
    optional = {k for k in ours if k.endswith("num_batches_tracked")}  # absent from older checkpoints
    missing = sorted(set(ours) - set(weights) - optional)
    unexpected = sorted(set(weights) - set(ours))
    if missing or unexpected:
        what = f"misses {missing[0]}" if missing else f"has {unexpected[0]}, which EfficientNet-B0 does not"
        raise ValueError(f"{label} {what} ({len(missing)} missing, {len(unexpected)} unexpected): "
                         "is it an EfficientNet-B0 (not B1-B7 or V2)?")
    for name, value in weights.items():
        if value.shape != ours[name].shape:
            raise ValueError(f"{label}: {name} has shape {tuple(value.shape)}, EfficientNet-B0 has "
                             f"{tuple(ours[name].shape)}: is it an EfficientNet-B0 (not B1-B7 or V2)?")
