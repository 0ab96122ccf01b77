"""One full training step (batch 4, 256×256 Bayer crops packed to 4×128×128): ours vs official-style.

Variants, each with its own copy of the same initial weights, optimiser and generator, on the same batch:

* ``official``: the paper code's step (mask sampler, fp32, NCHW, ``torch.optim.Adam``);
* ``ours (default)``: :func:`n2n_raw.train.training_step` as ``TrainConfig()`` resolves it on this device;
* ``ours fp32 channels_last`` and ``ours bf16 channels_last``: the other switches. On a CPU without native
  bf16 instructions the bf16 step is emulated and very slow, so it is timed twice only.

Each time is also given as a fraction of the FLOP-bound limit (:mod:`benchmarks.bench_flops`).
"""
from __future__ import annotations

import torch

from n2n_raw.loss import Neighbor2NeighborLoss
from n2n_raw.train import TrainConfig, make_optimizer, resolve_flag, training_step

from .common import fmt_seconds, fresh_model, has_native_bf16, noisy_batch, row, time_alternating
from .references import official_step


def _ours(device: torch.device, noisy: torch.Tensor, channels_last: bool, amp: bool):
    model = fresh_model(device, channels_last)
    optimizer = make_optimizer(model, TrainConfig().resolved(), device)
    criterion = Neighbor2NeighborLoss()
    generator = torch.Generator(device=device).manual_seed(0)
    x = noisy.contiguous(memory_format=torch.channels_last) if channels_last else noisy
    return lambda: training_step(model, criterion, optimizer, x, generator, 1.0, amp)


def _official(device: torch.device, noisy: torch.Tensor):
    model = fresh_model(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    generator = torch.Generator(device=device).manual_seed(0)
    return lambda: official_step(model, optimizer, noisy, generator)


def run(device: torch.device, quick: bool = False, step_flops: int = 0, conv_gflops: float = 0.0) -> dict:
    crop = 64 if quick else 256
    noisy = noisy_batch(4, crop, device)
    default = TrainConfig()
    cl, amp = resolve_flag(default.channels_last, device), resolve_flag(default.amp, device)
    variants = {"official": _official(device, noisy), "ours (default)": _ours(device, noisy, cl, amp)}
    if not cl or amp:
        variants["ours fp32 channels_last"] = _ours(device, noisy, True, False)
    repeats = 2 if quick else 7
    timings = time_alternating(variants, repeats=repeats, warmup=1, device=device)
    bf16_label = "ours bf16 channels_last"
    slow = not has_native_bf16(device)
    if not amp and not (quick and slow):
        bf16 = {bf16_label: _ours(device, noisy, True, True)}
        timings.update(time_alternating(bf16, repeats=1 if slow else repeats, warmup=1, device=device))
    t_ref = timings["official"].median
    limit = step_flops / (conv_gflops * 1e9) if step_flops and conv_gflops else 0.0
    rows = []
    for name, t in timings.items():
        if name == "official":
            continue
        is_bf16 = "bf16" in name or (name == "ours (default)" and amp)
        target = 2.5 if is_bf16 else 1.4
        frac = f"; {limit / t.median:.0%} of FLOP limit" if limit else ""
        rows.append(row(f"training step, {name}", fmt_seconds(t.median), fmt_seconds(t_ref), t_ref / t.median,
                        target, f"official at {limit / t_ref:.0%} of FLOP limit{frac}" if limit else ""))  # fmt: skip
    return {
        "defaults": {"channels_last": cl, "amp": amp},
        "crop_raw": crop, "flop_limit_s": limit,
        "timings": {k: v.samples for k, v in timings.items()},
        "step_seconds": timings["ours (default)"].median,
        "rows": rows,
    }
