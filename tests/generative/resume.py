"""The exact-resume check every generative trainer passes: one training run to its end, another
interrupted after its first chunk and resumed from its state, must end with the same weights."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch

from deepkata.core.trainer import EpochTrainer

T = TypeVar("T", bound=EpochTrainer)


def whole_and_resumed(make: Callable[[], T], seed: int) -> tuple[T, T]:
    """(a run to its end, a run stopped after one chunk and resumed into a fresh trainer), both from
    ``make()`` with the global generator seeded by ``seed``; asserts equal updates and weights."""
    whole = make()
    torch.manual_seed(seed)
    while not whole.done:
        whole.train_chunk()
    part = make()
    torch.manual_seed(seed)
    part.train_chunk()
    state, rng = part.state_dict(), torch.get_rng_state()  # the engine keeps the generators' state beside the job's
    resumed = make()
    resumed.load_state_dict(state)
    torch.set_rng_state(rng)
    while not resumed.done:
        resumed.train_chunk()
    assert resumed.updates == whole.updates == whole.total_updates
    for (name, a), b in zip(whole.model.state_dict().items(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    return whole, resumed
