"""The Neighbor2Neighbor loss and its γ schedules (Huang et al., CVPR 2021, eq. 6).

    L = ‖f(g1(y)) − g2(y)‖² + γ · ‖f(g1(y)) − g2(y) − (g1(f(y)) − g2(f(y)))‖²

Both terms are means over all elements (MSE). The full-image pass f(y) runs under ``torch.no_grad()``
(the author's "empirical training technique … to stabilize the training", official issue #3) and is
sub-sampled with the *same* pairs as y. Only f(g1(y)) carries gradients.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import torch

from .sampler import NeighborPairs, draw_neighbor_pairs, subsample


class LossTerms(NamedTuple):
    total: torch.Tensor
    reconstruction: torch.Tensor
    regularizer: torch.Tensor


@dataclass(frozen=True)
class GammaSchedule:
    """γ as a function of the 1-based epoch.

    ``constant``: the paper's fixed γ (2 for synthetic sRGB, 1 for raw).
    ``ramp``: the official train.py, Λ = epoch / n_epoch · increase_ratio, constant within an epoch
    (0.02, 0.04, …, 2.0 over 100 epochs with increase_ratio 2).
    """

    kind: str = "constant"
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


class Neighbor2NeighborLoss(torch.nn.Module):
    """Reconstruction + γ · regulariser, with the full-image pass under ``no_grad``.

    ``forward(model, noisy, pairs=None, generator=None, gamma=None)`` draws pairs if none are given and
    returns :class:`LossTerms` (total, reconstruction, regulariser), all fp32 scalars. With ``gamma=0``
    the regulariser is still computed (for logging) but the full-image pass is skipped only if
    ``skip_regularizer_when_zero`` is set.
    """

    def __init__(self, gamma: float = 1.0, skip_regularizer_when_zero: bool = False):
        super().__init__()
        self.gamma = float(gamma)
        self.skip_regularizer_when_zero = skip_regularizer_when_zero

    def forward(
        self,
        model: Callable[[torch.Tensor], torch.Tensor],
        noisy: torch.Tensor,
        pairs: NeighborPairs | None = None,
        generator: torch.Generator | None = None,
        gamma: float | None = None,
    ) -> LossTerms:
        gamma = self.gamma if gamma is None else float(gamma)
        if pairs is None:
            pairs = draw_neighbor_pairs(noisy.shape, generator=generator, device=noisy.device)
        g1_y, g2_y = subsample(noisy, pairs)
        skip_full_pass = gamma == 0.0 and self.skip_regularizer_when_zero
        if not skip_full_pass:
            # The full pass comes first, as in the official step: its large transient activations are then
            # freed before the gradient pass stores its own (the other order holds both at once, ~1.5× the
            # peak memory of a step).
            with torch.no_grad():
                e1, e2 = subsample(model(noisy), pairs)
                exp_diff = e1.float() - e2.float()
        # The only pass with gradient. Outputs go to fp32 so that the loss is exact under autocast.
        diff = model(g1_y).float() - g2_y.float()
        reconstruction = diff.square().mean()
        if skip_full_pass:
            regularizer = torch.zeros((), device=noisy.device)
        else:
            regularizer = (diff - exp_diff).square().mean()
        total = reconstruction + gamma * regularizer
        return LossTerms(total, reconstruction, regularizer)
