"""The optional torch.distributed context (torchrun); the device policy is in :mod:`n2n_raw.device`.

One machine, N processes (one per GPU, or N CPU processes)::

    torchrun --standalone --nproc_per_node N -m n2n_raw train …      # or: make train-sidd NPROC=N

torchrun sets RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT; each process reads them here (never
writes them), joins the default process group (NCCL when it has a GPU, gloo on CPU) and wraps the model in
DistributedDataParallel. Rank 0 alone logs, validates and writes checkpoints; every rank reads the same data
stream split by :class:`n2n_raw.data.EpochSampler` and draws its sub-sampler pairs from a generator seeded
by (seed, rank, step). ``--batch-size`` is the global batch, split evenly over the processes.

Several nodes work the same way through torchrun's rendezvous; nothing here is node-specific. Run the same
command on every node, e.g. two nodes of 8 GPUs::

    torchrun --nnodes 2 --nproc_per_node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29400 \\
        --rdzv-id RUN_NAME -m n2n_raw train --out /shared/runs/sidd …

``HOST`` is any one of the nodes (reachable from the others). The run folder must be on a file system all
nodes share: rank 0 writes the checkpoints there and, with ``--resume auto``, every rank reads
``latest.pt`` from it. The prepared crops must be readable on every node (shared, or copied to the same path).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch

from .device import pick_device
from .errors import N2NError

# Ranks wait at a barrier while rank 0 validates and saves; a full SIDD validation on a slow device can
# outlast NCCL's default 10-minute timeout, so the group is given an hour.
PROCESS_GROUP_TIMEOUT = timedelta(hours=1)


def _env_int(name: str, default: str | None = None) -> int:
    value = os.environ.get(name, default)
    if value is None:
        raise N2NError(f"WORLD_SIZE={os.environ.get('WORLD_SIZE')} but {name} is not set; start with torchrun")
    try:
        return int(value)
    except ValueError:
        raise N2NError(f"{name}={value!r} is not an integer; start with torchrun") from None


@dataclass
class DistributedContext:
    """Where this process sits in the job: rank, local rank, world size and its device."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls, device_flag: str = "auto") -> DistributedContext:
        """One process unless torchrun's WORLD_SIZE > 1; then join the process group, checking the world first."""
        world = _env_int("WORLD_SIZE", "1")
        if world <= 1:
            return cls(device=pick_device(device_flag))
        rank, local_rank = _env_int("RANK"), _env_int("LOCAL_RANK")
        if not 0 <= rank < world:
            raise N2NError(f"RANK={rank} is outside 0..{world - 1} (WORLD_SIZE={world})")
        missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if not os.environ.get(k)]
        if missing:
            raise N2NError(f"WORLD_SIZE={world} but {' and '.join(missing)} not set; start with torchrun")
        device = pick_device(device_flag)
        if device.type == "cuda":
            if local_rank >= torch.cuda.device_count():
                raise N2NError(f"LOCAL_RANK={local_rank} but only {torch.cuda.device_count()} GPUs are visible")
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
        import torch.distributed as td

        if not td.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            td.init_process_group(backend=backend, timeout=PROCESS_GROUP_TIMEOUT)
        return cls(rank=rank, local_rank=local_rank, world_size=world, device=device)

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """DistributedDataParallel around ``model`` when there are several processes; the model itself otherwise.

        Every parameter takes part in the one gradient pass of a step, so unused-parameter detection stays
        off. The loss also calls the wrapper for the full-image pass under ``no_grad``; DDP then skips its
        reducer bookkeeping, so gradients are averaged exactly once per step (tests/test_distributed.py).
        """
        if self.world_size <= 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def barrier(self) -> None:
        if self.world_size > 1:
            import torch.distributed as td

            td.barrier()
