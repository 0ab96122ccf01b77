"""The CUDA path (``pytest -m gpu``; skipped without a GPU).

* The sub-sampler gives bit-identical g1/g2 on CUDA and CPU for the same draws, and CUDA draws are valid.
* The loss and its gradients on CUDA match the CPU's (fp32 with TF32 off: tight; bf16 autocast: loose).
* A training step on CUDA never waits for the device (``torch.cuda.set_sync_debug_mode("error")``).
* ``train()`` on CUDA with the default switches (bf16, channels_last) writes a finite-loss checkpoint.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest
import torch

from n2n_raw.device import Runtime
from n2n_raw.loss import Neighbor2NeighborLoss
from n2n_raw.model import UNet, UNetConfig
from n2n_raw.sampler import draw_neighbor_pairs, pairs_from_choices, subsample
from n2n_raw.steps import make_optimizer, training_step
from n2n_raw.train import train
from n2n_raw.train_config import TrainConfig

pytestmark = pytest.mark.gpu


@contextmanager
def exact_fp32():
    """TF32 off, so that CUDA convolutions round like the CPU's fp32 ones."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def batch_and_choices(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    noisy = 0.2 + 0.05 * torch.rand(2, 4, 64, 64, generator=g)
    return noisy, torch.randint(0, 8, (2, 32, 32), generator=g)


def test_sampler_is_bit_identical_on_cuda_and_cpu(cuda_device):
    noisy, choices = batch_and_choices()
    cpu = subsample(noisy, pairs_from_choices(choices))
    gpu = subsample(noisy.to(cuda_device), pairs_from_choices(choices.to(cuda_device)))
    for a, b in zip(cpu, gpu):
        assert b.device.type == "cuda"
        assert torch.equal(a, b.cpu())


def test_cuda_draws_are_valid_neighbour_pairs(cuda_device):
    g = torch.Generator(device=cuda_device).manual_seed(0)
    pairs = draw_neighbor_pairs((3, 4, 16, 16), generator=g, device=cuda_device)
    assert pairs.g1.device.type == "cuda" and pairs.g1.shape == (3, 8, 8)
    g1, g2 = pairs.g1.cpu(), pairs.g2.cpu()
    # 4-adjacent in the 2×2 cell: positions differ by 1 within a row (0↔1, 2↔3) or by 2 down a column.
    assert bool(((g1 - g2).abs().isin(torch.tensor([1, 2])) & ((g1 + g2) != 3)).all())


def _loss_and_grads(device: torch.device, amp: bool):
    noisy, choices = batch_and_choices(1)
    torch.manual_seed(0)
    model = UNet(UNetConfig(width=16)).to(device)
    pairs = pairs_from_choices(choices.to(device))
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
        terms = Neighbor2NeighborLoss()(model, noisy.to(device), pairs=pairs, gamma=1.0)
    terms.total.backward()
    return terms.total.item(), {n: p.grad.cpu() for n, p in model.named_parameters()}


def test_loss_and_gradients_match_the_cpu_in_fp32(cuda_device):
    with exact_fp32():
        gpu_loss, gpu_grads = _loss_and_grads(cuda_device, amp=False)
    cpu_loss, cpu_grads = _loss_and_grads(torch.device("cpu"), amp=False)
    assert gpu_loss == pytest.approx(cpu_loss, rel=1e-4)
    for name, g in cpu_grads.items():
        torch.testing.assert_close(gpu_grads[name], g, rtol=1e-3, atol=1e-6, msg=name)


def test_bf16_loss_stays_close_to_the_fp32_loss(cuda_device):
    with exact_fp32():
        fp32_loss, _ = _loss_and_grads(cuda_device, amp=False)
    bf16_loss, bf16_grads = _loss_and_grads(cuda_device, amp=True)
    assert bf16_loss == pytest.approx(fp32_loss, rel=5e-2)
    assert all(bool(torch.isfinite(g).all()) for g in bf16_grads.values())


def test_training_step_never_synchronises_with_the_host(cuda_device):
    config = TrainConfig()
    torch.manual_seed(0)
    model = UNet(UNetConfig(width=16)).to(cuda_device).to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, config, cuda_device)
    criterion = Neighbor2NeighborLoss()
    runtime = Runtime(cuda_device, bf16=True, channels_last=True)
    generator = torch.Generator(device=cuda_device).manual_seed(0)
    noisy = (0.2 + 0.05 * torch.rand(4, 4, 64, 64, device=cuda_device)).contiguous(memory_format=torch.channels_last)
    training_step(model, criterion, optimizer, noisy, generator, 1.0, runtime)  # first step: optimizer state
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(2):
            terms = training_step(model, criterion, optimizer, noisy, generator, 1.0, runtime)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert np.isfinite(terms.total.item())


def test_train_on_cuda_with_default_switches(cuda_device, tmp_path):
    data = tmp_path / "mosaics"
    data.mkdir()
    rng = np.random.default_rng(0)
    for k in range(4):
        np.save(data / f"m{k}.npy", (0.2 + 0.02 * rng.standard_normal((96, 96))).astype(np.float32))
    config = TrainConfig(data=str(data), out=str(tmp_path / "run"), crop=64, batch_size=2, num_workers=0,
                         max_steps=3, log_every=1, validate_every=0, device="cuda")  # fmt: skip
    summary = train(config)
    assert summary["step"] == 3 and np.isfinite(summary["metrics"]["loss"])
    assert summary["checkpoint"]
