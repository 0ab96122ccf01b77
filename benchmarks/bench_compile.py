"""Is ``torch.compile`` worth it here? Eager against compiled, same weights and data, in one process.

``python -m benchmarks.bench_compile`` times (alternating, medians) the U-Net's inference on 8 blocks of
256² Bayer pixels (packed 4×128×128) in fp32 and, where native, bf16 autocast, and one training step (batch 4,
the product step, :func:`n2n_raw.steps.training_step`) in the default precision, and prints each speed-up
beside the compile time it costs. Not part of ``make bench``: compiling takes minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import time

import torch

from n2n_raw.device import Runtime
from n2n_raw.loss import Neighbor2NeighborLoss
from n2n_raw.steps import make_optimizer, training_step
from n2n_raw.train_config import TrainConfig

from .common import fresh_model, has_native_bf16, machine, noisy_batch, time_alternating
from .run_all import machine_line


def _compiled(fn, warm) -> tuple[object, float]:
    start = time.perf_counter()
    warm(fn)
    return fn, time.perf_counter() - start


def inference(device: torch.device, bf16: bool, repeats: int) -> dict:
    model = fresh_model(device, channels_last=True).eval()
    x = noisy_batch(8, 256, device).contiguous(memory_format=torch.channels_last)

    def call(f):
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            return f(x)

    compiled, compile_s = _compiled(torch.compile(model), call)
    error = float((call(model) - call(compiled)).abs().max())
    t = time_alternating({"eager": lambda: call(model), "compiled": lambda: call(compiled)}, repeats, 1, device)
    return {"compile_s": compile_s, "max_abs_difference": error, **{k: v.median for k, v in t.items()}}


def step(device: torch.device, repeats: int) -> dict:
    runtime = Runtime.resolve(device, "auto", "auto")
    x = runtime.layout(noisy_batch(4, 256, device))

    def make(compile_model: bool):
        model = runtime.prepare(fresh_model(device))
        net = torch.compile(model) if compile_model else model
        optimizer = make_optimizer(model, TrainConfig(), device)
        generator = torch.Generator(device=device).manual_seed(0)
        criterion = Neighbor2NeighborLoss()
        return lambda: training_step(net, criterion, optimizer, x, generator, 1.0, runtime)

    eager = make(False)
    compiled, compile_s = _compiled(make(True), lambda f: (f(), f()))  # two steps: both shapes of the step
    t = time_alternating({"eager": eager, "compiled": compiled}, repeats, 1, device)
    return {"compile_s": compile_s, "bf16": runtime.bf16, **{k: v.median for k, v in t.items()}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"Machine: {machine_line(machine())}")
    runs = {"inference fp32": inference(device, False, args.repeats)}
    if has_native_bf16(device):
        runs["inference bf16"] = inference(device, True, args.repeats)
    runs["training step (default precision)"] = step(device, args.repeats)
    for name, r in runs.items():
        print(f"{name}: eager {r['eager'] * 1e3:.0f} ms, compiled {r['compiled'] * 1e3:.0f} ms, "
              f"{r['eager'] / r['compiled']:.2f}x, compile time {r['compile_s']:.0f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
