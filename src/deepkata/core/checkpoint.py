"""Checkpoints: atomic ``torch.save`` and a ``weights_only`` load that still restores NumPy.

A checkpoint is a nest of dicts, lists and tuples holding tensors, NumPy arrays, numbers,
strings and None (RNG states included). NumPy arrays travel as tensors under a marker key,
because ``torch.load(..., weights_only=True)`` refuses pickled NumPy objects, and loading
must never run pickled code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from deepkata.core.errors import UserError
from deepkata.core.records import atomic_write

_NDARRAY = "__ndarray__"
DEFAULT_INTERVAL = 30.0  # seconds between the checkpoints of a long run (--checkpoint-every)


def _pack(obj: Any) -> Any:
    import torch

    if isinstance(obj, np.ndarray):
        return {_NDARRAY: torch.from_numpy(np.ascontiguousarray(obj)).clone()}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: _pack(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_pack(v) for v in obj)
    return obj


def _unpack(obj: Any) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {_NDARRAY}:
            return obj[_NDARRAY].numpy()
        return {k: _unpack(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unpack(v) for v in obj)
    return obj


def save(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically: a crash leaves the previous checkpoint intact."""
    import torch

    packed = _pack(state)
    atomic_write(Path(path), lambda f: torch.save(packed, f))


def load(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save`, with ``weights_only=True``."""
    import torch

    try:
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"{path}: no such checkpoint") from None
    except Exception as e:  # a truncated or foreign file
        raise UserError(f"{path}: not a deepkata checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict):
        raise UserError(f"{path}: not a deepkata checkpoint (expected a dict)")
    return _unpack(state)
