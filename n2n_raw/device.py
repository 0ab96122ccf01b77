"""Device and precision policy, one for training and inference.

:class:`Runtime` is where a network runs and in which arithmetic: the device, bf16 autocast on or off, and
the channels_last memory layout. Every command resolves its ``--device``, ``--amp`` and
``--channels-last`` flags here, so ``auto`` means the same thing everywhere:

* ``--device auto``: CUDA if available, else the CPU.
* ``--amp auto``: bf16 autocast where bf16 is native (CUDA GPUs that support it; CPUs with AMX or AVX-512
  BF16, :func:`native_bf16`), fp32 elsewhere. ``bf16`` forces
  it, ``off`` is fp32. Training and inference both default to ``auto``. Under autocast the network's output
  layer and the loss stay fp32, and at inference so does the convolution that reads the network input
  (:class:`n2n_raw.model.UNet`, :class:`n2n_raw.loss.Neighbor2NeighborLoss`): with it, bf16 inference costs at
  most 0.003 dB per phone on the demo blocks (benchmarks/README.md).
* ``--channels-last auto``: on, on CUDA and on the CPU (oneDNN's channels_last convolutions measured faster
  than NCHW on both; benchmarks/README.md).
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Literal

import torch

from .errors import N2NError

AmpFlag = Literal["auto", "bf16", "off"]
LayoutFlag = Literal["auto", "on", "off"]

log = logging.getLogger(__name__)


def pick_device(flag: str = "auto") -> torch.device:
    """``auto`` → cuda if available else cpu; otherwise the named device, checked to exist."""
    if flag in ("", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(flag)
    except RuntimeError:
        raise N2NError(f"--device {flag}: not a device name (auto, cpu, cuda, cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise N2NError(f"--device {flag}: CUDA is not available on this machine")
    if device.type not in ("cpu", "cuda"):
        raise N2NError(f"--device {flag}: only cpu and cuda are supported")
    return device


def cpu_flags() -> set[str]:
    """The CPU feature flags of ``/proc/cpuinfo`` (empty where there is none: not Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def native_bf16(device: torch.device | str) -> bool:
    """Whether ``--amp auto`` uses bf16 on ``device``: CUDA GPUs that support bf16, and CPUs with AMX or AVX-512
    BF16, for training and inference alike.

    CPUs with AVX-512 BF16 but no AMX (AMD EPYC) run bf16 convolutions natively, about 2× faster than fp32. They
    trained in fp32 by default for a while, because an earlier sRGB preset (the official network without an
    identity path) ended at +0.28 and −2.01 dB over its noisy input there in bf16 against +4.16 dB in fp32. On
    such a CPU since (benchmarks/STABILITY.md, "AMD EPYC with AVX-512 BF16"): one bf16 step is within bf16's
    rounding of a float64 one in every layer, bf16 and fp32 runs of that old preset follow the same path for 600
    steps (neither learns the colours by then), and both presets as they are now train as well in bf16 as in fp32
    on every seed tried. On CPUs without either, bf16 is emulated and several times *slower*.
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return device.type == "cpu" and bool(cpu_flags() & {"amx_bf16", "avx512_bf16"})


def use_bf16(amp: AmpFlag, device: torch.device) -> bool:
    """``--amp``: ``bf16`` → on, ``off`` → off, ``auto`` → on where bf16 is native."""
    if amp not in ("auto", "bf16", "off"):
        raise N2NError(f"--amp {amp!r}: choose auto, bf16 or off")
    return amp == "bf16" or (amp == "auto" and native_bf16(device))


def use_channels_last(value: LayoutFlag, device: torch.device) -> bool:
    """``--channels-last``: ``on`` → on, ``off`` → off, ``auto`` → on for CUDA and CPU."""
    if value not in ("auto", "on", "off"):
        raise N2NError(f"--channels-last {value!r}: choose auto, on or off")
    return value == "on" or (value == "auto" and device.type in ("cuda", "cpu"))


@dataclass(frozen=True)
class Runtime:
    """Where and how a network runs: resolved device, bf16 autocast, memory layout."""

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    bf16: bool = False
    channels_last: bool = False

    @classmethod
    def resolve(
        cls,
        device: str | torch.device = "auto",
        amp: AmpFlag = "auto",
        channels_last: LayoutFlag = "auto",
    ) -> Runtime:
        """The runtime the three command-line flags ask for on this machine, for training or for inference."""
        dev = device if isinstance(device, torch.device) else pick_device(device)
        if amp == "bf16" and dev.type == "cpu" and not native_bf16(dev):
            log.warning("--amp bf16: this CPU has no native bf16 (no AMX, no AVX-512 BF16); it is emulated and "
                        "several times slower than --amp off")  # fmt: skip
        return cls(dev, use_bf16(amp, dev), use_channels_last(channels_last, dev))

    def autocast(self) -> AbstractContextManager:
        """bf16 autocast on this device when ``bf16`` is on, else a no-op."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if self.bf16 else nullcontext()

    def layout(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` in this runtime's memory layout (4-D tensors only)."""
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last and x.dim() == 4 else x

    def prepare(self, model: torch.nn.Module) -> torch.nn.Module:
        """``model`` on this device, in this layout."""
        model = model.to(self.device)
        return model.to(memory_format=torch.channels_last) if self.channels_last else model

    def describe(self) -> str:
        return f"{self.device}, {'bf16 autocast' if self.bf16 else 'fp32'}{', channels_last' if self.channels_last else ''}"
