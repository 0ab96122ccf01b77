"""A straightforward re-statement of the official Neighbor2Neighbor algorithm (train.py, 2021).

Kept deliberately close to the paper's code — boolean masks over unfolded 2×2 cells, filled from the
8-pair index table, a Python loop over channels, masked selection — so that n2n_raw's vectorised
sampler and loss can be checked against it bit for bit, and benchmarked against it. It differs from the
official file only where that file cannot run today: draws come from an explicit generator (or are given),
not from a fresh CUDA generator per call, and no legacy ``torch.cuda.FloatTensor`` constructor is used.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

OFFICIAL_PAIR_TABLE = [[0, 1], [0, 2], [1, 3], [2, 3], [1, 0], [2, 0], [3, 1], [3, 2]]


def official_choices(shape, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
    """One draw in 0..7 per cell, image by image, cells row-major: (N·H/2·W/2,) as the official code."""
    n, _, h, w = shape
    return torch.randint(0, 8, (n * h // 2 * w // 2,), generator=generator, device=device)


def generate_mask_pair(shape, choices: torch.Tensor, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    n, _, h, w = shape
    cells = n * h // 2 * w // 2
    mask1 = torch.zeros(cells * 4, dtype=torch.bool, device=device)
    mask2 = torch.zeros(cells * 4, dtype=torch.bool, device=device)
    idx_pair = torch.tensor(OFFICIAL_PAIR_TABLE, dtype=torch.int64, device=device)
    rd_pair_idx = idx_pair[choices.reshape(-1).to(device)]
    rd_pair_idx = rd_pair_idx + torch.arange(0, cells * 4, 4, dtype=torch.int64, device=device).reshape(-1, 1)
    mask1[rd_pair_idx[:, 0]] = True
    mask2[rd_pair_idx[:, 1]] = True
    return mask1, mask2


def space_to_depth(x: torch.Tensor, block_size: int) -> torch.Tensor:
    n, c, h, w = x.shape
    unfolded = F.unfold(x, block_size, stride=block_size)
    return unfolded.view(n, c * block_size**2, h // block_size, w // block_size)


def generate_subimages(img: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    n, c, h, w = img.shape
    sub = torch.zeros(n, c, h // 2, w // 2, dtype=img.dtype, device=img.device)
    for i in range(c):  # the official loop over channels, one mask for all
        per_channel = space_to_depth(img[:, i : i + 1], block_size=2)
        per_channel = per_channel.permute(0, 2, 3, 1).reshape(-1)
        sub[:, i : i + 1] = per_channel[mask].reshape(n, h // 2, w // 2, 1).permute(0, 3, 1, 2)
    return sub


def official_loss(
    network, noisy: torch.Tensor, mask1, mask2, lambda_: float, lambda1: float = 1.0, lambda2: float = 1.0
):
    """The official step's loss: full pass under no_grad, one gradient pass on g1(y)."""
    noisy_sub1 = generate_subimages(noisy, mask1)
    noisy_sub2 = generate_subimages(noisy, mask2)
    with torch.no_grad():
        noisy_denoised = network(noisy)
    sub1_denoised = generate_subimages(noisy_denoised, mask1)
    sub2_denoised = generate_subimages(noisy_denoised, mask2)
    diff = network(noisy_sub1) - noisy_sub2
    exp_diff = sub1_denoised - sub2_denoised
    loss1 = torch.mean(diff**2)
    loss2 = lambda_ * torch.mean((diff - exp_diff) ** 2)
    return lambda1 * loss1 + lambda2 * loss2, loss1, loss2
