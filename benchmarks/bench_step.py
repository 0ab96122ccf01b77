"""One full training step (batch 4, 256×256 Bayer crops packed to 4×128×128): ours vs official-style.

Variants, each with its own copy of the same initial weights, optimiser and generator, on the same batch:

* ``official``: the paper code's step (mask sampler, fp32, NCHW, ``torch.optim.Adam``);
* ``ours (default)``: :func:`n2n_raw.steps.training_step` as ``TrainConfig()`` resolves it on this device;
* the other fp32 memory layout, and ``ours bf16 channels_last``. On a CPU without native bf16 instructions
  the bf16 step is emulated and very slow, so it is timed once (after a warm-up step).

The profiler's table of one of our steps (where the time goes) is kept in the JSON and the README.

Each time is also given as a fraction of the FLOP-bound limit *of the precision it runs in*
(:mod:`benchmarks.bench_flops`): fp32 steps against the fastest fp32 convolution layout, bf16 steps against the
bf16 convolution, so that a bf16 step is never flattered by the slower fp32 limit.
"""

from __future__ import annotations

import torch

from n2n_raw.device import Runtime
from n2n_raw.loss import Neighbor2NeighborLoss
from n2n_raw.steps import make_optimizer, training_step
from n2n_raw.train_config import TrainConfig

from .common import fmt_seconds, fresh_model, has_native_bf16, noisy_batch, row, time_alternating
from .references import official_step


def _ours(device: torch.device, noisy: torch.Tensor, channels_last: bool, amp: bool):
    model = fresh_model(device, channels_last)
    optimizer = make_optimizer(model, TrainConfig(), device)
    criterion = Neighbor2NeighborLoss()
    generator = torch.Generator(device=device).manual_seed(0)
    x = noisy.contiguous(memory_format=torch.channels_last) if channels_last else noisy
    runtime = Runtime(device, amp, channels_last)
    return lambda: training_step(model, criterion, optimizer, x, generator, 1.0, runtime)


def _official(device: torch.device, noisy: torch.Tensor):
    model = fresh_model(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    generator = torch.Generator(device=device).manual_seed(0)
    return lambda: official_step(model, optimizer, noisy, generator)


def profile_step(device: torch.device, noisy: torch.Tensor, channels_last: bool, amp: bool, rows: int = 10) -> str:
    """The profiler's table of the ops where one of our steps spends its time (after a warm-up step)."""
    from torch.profiler import ProfilerActivity, profile

    step = _ours(device, noisy, channels_last, amp)
    step()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        step()
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=sort, row_limit=rows)


def flop_limits(step_flops: int, conv_gflops: dict[str, float]) -> dict[str, float]:
    """Seconds per step if every FLOP ran at the dominant convolution's rate, per precision (``fp32``, ``bf16``)."""
    limits = {}
    for precision in ("fp32", "bf16"):
        rates = [v for k, v in conv_gflops.items() if k.endswith(precision) and v > 0]
        if step_flops and rates:
            limits[precision] = step_flops / (max(rates) * 1e9)
    return limits


def run(device: torch.device, quick: bool = False, step_flops: int = 0, conv_gflops: dict | None = None) -> dict:
    crop = 64 if quick else 256
    noisy = noisy_batch(4, crop, device)
    default = TrainConfig()
    resolved = Runtime.resolve(device, default.amp, default.channels_last)
    cl, amp = resolved.channels_last, resolved.bf16
    variants = {"official": _official(device, noisy), "ours (default)": _ours(device, noisy, cl, amp)}
    # The other fp32 layout, to show what the layout alone is worth here.
    other = "ours fp32 NCHW" if cl and not amp else "ours fp32 channels_last"
    variants[other] = _ours(device, noisy, other.endswith("channels_last"), False)
    repeats = 2 if quick else 7
    timings = time_alternating(variants, repeats=repeats, warmup=1, device=device)
    slow = not has_native_bf16(device)
    if not amp and not (quick and slow):
        bf16 = {"ours bf16 channels_last": _ours(device, noisy, True, True)}
        timings.update(time_alternating(bf16, repeats=1 if slow else repeats, warmup=1, device=device))
    t_ref = timings["official"].median
    limits = flop_limits(step_flops, conv_gflops or {})
    rows = []
    for name, t in timings.items():
        if name == "official":
            continue
        is_bf16 = "bf16" in name or (name == "ours (default)" and amp)
        note = f"channels_last={cl}, bf16={amp}; " if name == "ours (default)" else ""
        limit = limits.get("bf16" if is_bf16 else "fp32", 0.0)
        if limit:
            precision = "bf16" if is_bf16 else "fp32"
            note += f"{limit / t.median:.0%} of the {precision} FLOP limit"
            if "fp32" in limits:
                note += f" (official fp32: {limits['fp32'] / t_ref:.0%} of the fp32 limit)"
        if name == "ours bf16 channels_last" and slow:
            note += "; no native bf16 on this device: emulated, timed once"
        rows.append(row(f"training step, {name}", fmt_seconds(t.median), fmt_seconds(t_ref), t_ref / t.median,
                        2.5 if is_bf16 else 1.4, note))  # fmt: skip
    return {
        "defaults": {"channels_last": cl, "amp": amp},
        "crop_raw": crop,
        "flop_limit_s": limits,
        "timings": {k: v.samples for k, v in timings.items()},
        "step_seconds": timings["ours (default)"].median,
        "profile": profile_step(device, noisy, cl, amp),
        "rows": rows,
    }
