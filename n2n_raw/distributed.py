"""Device choice and the optional torch.distributed context (torchrun).

``torchrun --nproc_per_node N -m n2n_raw train …`` sets RANK, LOCAL_RANK and WORLD_SIZE; each process
then joins the default process group (NCCL when it has a GPU, gloo on CPU) and wraps the model in
DistributedDataParallel. Several nodes work the same way through torchrun's rendezvous
(``--nnodes``, ``--rdzv-backend c10d``, ``--rdzv-endpoint host:port``): nothing here is node-specific.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from .errors import N2NError


def pick_device(flag: str = "auto") -> torch.device:
    """``auto`` → cuda if available else cpu; otherwise the named device, checked to exist."""
    if flag in ("", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(flag)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise N2NError(f"--device {flag}: CUDA is not available on this machine")
    return device


@dataclass
class DistributedContext:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls, device_flag: str = "auto") -> "DistributedContext":
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls(device=pick_device(device_flag))
        try:
            rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
        except KeyError as exc:
            raise N2NError(f"WORLD_SIZE={world} but {exc.args[0]} is not set; start with torchrun") from None
        if not 0 <= rank < world:
            raise N2NError(f"RANK={rank} is outside 0..{world - 1} (WORLD_SIZE={world})")
        device = pick_device(device_flag)
        if device.type == "cuda":
            if local_rank >= torch.cuda.device_count():
                raise N2NError(f"LOCAL_RANK={local_rank} but only {torch.cuda.device_count()} GPUs are visible")
            device = torch.device("cuda", local_rank)
            torch.cuda.set_device(device)
        import torch.distributed as td

        if not td.is_initialized():
            td.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        return cls(rank=rank, local_rank=local_rank, world_size=world, device=device)

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        if self.world_size <= 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def barrier(self) -> None:
        if self.world_size > 1:
            import torch.distributed as td

            td.barrier()
