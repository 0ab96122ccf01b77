"""Peak memory of one training step: ours vs deepinv-style (full pass with autograd) and official-style.

Each variant first takes one step (which allocates Adam's state), then the peak of tensor memory above
what was live before the second step is measured by :func:`benchmarks.common.peak_tensor_bytes`:
``torch.cuda.max_memory_allocated`` on CUDA, the profiler's allocator events on CPU. Both count tensors
only (activations kept for backward, gradients, temporaries), which is what the loss design changes;
weights and optimizer state are the same for every variant and are excluded.
"""

from __future__ import annotations

import gc

import torch

from n2n_raw.device import Runtime
from n2n_raw.loss import Neighbor2NeighborLoss
from n2n_raw.steps import make_optimizer, training_step
from n2n_raw.train_config import TrainConfig

from .common import fresh_model, noisy_batch, peak_tensor_bytes, row
from .references import deepinv_step, official_step


def _peak(step) -> int:
    step()  # Adam state, allocator warm-up
    gc.collect()
    return peak_tensor_bytes(step)


def run(device: torch.device, quick: bool = False) -> dict:
    noisy = noisy_batch(4, 64 if quick else 256, device)
    default = TrainConfig()
    runtime = Runtime.resolve(device, default.amp, default.channels_last)
    cl = runtime.channels_last
    peaks = {}

    model = fresh_model(device, cl)
    opt, gen = make_optimizer(model, default, device), torch.Generator(device=device).manual_seed(0)
    x = noisy.contiguous(memory_format=torch.channels_last) if cl else noisy
    peaks["ours (default)"] = _peak(
        lambda m=model, o=opt: training_step(m, Neighbor2NeighborLoss(), o, x, gen, 1.0, runtime)
    )
    del model, opt
    for name, step in (("deepinv-style", deepinv_step), ("official-style", official_step)):
        model = fresh_model(device)
        opt, gen = torch.optim.Adam(model.parameters(), lr=1e-4), torch.Generator(device=device).manual_seed(0)
        peaks[name] = _peak(lambda s=step, m=model, o=opt, g=gen: s(m, o, noisy, g))
        del model, opt
    mib = {k: v / 2**20 for k, v in peaks.items()}
    ours = mib["ours (default)"]
    return {
        "peak_mib": mib,
        "rows": [
            row("peak step memory vs deepinv-style (ratio = theirs/ours)", f"{ours:.0f} MiB", f"{mib['deepinv-style']:.0f} MiB",
                mib["deepinv-style"] / ours, 1 / 0.7, "target: ours ≤ 0.7× deepinv-style"),
            row("peak step memory vs official-style", f"{ours:.0f} MiB", f"{mib['official-style']:.0f} MiB",
                mib["official-style"] / ours, None, "same loss design; differences are the sampler's temporaries"),
        ],
    }  # fmt: skip
