"""Process ranks: one code path that runs alone and under ``torchrun``.

``torchrun --nproc_per_node=N -m deepkata run KATA`` starts N processes with ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK`` in their environment. :func:`init` joins them into one
process group (gloo on the CPU, NCCL on CUDA); alone, it does nothing and every helper here
is the identity. As in nanoGPT, only the main process (rank 0) logs and writes files; the
others compute the same sweep in lockstep and write nothing.

A kata that opts in (``register_kata(..., distributed=True)``) trains data-parallel: every
rank builds the same model from the same seed, :func:`wrap` makes it a
``DistributedDataParallel`` module, and each rank takes its share of every global batch
(:meth:`Ranks.share`). DDP averages the gradients over ranks, so a loss written as a
per-rank sum divided by the global batch size (times the world size) gives the gradient of
the single-process loss over the same global batch.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deepkata.core.errors import UserError

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class Ranks:
    """Where this process stands: its rank among ``world_size`` processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0  # rank on this machine: which GPU it takes

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def share(self, n: int) -> slice:
        """This rank's contiguous part of ``n`` items: sizes differ by at most one."""
        base, extra = divmod(n, self.world_size)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (self.rank < extra))


SINGLE = Ranks()


def from_env() -> Ranks:
    """The ranks ``torchrun`` put in the environment, or a single process."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError as e:
        raise UserError(f"WORLD_SIZE, RANK and LOCAL_RANK must be integers ({e})") from None
    if world < 1 or not 0 <= rank < world:
        raise UserError(f"RANK={rank} and WORLD_SIZE={world}: expected 0 <= RANK < WORLD_SIZE")
    return Ranks(rank, world, local)


def init(device: torch.device) -> Ranks:
    """Join the process group ``torchrun`` set up (once); a single process joins nothing."""
    import torch

    ranks = from_env()
    if ranks.distributed and not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch.distributed.init_process_group(backend=backend)
    return ranks


def wrap(model: nn.Module, ranks: Ranks, device: torch.device) -> nn.Module:
    """``model`` as a ``DistributedDataParallel`` module under torchrun, else unchanged."""
    if not ranks.distributed:
        return model
    from torch import nn

    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def broadcast(obj: Any, ranks: Ranks) -> Any:
    """Rank 0's ``obj`` on every rank (any picklable object)."""
    if not ranks.distributed:
        return obj
    import torch

    box = [obj if ranks.is_main else None]
    torch.distributed.broadcast_object_list(box, src=0)
    return box[0]


def all_sum(values: torch.Tensor, ranks: Ranks) -> torch.Tensor:
    """The sum of ``values`` over all ranks (a new tensor; ``values`` is left as it was)."""
    if not ranks.distributed:
        return values.clone()
    import torch

    total = values.detach().clone()
    torch.distributed.all_reduce(total, op=torch.distributed.ReduceOp.SUM)
    return total


def barrier(ranks: Ranks) -> None:
    if ranks.distributed:
        import torch

        torch.distributed.barrier()


def shutdown() -> None:
    """Leave the process group, if this process joined one (it cannot have without PyTorch loaded)."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
