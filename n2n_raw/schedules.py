"""Schedules of training: γ of the loss and the learning rate, as pure functions of the position in a run.

Both are frozen dataclasses whose ``__call__`` is a pure function, so a resumed run recomputes exactly the
values an uninterrupted one used, and tests can tabulate them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

GammaKind = Literal["constant", "ramp"]
LrKind = Literal["step", "cosine"]


@dataclass(frozen=True)
class GammaSchedule:
    """γ as a function of the 1-based epoch.

    ``constant``: the paper's fixed γ (2 for synthetic sRGB, 1 for raw).
    ``ramp``: the official train.py, Λ = epoch / n_epoch · increase_ratio, constant within an epoch
    (0.02, 0.04, …, 2.0 over 100 epochs with increase_ratio 2).

    >>> GammaSchedule("ramp", increase_ratio=2.0, n_epoch=100)(1)
    0.02
    """

    kind: GammaKind = "constant"
    gamma: float = 1.0
    increase_ratio: float = 2.0
    n_epoch: int = 100

    def __post_init__(self):
        if self.kind not in ("constant", "ramp"):
            raise ValueError(f"gamma schedule must be 'constant' or 'ramp', got {self.kind!r}")

    def __call__(self, epoch: int) -> float:
        if self.kind == "constant":
            return float(self.gamma)
        return float(epoch) / float(self.n_epoch) * float(self.increase_ratio)


def official_milestones(milestones: tuple[int, ...], epochs: int) -> tuple[int, ...]:
    """Milestones written for a 100-epoch run, scaled to ``epochs`` by the official rule.

    The official train.py builds ``MultiStepLR(milestones=[int(20·r) − 1, int(40·r) − 1, …])`` with
    r = n_epoch / 100, i.e. a 100-epoch milestone m becomes ``int((m + 1) · r) − 1``: 19/39/59/79 at 100
    epochs, 9/19/29/39 at 50. (Our earlier ``m · epochs/100`` scaling gave 11/21/31/41 at 50 epochs.)

    >>> official_milestones((19, 39, 59, 79), 50)
    (9, 19, 29, 39)
    """
    ratio = epochs / 100.0
    return tuple(int((m + 1) * ratio) - 1 for m in milestones)


@dataclass(frozen=True)
class LrSchedule:
    """The learning rate of a step, from its 1-based ``epoch`` and 0-based global ``step``.

    ``step`` (the official schedule): ``lr`` × ``decay`` for each milestone passed. MultiStepLR is stepped
    once after every epoch, so with milestone m (:func:`official_milestones`) epochs 1…m run at the
    higher rate and epoch m + 1 is the first at the lower one; at 100 epochs 3e-4 for epochs 1–19, 1.5e-4
    for 20–39, …
    ``cosine``: ``lr`` · ½ (1 + cos(π · t)) over the steps after the warm-up, t from 0 to 1 at
    ``total_steps`` (per step, not per epoch).
    Both start with a linear warm-up from lr / warmup_steps to lr over the first ``warmup_steps`` steps
    (0: none, the official code). The warm-up is not in the official code: it keeps a high CPU-preset
    learning rate from blowing up the first Adam steps, whose update size does not depend on the gradient's.

    >>> s = LrSchedule(3e-4, epochs=100)
    >>> [s(epoch=e, step=0) for e in (19, 20, 40)]
    [0.0003, 0.00015, 7.5e-05]
    """

    lr: float
    epochs: int = 100
    kind: LrKind = "step"
    milestones: tuple[int, ...] = (19, 39, 59, 79)
    decay: float = 0.5
    warmup_steps: int = 0
    total_steps: int = 0

    def __post_init__(self):
        if self.kind not in ("step", "cosine"):
            raise ValueError(f"lr schedule must be 'step' or 'cosine', got {self.kind!r}")

    def __call__(self, epoch: int, step: int) -> float:
        if self.kind == "cosine":
            span = max(1, self.total_steps - self.warmup_steps)
            t = min(1.0, max(0.0, (step - self.warmup_steps) / span))
            lr = self.lr * 0.5 * (1.0 + math.cos(math.pi * t))
        else:
            # A milestone the rule maps below 1 (runs under 5 epochs for 19/39/59/79) never takes effect, as
            # MultiStepLR never reaches epoch −1; we also skip 0, where MultiStepLR would decay before training.
            passed = sum(1 for m in official_milestones(self.milestones, self.epochs) if 1 <= m <= epoch - 1)
            lr = self.lr * self.decay**passed
        if step < self.warmup_steps:
            lr *= (step + 1) / self.warmup_steps
        return float(lr)
