"""One optimisation step and what watches it: Adam, the step itself, the divergence stop, the weight average.

Shared by the training loop (:mod:`n2n_raw.train`) and the quality study (``benchmarks/quality_methods.py``).
"""

from __future__ import annotations

import copy
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from .device import Runtime
from .errors import N2NError
from .loss import LossTerms, Neighbor2NeighborLoss
from .train_config import TrainConfig


class TrainingDiverged(N2NError):
    """The loss is not finite or jumped by orders of magnitude; the run stopped before saving it."""


def make_optimizer(model: torch.nn.Module, config: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    """Adam; on CUDA the fused kernel (one launch for all parameters, no temporaries), on CPU torch's default.

    Same update rule as the official ``torch.optim.Adam(lr)``; only the implementation differs. (On CPU the
    multi-tensor ``foreach`` variant allocates temporaries of the size of all parameters at once.)
    """
    fast = {"fused": True} if device.type == "cuda" else {}
    return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, **fast)


def optimisation_step(
    loss_fn: Callable[[], Any],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    runtime: Runtime,
    clip_grad_norm: float = 0.0,
) -> Any:
    """Evaluate ``loss_fn()`` under the runtime's autocast, back-propagate, optionally clip, step.

    ``loss_fn`` returns a scalar tensor or :class:`LossTerms` (whose ``total`` is minimised); the value is
    returned as it came. Nothing here waits for the device: the values are read (``.item()``) only when a log
    line is written. ``clip_grad_norm`` > 0 clips the global gradient norm first (not in the official code:
    it bounds the update of a step whose gradient spikes at a high CPU-preset learning rate).
    """
    with runtime.autocast():
        value = loss_fn()
    optimizer.zero_grad(set_to_none=True)
    (value.total if isinstance(value, LossTerms) else value).backward()
    if clip_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad_norm)
    optimizer.step()
    return value


def training_step(
    model: torch.nn.Module,
    criterion: Neighbor2NeighborLoss,
    optimizer: torch.optim.Optimizer,
    noisy: torch.Tensor,
    generator: torch.Generator,
    gamma: float,
    runtime: Runtime,
    clip_grad_norm: float = 0.0,
) -> LossTerms:
    """One Neighbor2Neighbor step on a batch ``noisy`` (N, C, H, W) already on the device."""
    return optimisation_step(lambda: criterion(model, noisy, generator=generator, gamma=gamma), model, optimizer,
                             runtime, clip_grad_norm)  # fmt: skip


@dataclass
class DivergenceGuard:
    """Stops a run whose loss is not finite, or exceeds ``factor`` × the median of its recent logged values.

    Checked on the values the loop reads anyway (log lines, and the last loss before a checkpoint), so it adds
    no host-device synchronisation. Measured on the raw CPU preset in fp32 (benchmarks/README.md): healthy
    runs never had a step loss above 7.1× the median of the 20 before it; the diverging one reached 16× at its
    first spike and thousands within 30 steps. 20× therefore stops a divergence before the next checkpoint
    and leaves healthy runs about 3× headroom.
    """

    factor: float = 20.0
    window: int = 10
    warm: int = 5
    recent: list[float] = field(default_factory=list)

    def check(self, step: int, loss: float) -> None:
        if loss != loss or loss in (float("inf"), float("-inf")):
            raise TrainingDiverged(
                f"the loss is {loss} at step {step}: training diverged (lower --lr, or add --warmup-steps / --clip-grad-norm)"
            )
        if len(self.recent) >= self.warm:
            median = statistics.median(self.recent)
            if loss > self.factor * median:
                raise TrainingDiverged(
                    f"the loss jumped to {loss:.4g} at step {step}, {loss / median:.0f}× its recent median {median:.4g}: "
                    "training diverged (lower --lr, or add --warmup-steps / --clip-grad-norm)"
                )
        self.recent = (self.recent + [loss])[-self.window :]


class WeightAverage:
    """An exponential moving average of a model's weights (a second model), updated after every step.

    The decay ramps up as min(decay, (1 + t) / (10 + t)) at step t, so a short run's average is not dominated by
    its random start. Not in the official code; ``--ema-decay 0`` (the default) turns it off. Updates are
    device-side (``torch._foreach_lerp_``): no host synchronisation.
    """

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        decay = min(self.decay, (1 + step) / (10 + step))
        torch._foreach_lerp_(list(self.model.parameters()), [p.detach() for p in model.parameters()], 1.0 - decay)
