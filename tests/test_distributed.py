"""Multi-process training: two real gloo processes on CPU, and clear errors for a bad world.

* Two processes (``torch.multiprocessing``, gloo, the same ``train()`` that torchrun runs) hold identical
  weights after a few steps, and an interrupted-and-resumed run ends bit-identical to an uninterrupted one.
* DistributedDataParallel's gradient is the mean of the per-rank gradients, although the model is called
  twice per step (the full pass under ``no_grad`` goes through the DDP wrapper too): no reducer error, no
  double reduction.
* A world that cannot work (rank outside it, missing variables, batch not divisible) fails at once with a
  one-line message.
* ``slow``: ``torchrun --nproc_per_node 2 -m n2n_raw train …`` end to end, as ``make train-sidd NPROC=2``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from n2n_raw.checkpoint import load_checkpoint, unwrap
from n2n_raw.distributed import DistributedContext
from n2n_raw.errors import N2NError
from n2n_raw.loss import Neighbor2NeighborLoss
from n2n_raw.model import UNet, UNetConfig
from n2n_raw.sampler import NeighborPairs, draw_neighbor_pairs
from n2n_raw.train import train
from n2n_raw.train_config import TrainConfig

WORLD = 2


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_mosaics(folder: Path, count: int = 8) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for k in range(count):
        np.save(folder / f"m{k}.npy", (0.2 + 0.02 * rng.standard_normal((72, 80))).astype(np.float32))
    return folder


class RecordingContext(DistributedContext):
    """The real context, which also keeps the model it wraps so that the test can read each rank's weights."""

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        self.model = model
        return super().wrap(model)


def small_config(data: Path, out: Path, **changes) -> TrainConfig:
    base = dict(data=str(data), out=str(out), crop=64, batch_size=WORLD, num_workers=0, log_every=1,
                validate_every=0, epochs=2, device="cpu")  # fmt: skip
    return TrainConfig(**{**base, **changes})


def fixed_batch_and_pairs() -> tuple[torch.Tensor, NeighborPairs]:
    g = torch.Generator().manual_seed(3)
    noisy = 0.2 + 0.05 * torch.rand(2 * WORLD, 4, 32, 32, generator=g)
    return noisy, draw_neighbor_pairs(noisy.shape, generator=g)


def worker(rank: int, port: int, tmp: str) -> None:
    """One rank: a DDP gradient check, then uninterrupted and interrupted+resumed training runs."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(WORLD))  # fmt: skip
    torch.set_num_threads(1)  # two processes share the test machine's cores
    tmp_path = Path(tmp)
    dist = RecordingContext.from_environment("cpu")

    # 1. One DDP backward on this rank's half of a fixed batch: the loss calls the wrapper twice.
    torch.manual_seed(0)
    ddp = dist.wrap(UNet(UNetConfig(width=8)))
    noisy, pairs = fixed_batch_and_pairs()
    part = slice(2 * rank, 2 * rank + 2)
    Neighbor2NeighborLoss()(ddp, noisy[part], NeighborPairs(pairs.g1[part], pairs.g2[part]), gamma=1.0).total.backward()
    torch.save({n: p.grad for n, p in unwrap(ddp).named_parameters()}, tmp_path / f"grad{rank}.pt")

    # 2. Training: 4 steps straight; 2 steps, then resume to 4 (mid-epoch: 4 batches per rank per epoch).
    data = tmp_path / "mosaics"
    train(small_config(data, tmp_path / "straight", max_steps=4), dist=dist)
    torch.save(unwrap(dist.model).state_dict(), tmp_path / f"straight{rank}.pt")
    train(small_config(data, tmp_path / "resumed", max_steps=2), dist=dist)
    train(small_config(data, tmp_path / "resumed", max_steps=4, resume="auto"), dist=dist)
    torch.save(unwrap(dist.model).state_dict(), tmp_path / f"resumed{rank}.pt")
    torch.distributed.destroy_process_group()


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.fixture(scope="module")
def two_rank_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    write_mosaics(tmp / "mosaics")
    mp.spawn(worker, args=(free_port(), str(tmp)), nprocs=WORLD, join=True)
    return tmp


def test_two_gloo_processes_hold_identical_weights(two_rank_run):
    torch.manual_seed(0)  # train() seeds the initial weights with the run's seed, 0
    initial = UNet().state_dict()
    rank0, rank1 = (torch.load(two_rank_run / f"straight{r}.pt") for r in range(WORLD))
    assert_same(rank0, rank1)
    assert not torch.equal(rank0["enc_conv0.0.weight"], initial["enc_conv0.0.weight"])  # it did train
    # Rank 0 alone wrote the checkpoint, which holds the weights every rank has.
    state = load_checkpoint(two_rank_run / "straight" / "checkpoints" / "latest.pt")
    assert state["step"] == 4
    assert_same(state["model"], rank0)


def test_two_process_resume_equals_an_uninterrupted_run(two_rank_run):
    for r in range(WORLD):
        assert_same(torch.load(two_rank_run / f"resumed{r}.pt"), torch.load(two_rank_run / f"straight{r}.pt"))


def test_ddp_gradient_is_the_mean_of_the_per_rank_gradients(two_rank_run):
    noisy, pairs = fixed_batch_and_pairs()
    torch.manual_seed(0)
    model = UNet(UNetConfig(width=8))
    expected: dict[str, torch.Tensor] = {}
    for r in range(WORLD):
        part = slice(2 * r, 2 * r + 2)
        model.zero_grad()
        Neighbor2NeighborLoss()(
            model, noisy[part], NeighborPairs(pairs.g1[part], pairs.g2[part]), gamma=1.0
        ).total.backward()
        for n, p in model.named_parameters():
            expected[n] = expected.get(n, 0) + p.grad / WORLD
    for r in range(WORLD):
        got = torch.load(two_rank_run / f"grad{r}.pt")
        for n, g in expected.items():
            torch.testing.assert_close(got[n], g, rtol=1e-4, atol=1e-7, msg=f"rank {r}, {n}")


def test_empty_environment_is_one_process(monkeypatch):
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE"):
        monkeypatch.delenv(key, raising=False)
    ctx = DistributedContext.from_environment("cpu")
    assert (ctx.rank, ctx.world_size, ctx.is_main, ctx.device.type) == (0, 1, True, "cpu")
    model = torch.nn.Linear(2, 2)
    assert ctx.wrap(model) is model


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WORLD_SIZE": "2", "RANK": "2", "LOCAL_RANK": "0"}, "RANK=2 is outside 0..1"),
        ({"WORLD_SIZE": "2", "RANK": "-1", "LOCAL_RANK": "0"}, "RANK=-1 is outside 0..1"),
        ({"WORLD_SIZE": "2", "LOCAL_RANK": "0"}, "RANK is not set"),
        ({"WORLD_SIZE": "two", "RANK": "0", "LOCAL_RANK": "0"}, "WORLD_SIZE='two' is not an integer"),
        ({"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "0"}, "MASTER_ADDR"),
    ],
)
def test_bad_world_configuration_is_a_clear_error(monkeypatch, env, message):
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(N2NError, match=message):
        DistributedContext.from_environment("cpu")


def test_batch_not_divisible_by_the_world_is_refused(tmp_path):
    config = small_config(tmp_path / "none", tmp_path / "out", batch_size=3)
    with pytest.raises(N2NError, match="--batch-size 3 is not divisible by 2 processes"):
        train(config, dist=DistributedContext(rank=0, world_size=2))


@pytest.mark.slow
def test_torchrun_trains_with_two_processes_and_resumes(tmp_path):
    data = write_mosaics(tmp_path / "mosaics")
    out = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "n2n_raw",
               "train", "--data", str(data), "--out", str(out), "--crop", "64", "--batch-size", "2",
               "--num-workers", "0", "--validate-every", "0", "--device", "cpu"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(command + ["--max-steps", "2"], check=True, env=env, cwd=Path(__file__).parents[1])
    subprocess.run(
        command + ["--max-steps", "3", "--resume", "auto"], check=True, env=env, cwd=Path(__file__).parents[1]
    )
    assert load_checkpoint(out / "checkpoints" / "latest.pt")["step"] == 3
