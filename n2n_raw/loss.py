"""The Neighbor2Neighbor loss (Huang et al., CVPR 2021, eq. 6).

    L = ‖f(g1(y)) − g2(y)‖² + γ · ‖f(g1(y)) − g2(y) − (g1(f(y)) − g2(f(y)))‖²

Both terms are means over all elements (MSE). The full-image pass f(y) runs under ``torch.no_grad()``
(the author's "empirical training technique … to stabilize the training", official issue #3) and is
sub-sampled with the *same* pairs as y. Only f(g1(y)) carries gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from .sampler import NeighborPairs, draw_neighbor_pairs, subsample


class LossTerms(NamedTuple):
    total: torch.Tensor
    reconstruction: torch.Tensor
    regularizer: torch.Tensor
    # reconstruction + γ · regulariser of the plain means: ``total`` itself unless crops or planes are weighted.
    # The divergence guard watches it, since a weighted total follows the darkest crops of each batch and
    # swings with the batch's brightness by far more than its 20× threshold.
    unweighted: torch.Tensor


class Neighbor2NeighborLoss(torch.nn.Module):
    """Reconstruction + γ · regulariser, with the full-image pass under ``no_grad``.

    ``forward(model, noisy, pairs=None, generator=None, gamma=1.0)`` draws pairs if none are given and
    returns :class:`LossTerms` (total, reconstruction, regulariser), all fp32 scalars. γ comes with every
    call (it follows a schedule, :class:`n2n_raw.schedules.GammaSchedule`); with γ = 0 the regulariser is
    still computed, for the log.
    """

    def __init__(self, balance_crops: bool = False, balance_planes: bool = False) -> None:
        super().__init__()
        if balance_crops and balance_planes:
            raise ValueError("balance_crops and balance_planes exclude each other")
        self.balance_crops = balance_crops
        self.balance_planes = balance_planes

    def forward(
        self,
        model: Callable[[torch.Tensor], torch.Tensor],
        noisy: torch.Tensor,
        pairs: NeighborPairs | None = None,
        generator: torch.Generator | None = None,
        gamma: float = 1.0,
    ) -> LossTerms:
        if pairs is None:
            pairs = draw_neighbor_pairs(noisy.shape, generator=generator, device=noisy.device)
        g1_y, g2_y = subsample(noisy, pairs)
        # The full pass comes first, as in the official step: its large transient activations are then
        # freed before the gradient pass stores its own (the other order holds both at once, ~1.5× the
        # peak memory of a step).
        with torch.no_grad():
            e1, e2 = subsample(model(noisy), pairs)
            exp_diff = e1.float() - e2.float()
        # The only pass with gradient. Outputs go to fp32 so that the loss is exact under autocast.
        diff = model(g1_y).float() - g2_y.float()
        if not (self.balance_crops or self.balance_planes):
            reconstruction = diff.square().mean()
            regularizer = (diff - exp_diff).square().mean()
            total = reconstruction + float(gamma) * regularizer
            return LossTerms(total, reconstruction, regularizer, total)
        # Not in the official code (--balance-crops): each crop's terms weighted by 1 / its own detached
        # reconstruction loss, normalised to mean 1. That is the gradient of the batch's mean log-loss: a crop
        # whose noise (and signal) is 10× smaller counts as much as a bright one, as every block counts alike in
        # SIDD's mean PSNR. Plain MSE lets bright crops dominate, which leaves the network's errors at small
        # absolute levels (dark photos) untrained. The logged terms stay the unweighted means.
        # --balance-planes does the same per (crop, channel): under a strongly coloured light one CFA plane
        # holds a tenth of the signal of another in the same crop, and a crop-wide weight still lets the bright
        # planes dominate the weak one's gradient; per plane, each plane's error counts by its relative size,
        # which is what a per-plane mean shift measures.
        start = 2 if self.balance_planes else 1
        per_unit = diff.square().flatten(start).mean(dim=-1)
        per_unit_reg = (diff - exp_diff).square().flatten(start).mean(dim=-1)
        weight = 1.0 / per_unit.detach().clamp_min(torch.finfo(torch.float32).tiny)
        weight = weight / weight.mean()
        total = (weight * (per_unit + float(gamma) * per_unit_reg)).mean()
        reconstruction, regularizer = per_unit.mean(), per_unit_reg.mean()
        return LossTerms(total, reconstruction, regularizer, reconstruction + float(gamma) * regularizer)
