"""The fused CPU augmentation kernel (``warp_cpu.cpp``): built once with torch's C++ extension loader,
used by ``DeviceBatches`` on the CPU for bilinear warps with border or zero padding.

Why: on this 2-core CPU, ``affine_grid`` + ``grid_sample`` on float32 + normalise + the channels_last
copy make four passes over each batch; the kernel makes one and reads the resident uint8 data directly
(benchmarks/data_bench.py). On CUDA, and whenever the kernel cannot be built (no compiler or ninja), the
pipeline uses ``grid_sample``; ``IGPW_CPU_WARP=0`` forces that fallback.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import torch

_SOURCE = Path(__file__).with_name("warp_cpu.cpp")
_state: dict[str, object] = {}


def cpu_warp_available() -> bool:
    """Build (first call, about 6 s here) or load the kernel; False, with one warning, if that fails."""
    if "ok" not in _state:
        _state["ok"] = _build()
    return bool(_state["ok"])


def _build_options() -> tuple[str, list[str]]:
    """Extension name and compiler flags. ``-march=native`` (5-8% faster here) only where the build can be
    keyed to this CPU's feature flags (Linux), so a shared extension cache never hands one CPU's build to
    another."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        features = next(line for line in lines if line.startswith(("flags", "Features")))
    except (OSError, StopIteration):
        return "igpw_viz_warp", ["-O3"]
    return f"igpw_viz_warp_{hashlib.sha256(features.encode()).hexdigest()[:12]}", ["-O3", "-march=native"]


def _build(source: Path = _SOURCE, name: str | None = None) -> bool:
    if os.environ.get("IGPW_CPU_WARP", "1") == "0":
        return False
    default_name, flags = _build_options()
    try:
        from torch.utils.cpp_extension import load

        load(name=name or default_name, sources=[str(source)], extra_cflags=flags, is_python_module=False,
             verbose=False)
        return hasattr(torch.ops.igpw_viz_warp, "affine_bilinear_u8")
    except Exception as exc:  # noqa: BLE001 - any build failure means: use the portable path
        warnings.warn(f"igpw_viz: the CPU augmentation kernel could not be built ({type(exc).__name__}: "
                      f"{str(exc).splitlines()[0] if str(exc) else ''}); using grid_sample instead",
                      RuntimeWarning, stacklevel=3)
        return False


def warp_u8(src: torch.Tensor, index: torch.Tensor, theta: torch.Tensor, scale: torch.Tensor,
            shift: torch.Tensor, size: int, border: bool, *, portable: bool = False,
            out: torch.Tensor | None = None) -> torch.Tensor:
    """uint8 src (N, 3, H, W), images ``index`` (B,), affine ``theta`` (B, 2, 3) -> float32 channels_last
    (B, 3, size, size) = bilinear sample * scale + shift (``cpu_warp_available()`` must be True).
    Border padding uses SSE2 with horizontal weights in Q14 fixed point (error below 1/100 of a grey
    level); ``portable=True`` forces the plain float loop that machines without SSE2 run. ``out``: a
    float32 (B, size, size, 3) buffer to fill instead of a new one (see ``OutputPool``)."""
    out = torch.ops.igpw_viz_warp.affine_bilinear_u8(
        src, index.contiguous(), theta.float().contiguous(), scale.float().reshape(3).contiguous(),
        shift.float().reshape(3).contiguous(), int(size), bool(border), torch.get_num_threads(), bool(portable), out)
    return out.permute(0, 3, 1, 2)  # (B, 3, S, S), channels_last strides


def _use_count(t: torch.Tensor) -> int:
    return torch._C._storage_Use_Count(t.untyped_storage()._cdata)


class OutputPool:
    """Float batch buffers handed out again once nobody holds them (no tensor, view or autograd graph
    references their storage). A fresh 19 MB batch (32 x 3 x 224 x 224) costs about 4,700 page faults,
    5 ms on this CPU: as much as warping it. The newest ``keep`` buffers are remembered; a buffer still
    in use is never touched."""

    def __init__(self, keep: int = 3):
        self.keep = keep
        self._buffers: list[tuple[torch.Tensor, int]] = []  # (buffer, its use count when free)

    def take(self, shape: tuple[int, ...]) -> torch.Tensor:
        for buffer, free_count in self._buffers:
            if tuple(buffer.shape) == tuple(shape) and _use_count(buffer) == free_count:
                return buffer.view(shape)  # a view: whoever holds it counts as a user of the storage
        buffer = torch.empty(shape, dtype=torch.float32)
        self._buffers = [(buffer, _use_count(buffer)), *self._buffers[: self.keep - 1]]
        return buffer.view(shape)


def padded_channels_last(images: torch.Tensor) -> torch.Tensor:
    """A uint8 N x 3 x H x W copy in channels_last memory with spare bytes after its end, which lets the
    kernel read every pixel as one 4-byte load (29% faster here than checking for the buffer's end)."""
    n, c, h, w = images.shape
    storage = torch.empty(n * h * w * c + 16, dtype=torch.uint8, device=images.device)
    out = storage[: n * h * w * c].view(n, h, w, c).permute(0, 3, 1, 2)  # (N, C, H, W), channels_last strides
    out.copy_(images)
    return out
