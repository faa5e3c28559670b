"""One seeding helper: the same seed gives the same numbers on CPU."""

from __future__ import annotations

import random

import numpy as np


def seed_everything(seed: int, *, deterministic_kernels: bool = False) -> None:
    """Seed Python's, NumPy's legacy and PyTorch's global generators.

    Katas should still draw from generators made from the seed
    (``np.random.default_rng(seed)``, ``torch.Generator().manual_seed(seed)``); this covers
    library code that uses the global ones. PyTorch's CPU kernels are deterministic for a
    fixed thread count; ``deterministic_kernels`` also asks for deterministic GPU kernels
    (warning where an operation has none). It is off by default because the first call costs
    over a second of start-up.
    """
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic_kernels:
        torch.use_deterministic_algorithms(True, warn_only=True)
