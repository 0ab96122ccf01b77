"""The random neighbour sub-sampler (n2n_raw.sampler) against its definition and the official algorithm."""

from __future__ import annotations

import pytest
import torch

from n2n_raw.sampler import NEIGHBOR_PAIRS, draw_neighbor_pairs, fixed_pairs, pairs_from_choices, subsample
from tests.reference_official import generate_mask_pair, generate_subimages, official_choices


def coordinate_image(n: int, c: int, h: int, w: int) -> torch.Tensor:
    """Pixel value encodes (image, channel, row, col) exactly in float64."""
    nn_, cc, yy, xx = torch.meshgrid(torch.arange(n), torch.arange(c), torch.arange(h), torch.arange(w), indexing="ij")
    return (nn_ * 10**9 + cc * 10**6 + yy * 1000 + xx).double()


def decode(v: torch.Tensor):
    v = v.long()
    return v // 10**9, (v // 10**6) % 1000, (v // 1000) % 1000, v % 1000


def test_pairs_are_four_adjacent_in_one_cell_same_for_all_channels():
    n, c, h, w = 3, 4, 16, 20
    x = coordinate_image(n, c, h, w)
    g = torch.Generator().manual_seed(0)
    g1, g2 = subsample(x, draw_neighbor_pairs(x.shape, generator=g))
    assert g1.shape == g2.shape == (n, c, h // 2, w // 2)
    i1, c1, y1, x1 = decode(g1)
    i2, c2, y2, x2 = decode(g2)
    ii, cc, yy, xx = torch.meshgrid(
        torch.arange(n), torch.arange(c), torch.arange(h // 2), torch.arange(w // 2), indexing="ij"
    )
    assert torch.equal(i1, ii) and torch.equal(i2, ii) and torch.equal(c1, cc) and torch.equal(c2, cc)
    # Both in cell (i, j) of the output position.
    assert (
        torch.equal(y1 // 2, yy) and torch.equal(x1 // 2, xx) and torch.equal(y2 // 2, yy) and torch.equal(x2 // 2, xx)
    )
    # 4-adjacent: never equal, never diagonal.
    manhattan = (y1 - y2).abs() + (x1 - x2).abs()
    assert torch.all(manhattan == 1)
    # Same positions in every channel.
    assert torch.equal(y1, y1[:, :1].expand_as(y1)) and torch.equal(x2, x2[:, :1].expand_as(x2))


def test_all_eight_ordered_pairs_are_uniform():
    g = torch.Generator().manual_seed(1)
    pairs = draw_neighbor_pairs((4, 1, 256, 256), generator=g)
    codes = pairs.g1 * 4 + pairs.g2
    counts = {(a, b): int((codes == a * 4 + b).sum()) for a, b in NEIGHBOR_PAIRS}
    total = codes.numel()
    assert sum(counts.values()) == total  # nothing outside the 8 pairs (no diagonals, no equal pairs)
    for pair, count in counts.items():
        assert abs(count / total - 1 / 8) < 0.01, (pair, count / total)


def test_same_seed_same_draws_and_different_seed_different_draws():
    a = draw_neighbor_pairs((2, 3, 32, 32), generator=torch.Generator().manual_seed(7))
    b = draw_neighbor_pairs((2, 3, 32, 32), generator=torch.Generator().manual_seed(7))
    c = draw_neighbor_pairs((2, 3, 32, 32), generator=torch.Generator().manual_seed(8))
    assert torch.equal(a.g1, b.g1) and torch.equal(a.g2, b.g2)
    assert not torch.equal(a.g1, c.g1)


@pytest.mark.parametrize("channels", [3, 4])
def test_bit_equal_to_the_official_mask_algorithm(channels):
    """Given the same per-cell draws, subsample equals the official boolean-mask selection exactly."""
    shape = (3, channels, 24, 40)
    x = torch.randn(shape)
    choices = official_choices(shape, generator=torch.Generator().manual_seed(3))
    mask1, mask2 = generate_mask_pair(shape, choices)
    n, _, h, w = shape
    ours = subsample(x, pairs_from_choices(choices.view(n, h // 2, w // 2)))
    assert torch.equal(ours[0], generate_subimages(x, mask1))
    assert torch.equal(ours[1], generate_subimages(x, mask2))


def test_fixed_pairs_take_one_position_everywhere():
    x = coordinate_image(1, 1, 4, 4)
    g1, g2 = subsample(x, fixed_pairs(x.shape, choice=0))  # pair (0, 1): top-left → top-right
    _, _, y1, x1 = decode(g1)
    _, _, y2, x2 = decode(g2)
    assert torch.equal(y1 % 2, torch.zeros_like(y1)) and torch.equal(x1 % 2, torch.zeros_like(x1))
    assert torch.equal(y2, y1) and torch.equal(x2, x1 + 1)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="even"):
        draw_neighbor_pairs((1, 1, 5, 4))
    pairs = draw_neighbor_pairs((1, 1, 4, 4))
    with pytest.raises(ValueError, match="do not fit"):
        subsample(torch.zeros(1, 1, 8, 8), pairs)
    with pytest.raises(ValueError, match="0..7"):
        pairs_from_choices(torch.tensor([[[8]]]))


def test_draws_on_the_requested_device(device):
    g = torch.Generator(device=device).manual_seed(0)
    pairs = draw_neighbor_pairs((1, 4, 8, 8), generator=g, device=device)
    assert pairs.g1.device.type == device.type
    g1, _ = subsample(torch.rand(1, 4, 8, 8, device=device), pairs)
    assert g1.device.type == device.type
