"""A check, on a CPU-only machine, that code never makes a tensor on an implicit device.

On a GPU, ``torch.zeros(n)`` inside a decoding loop makes a CPU tensor beside CUDA ones and
fails, or silently copies; on a CPU-only machine it works, so running the code proves
nothing. :class:`ImplicitDeviceAudit` records every call of a tensor factory (``torch.zeros``,
``torch.full``, ``torch.arange``, ``torch.tensor`` ...) made directly from the audited source
files without a ``device=`` argument: such a tensor lands on the default device, whatever
device the model is on. Tensors made from another (``x.new_zeros``, ``torch.zeros_like``,
``x.to(device)``) follow it and are not factories here. A CPU tensor made on purpose (from a
CPU ``torch.Generator``, say) names ``device="cpu"`` and passes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode

FACTORIES = frozenset(
    {
        "arange", "as_tensor", "empty", "empty_strided", "eye", "full", "linspace", "logspace", "ones", "rand",
        "randint", "randn", "randperm", "scalar_tensor", "tensor", "tril_indices", "triu_indices", "zeros",
    }
)  # names of the torch functions that make a tensor from nothing  # fmt: skip
SOURCE_DIR = str(Path(__import__("deepkata").__file__).parent)


class ImplicitDeviceAudit(TorchFunctionMode):
    """Within ``with ImplicitDeviceAudit() as audit:``, ``audit.found`` lists (function, file:line)."""

    def __init__(self, roots: tuple[str, ...] = (SOURCE_DIR,)) -> None:
        super().__init__()
        self.roots = roots
        self.found: list[tuple[str, str]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        if getattr(func, "__name__", None) in FACTORIES and kwargs.get("device") is None:
            caller = self._caller()
            if caller is not None:
                self.found.append((func.__name__, caller))
        return func(*args, **kwargs)

    def _caller(self) -> str | None:
        """``file:line`` of the factory's direct caller, if that is an audited file (a module
        that PyTorch builds on the CPU and the kata then moves, say, is not the kata's call)."""
        frame = sys._getframe(2)  # 0: here, 1: __torch_function__, 2: whoever called the factory
        if not frame.f_code.co_filename.startswith(self.roots):
            return None
        return f"{frame.f_code.co_filename}:{frame.f_lineno}"
