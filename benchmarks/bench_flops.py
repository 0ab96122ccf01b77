"""The FLOP-bound limit: FLOPs of one training step over the convolution throughput of this machine.

FLOPs are counted with ``torch.utils.flop_counter.FlopCounterMode`` (multiply-add = 2 FLOPs; convolutions
and their gradients, which are all but ~1% of the U-Net's work). Throughput is measured on the network's
dominant layer shape, a 3×3 convolution 96 → 96 channels over (4, 96, 128, 128), forward, in the memory
formats and precisions the training step can use. ``step_flops / throughput`` is then the shortest time a
step could take if every FLOP ran at that rate; each measured step is reported as a fraction of it.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from n2n_raw.device import Runtime
from n2n_raw.loss import Neighbor2NeighborLoss
from n2n_raw.steps import training_step

from .common import fresh_model, has_native_bf16, noisy_batch, time_alternating
from .references import eager_network


def step_flops(batch: int, crop_raw: int, device: torch.device | str = "cpu") -> int:
    """FLOPs of one fp32 training step (forward of the full image, forward + backward of g1(y))."""
    model = fresh_model(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    noisy = noisy_batch(batch, crop_raw, device)
    generator = torch.Generator(device=device).manual_seed(0)
    # The step's no-grad full-image pass runs fused convolutions (n2n_raw.model.conv_leaky_relu), an op the
    # counter does not know: count the same arithmetic as plain modules.
    with eager_network(), FlopCounterMode(display=False) as counter:
        training_step(model, Neighbor2NeighborLoss(), optimizer, noisy, generator, 1.0, Runtime(torch.device(device)))
    return int(counter.get_total_flops())


def conv_throughput(device: torch.device | str, quick: bool = False, repeats: int = 5) -> dict[str, float]:
    """GFLOP/s of the dominant convolution, per variant (``nchw_fp32``, ``channels_last_fp32``, ``…_bf16``)."""
    side = 64 if quick else 128
    conv = torch.nn.Conv2d(96, 96, 3, padding=1).to(device)
    x = torch.randn(4, 96, side, side, device=device)
    flops = 2 * 96 * 96 * 9 * 4 * side * side
    conv_cl = torch.nn.Conv2d(96, 96, 3, padding=1).to(device).to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)

    @torch.no_grad()
    def run(module, inp, bf16=False):
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=bf16):
            return module(inp)

    variants = {"nchw_fp32": lambda: run(conv, x), "channels_last_fp32": lambda: run(conv_cl, x_cl)}
    if has_native_bf16(device):
        variants["channels_last_bf16"] = lambda: run(conv_cl, x_cl, bf16=True)
    timings = time_alternating(variants, repeats=2 if quick else repeats, device=device)
    return {name: flops / t.median / 1e9 for name, t in timings.items()}
