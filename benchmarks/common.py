"""Shared measurement helpers: alternating timing, peak tensor memory, machine description, results.

Timing: the variants of one comparison run in turns (A, B, C, A, B, C, …) after a warm-up round, so a
burst of load from other processes on a shared machine hits all of them alike; each is summarised by its
median. Ratios are the only figures worth comparing across runs.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Timing:
    """Per-call seconds of one variant, in the order measured."""

    name: str
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def spread(self) -> float:
        """(max − min) / median: how noisy the repeats were."""
        return (max(self.samples) - min(self.samples)) / self.median if self.samples else 0.0


def synchronize(device: torch.device | str) -> None:
    """Wait for queued GPU work so that wall time covers it (a no-op on CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_alternating(
    variants: dict[str, Callable[[], object]], repeats: int, warmup: int = 1, device: torch.device | str = "cpu"
) -> dict[str, Timing]:
    """Median-ready timings of ``variants`` (name → zero-argument callable), run in turns."""
    timings = {name: Timing(name) for name in variants}
    for _ in range(warmup):
        for fn in variants.values():
            fn()
    synchronize(device)
    for _ in range(repeats):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            synchronize(device)
            timings[name].samples.append(time.perf_counter() - start)
    return timings


def peak_tensor_bytes(fn: Callable[[], object], device: torch.device | str = "cpu") -> int:
    """Peak bytes of tensors allocated by ``fn`` above what was live when it started.

    On CUDA this is ``torch.cuda.max_memory_allocated`` relative to the start. On CPU PyTorch keeps no such
    counter, so the profiler's allocator events (every tensor allocation and free through PyTorch's CPU
    allocator, in time order) are summed and their running maximum taken: the same quantity as on CUDA.
    Memory that libraries allocate outside PyTorch's allocator (oneDNN scratch space) is not counted.
    """
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - base
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events() if e.name() == "[memory]")
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak


def machine() -> dict[str, object]:
    """CPU model, cores, threads, torch version and GPU (if any): printed beside every table."""
    cpu = platform.processor() or platform.machine()
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu in ("", platform.machine()):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    vector = (
        "AMX + AVX-512 BF16"
        if "amx_bf16" in flags
        else "AVX-512 BF16"
        if "avx512_bf16" in flags
        else "AVX-512"
        if "avx512f" in flags
        else ("AVX2" if "avx2" in flags else "other")
    )
    info: dict[str, object] = {
        "cpu": cpu, "vector_isa": vector, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__, "python": platform.python_version(),
    }  # fmt: skip
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    try:
        info["load_average_1min"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    return info


def write_result(name: str, payload: dict, directory: Path = RESULTS_DIR) -> Path:
    """``results/<name>.json`` with the machine description added."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2))
    return path


def fmt_seconds(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def has_native_bf16(device: torch.device | str) -> bool:
    """CUDA GPUs, and CPUs with AVX-512 BF16 or AMX: where bf16 convolutions run in hardware (fast); elsewhere
    they are emulated (slow). The same set as :func:`n2n_raw.device.native_bf16`, where ``--amp auto`` uses bf16."""
    from n2n_raw.device import native_bf16

    return native_bf16(torch.device(device))


def fresh_model(device: torch.device | str, channels_last: bool = False, seed: int = 0) -> torch.nn.Module:
    """The packed-raw U-Net with the same initial weights for every variant."""
    from n2n_raw.model import UNet, UNetConfig

    torch.manual_seed(seed)
    model = UNet(UNetConfig()).to(device)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def noisy_batch(batch: int, crop_raw: int, device: torch.device | str, seed: int = 0) -> torch.Tensor:
    """(batch, 4, crop_raw/2, crop_raw/2) packed crops: a smooth ramp plus noise, like a dark raw scene."""
    g = torch.Generator().manual_seed(seed)
    side = crop_raw // 2
    ramp = torch.linspace(0.05, 0.3, side).expand(side, side)
    clean = ramp.expand(batch, 4, side, side)
    return (clean + 0.01 * torch.randn(batch, 4, side, side, generator=g)).to(device)


def row(benchmark: str, ours: str, reference: str, ratio: float, target: float | None, note: str = "") -> dict:
    """One line of the summary table; ``ratio`` is "better by" (>1 means ours wins)."""
    met = None if target is None else ratio >= target
    return {"benchmark": benchmark, "ours": ours, "reference": reference, "ratio": round(ratio, 3),
            "target": target, "met": met, "note": note}  # fmt: skip
