"""A restricted unpickler for CIFAR's Python pickles: it rebuilds numpy arrays and plain containers and
refuses every other global, so a hostile pickle cannot run code."""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np

from .errors import UnsafeArchiveError

__all__ = ["safe_unpickle", "normalise_keys"]


# The globals a numpy-array pickle needs (old and new numpy module paths), mapped to the real objects.
def _allowed_globals() -> dict[tuple[str, str], Any]:
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]
    allowed: dict[tuple[str, str], Any] = {}
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(mod, "_reconstruct")] = _reconstruct
        allowed[(mod, "scalar")] = scalar
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    return allowed


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Admits numpy array reconstruction and plain containers; any other global raises."""

    _allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            msg = f"pickle asks for {module}.{name}; only numpy arrays are allowed"
            raise UnsafeArchiveError(msg) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafeArchiveError("pickle uses persistent ids; refused")


def safe_unpickle(data: bytes, *, source: str = "<pickle>", encoding: str = "bytes") -> Any:
    """Load a pickle that may only rebuild numpy arrays, lists, dicts, strings and numbers."""
    try:
        return _NumpyOnlyUnpickler(io.BytesIO(data), encoding=encoding).load()
    except UnsafeArchiveError as e:
        raise UnsafeArchiveError(f"{source}: {e}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, AttributeError) as e:
        raise ValueError(f"{source}: not a readable pickle ({type(e).__name__}: {e}); the file is damaged: "
                         f"delete it (or the folder it was extracted into) and extract or download it "
                         f"again") from e


def normalise_keys(obj: dict[Any, Any]) -> dict[str, Any]:
    """Bytes keys (Python-2 pickles loaded with ``encoding='bytes'``) become str keys."""
    return {(k.decode("latin1") if isinstance(k, bytes) else str(k)): v for k, v in obj.items()}
