"""Devices and precision: where a run's tensors live and in which float format it computes.

``--device auto|cpu|cuda|cuda:N`` names the device; :func:`resolve` turns it into a
:class:`torch.device` with an explicit index (``cuda`` -> ``cuda:0``, or ``cuda:LOCAL_RANK``
under ``torchrun``), or refuses it on one line when the machine has no such device. A kata
that runs in NumPy declares itself CPU-only; the runner refuses an accelerator for it.

``--precision fp32|bf16``: ``bf16`` runs the forward passes of a kata that allows it under
``torch.autocast(..., dtype=torch.bfloat16)`` (weights, optimizer and loss reduction stay in
float32), on the CPU as on CUDA.

:func:`move` sends a nest of tensors (a batch, a state dict) to a device; library code makes
new tensors on the device of the tensors it is given (``x.new_zeros``, ``device=x.device``).
"""

from __future__ import annotations

import contextlib
import os
import re
from typing import Any, Literal

import torch

from deepkata.core.errors import UserError

Precision = Literal["fp32", "bf16"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "bf16")
_SPEC = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def check_spec(spec: str) -> str:
    """``spec`` normalized, or :class:`UserError` unless it reads auto, cpu, cuda or cuda:N."""
    text = spec.strip().lower()
    if not _SPEC.match(text):
        raise UserError(f"--device {spec!r}: expected auto, cpu, cuda or cuda:N")
    return text


def resolve(spec: str = "auto") -> torch.device:
    """The device ``spec`` names, with an index for CUDA; :class:`UserError` if unusable here."""
    text = check_spec(spec)
    if text == "cpu":
        return torch.device("cpu")
    if text == "auto" and not torch.cuda.is_available():
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise UserError(f"--device {spec}: this machine has no CUDA device (torch {torch.__version__}); use cpu or auto")
    index = int(text.partition(":")[2] or os.environ.get("LOCAL_RANK", 0))
    count = torch.cuda.device_count()
    if index >= count:
        raise UserError(f"--device {spec}: cuda:{index} does not exist; this machine has {count} CUDA device(s)")
    return torch.device("cuda", index)


def check_precision(precision: str, device: torch.device) -> Precision:
    if precision not in PRECISIONS:
        raise UserError(f"--precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise UserError(f"--precision bf16: {torch.cuda.get_device_name(device)} does not support bfloat16")
    return precision  # type: ignore[return-value]


def autocast(device: torch.device, precision: Precision) -> contextlib.AbstractContextManager[Any]:
    """``torch.autocast`` to bfloat16 for ``precision="bf16"``; a no-op for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def move(obj: Any, device: torch.device) -> Any:
    """``obj`` with every tensor in it (nested in dicts, lists, tuples) sent to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: move(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return type(obj)(move(v, device) for v in obj)
    return obj

