"""The random neighbour sub-sampler of Neighbor2Neighbor (Huang et al., CVPR 2021, section 3.2).

Each image is cut into non-overlapping 2×2 cells. Positions in a cell are numbered in
``unfold(kernel=2, stride=2)`` order::

    0 1
    2 3

For every cell of every image one of the 8 ordered pairs of 4-adjacent positions is drawn uniformly;
``g1`` takes the first position of the pair, ``g2`` the second, and the same positions serve every channel.
No diagonal pairs exist: g2 is always a horizontal or vertical neighbour of g1.

Unlike the official code, which fills boolean masks with a Python loop over channels and selects with
``masked_select``, :func:`subsample` gathers from a packed view: one ``gather`` for all channels.
The outputs are bit-identical given the same draws (``tests/reference_official.py`` checks it).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

# Ordered (g1 position, g2 position) pairs, in the order of the official train.py index table.
NEIGHBOR_PAIRS = ((0, 1), (0, 2), (1, 3), (2, 3), (1, 0), (2, 0), (3, 1), (3, 2))
_PAIR_TABLE = torch.tensor(NEIGHBOR_PAIRS, dtype=torch.int64)


class NeighborPairs(NamedTuple):
    """Per-cell positions for g1 and g2, each ``(N, H/2, W/2)`` int64 in 0..3."""

    g1: torch.Tensor
    g2: torch.Tensor


_TABLES: dict[torch.device, torch.Tensor] = {}


def _pair_table(device: torch.device) -> torch.Tensor:
    """The pair table on ``device``, copied there once (a per-step host→GPU copy would wait for the GPU)."""
    if device not in _TABLES:
        _TABLES[device] = _PAIR_TABLE.to(device)
    return _TABLES[device]


def pairs_from_choices(choices: torch.Tensor, validate: bool = True) -> NeighborPairs:
    """Turn per-cell choices k in 0..7, shape (N, H/2, W/2), into g1/g2 positions.

    ``validate=False`` skips the range check, which reads the tensor back to the host (a GPU
    synchronisation): the training loop's own draws are in range by construction.
    """
    if choices.dtype != torch.int64:
        choices = choices.long()
    if validate and choices.numel() and (choices.min() < 0 or choices.max() > 7):
        raise ValueError("neighbour-pair choices must lie in 0..7")
    table = _pair_table(choices.device)
    return NeighborPairs(table[choices, 0], table[choices, 1])


def draw_neighbor_pairs(
    shape: tuple[int, ...] | torch.Size,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> NeighborPairs:
    """Draw one ordered neighbour pair for every 2×2 cell of every image of a batch of ``shape``.

    ``shape`` is the (N, C, H, W) shape of the batch to sub-sample (H and W even). Draws come from
    ``generator`` (on its own device) and are moved to ``device``; the result does not depend on C.
    """
    if len(shape) != 4:
        raise ValueError(f"expected a batch shape (N, C, H, W), got {tuple(shape)}")
    n, _, h, w = shape
    if h % 2 or w % 2:
        raise ValueError(f"the sub-sampler needs even height and width, got {tuple(shape)}")
    draw_device = generator.device if generator is not None else (device or "cpu")
    choices = torch.randint(0, 8, (n, h // 2, w // 2), generator=generator, device=draw_device)
    if device is not None and torch.device(device) != choices.device:
        choices = choices.to(device, non_blocking=True)
    return pairs_from_choices(choices, validate=False)  # randint(0, 8) is in range


def _cells(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) → (N, C, 4, H/2, W/2): the 4 positions of each cell, in unfold order."""
    n, c, h, w = x.shape
    return torch.nn.functional.pixel_unshuffle(x, 2).view(n, c, 4, h // 2, w // 2)


def subsample(x: torch.Tensor, pairs: NeighborPairs) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``g1(x), g2(x)``, each (N, C, H/2, W/2), for the per-cell positions ``pairs``."""
    if x.ndim != 4:
        raise ValueError(f"subsample expects (N, C, H, W), got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    if h % 2 or w % 2:
        raise ValueError(f"the sub-sampler needs even height and width, got shape {tuple(x.shape)}")
    if tuple(pairs.g1.shape) != (n, h // 2, w // 2):
        raise ValueError(f"pairs of shape {tuple(pairs.g1.shape)} do not fit a batch of shape {tuple(x.shape)}")
    cells = _cells(x)
    index = torch.stack((pairs.g1, pairs.g2), dim=1).to(x.device)  # (N, 2, h, w)
    index = index.unsqueeze(1).expand(n, c, 2, h // 2, w // 2)
    both = torch.gather(cells, 2, index)
    return both[:, :, 0], both[:, :, 1]


def fixed_pairs(shape: tuple[int, ...] | torch.Size, choice: int = 0, device=None) -> NeighborPairs:
    """The same pair ``choice`` (0..7) in every cell: the paper's fixed-position sampler ablation."""
    n, _, h, w = shape
    choices = torch.full((n, h // 2, w // 2), int(choice), dtype=torch.int64, device=device)
    return pairs_from_choices(choices)
