"""Bayer packing, CFA unification and pattern-keeping augmentation (n2n_raw.bayer)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from n2n_raw.bayer import (
    PATTERNS,
    bayer_aug,
    flipped_pattern,
    pack_bayer,
    pattern_from_tile,
    pattern_shift,
    uncrop_unified,
    unify_cfa,
    unpack_bayer,
)  # fmt: skip


def colour_mosaic(pattern: str, h: int = 8, w: int = 10) -> np.ndarray:
    """A mosaic whose every pixel holds its colour code (R=0, G=1, B=2) for ``pattern``."""
    codes = {"R": 0, "G": 1, "B": 2}
    tile = np.array([[codes[pattern[0]], codes[pattern[1]]], [codes[pattern[2]], codes[pattern[3]]]])
    return np.tile(tile, (h // 2, w // 2)).astype(np.float32)


def test_pack_golden_4x4():
    x = np.arange(16, dtype=np.float32).reshape(4, 4)
    # Worked by hand: plane (0,0) holds rows 0,2 / cols 0,2; (0,1) rows 0,2 / cols 1,3; etc.
    expected = np.array([
        [[0, 2], [8, 10]],
        [[1, 3], [9, 11]],
        [[4, 6], [12, 14]],
        [[5, 7], [13, 15]],
    ], dtype=np.float32)  # fmt: skip
    np.testing.assert_array_equal(pack_bayer(x), expected)
    np.testing.assert_array_equal(pack_bayer(torch.from_numpy(x)).numpy(), expected)


@pytest.mark.parametrize("shape", [(6, 8), (3, 4, 6), (2, 2, 4, 10)])
def test_pack_unpack_round_trip_numpy_and_torch(shape):
    x = np.random.default_rng(0).random(shape).astype(np.float32)
    np.testing.assert_array_equal(unpack_bayer(pack_bayer(x)), x)
    t = torch.from_numpy(x)
    assert torch.equal(unpack_bayer(pack_bayer(t)), t)
    np.testing.assert_array_equal(pack_bayer(t).numpy(), pack_bayer(x))


def test_pack_matches_pixel_unshuffle():
    x = torch.rand(2, 1, 8, 12)
    assert torch.equal(pack_bayer(x[:, 0]), torch.nn.functional.pixel_unshuffle(x, 2))


@pytest.mark.parametrize("shape", [(5, 4), (4, 7)])
def test_odd_sizes_are_refused_with_the_shape(shape):
    with pytest.raises(ValueError, match=str(shape[0])):
        pack_bayer(np.zeros(shape))


def test_unknown_pattern_is_refused_by_name():
    with pytest.raises(ValueError, match="RGBG"):
        unify_cfa(np.zeros((4, 4)), "RGBG")


def test_pattern_from_dng_tile():
    assert pattern_from_tile([1, 0, 2, 1]) == "GRBG"  # the Galaxy S6 sample's tag 33422
    assert pattern_from_tile([[2, 1], [1, 0]]) == "BGGR"
    with pytest.raises(ValueError):
        pattern_from_tile([0, 1, 3, 2])


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("mode", ["crop", "pad"])
def test_unify_gives_rggb_colours(pattern, mode):
    out = unify_cfa(colour_mosaic(pattern), pattern, "RGGB", mode=mode)
    np.testing.assert_array_equal(out, colour_mosaic("RGGB", *out.shape))


@pytest.mark.parametrize("pattern", PATTERNS)
def test_unify_pad_round_trip(pattern):
    x = np.random.default_rng(1).random((2, 8, 12)).astype(np.float32)
    padded = unify_cfa(x, pattern, "RGGB", mode="pad")
    dy, dx = pattern_shift(pattern, "RGGB")
    assert padded.shape == (2, 8 + 2 * dy, 12 + 2 * dx)
    np.testing.assert_array_equal(uncrop_unified(padded, pattern, "RGGB"), x)
    t = torch.from_numpy(x)
    assert torch.equal(uncrop_unified(unify_cfa(t, pattern, "RGGB", mode="pad"), pattern, "RGGB"), t)


def test_unify_crop_drops_one_pixel_at_both_ends():
    x = np.arange(64, dtype=np.float32).reshape(8, 8)
    out = unify_cfa(x, "GBRG", "RGGB", mode="crop")  # GBRG → RGGB needs a shift of one row
    np.testing.assert_array_equal(out, x[1:7, :])


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("flips", [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, 1, 1)])
def test_bayer_aug_keeps_the_pattern_and_mirrors(pattern, flips):
    flip_v, flip_h, transpose = map(bool, flips)
    out = bayer_aug(colour_mosaic(pattern, 8, 12), pattern, flip_v, flip_h, transpose)
    np.testing.assert_array_equal(out, colour_mosaic(pattern, *out.shape))
    # It is a true mirror: pixel values come from the flipped image, cropped symmetrically.
    x = np.arange(96, dtype=np.float32).reshape(8, 12)
    y = x[::-1] if flip_v else x
    y = y[:, ::-1] if flip_h else y
    y = y.T if transpose else y
    dy, dx = pattern_shift(flipped_pattern(pattern, flip_v, flip_h, transpose), pattern)
    np.testing.assert_array_equal(
        bayer_aug(x, pattern, flip_v, flip_h, transpose), y[dy : y.shape[0] - dy, dx : y.shape[1] - dx]
    )


def test_flipped_pattern_names():
    assert flipped_pattern("RGGB", flip_h=True) == "GRBG"
    assert flipped_pattern("RGGB", flip_v=True) == "GBRG"
    assert flipped_pattern("GRBG", transpose=True) == "GBRG"  # S6 seen through h5py
    assert flipped_pattern("BGGR", transpose=True) == "BGGR"
