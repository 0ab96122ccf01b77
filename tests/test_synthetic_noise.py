"""Synthetic SIDD noise for clean training crops: what happens below black, and the per-crop draws.

A camera raw with its black level subtracted keeps values below 0 (n2n_raw.rawphoto does not clip them), so
its noise is zero-mean in the shadows; SIDD's files are clipped at 0, which lifts a dark pixel's mean by
E[max(n, 0)] = σ/√(2π) for n ~ N(0, σ²). The training noise must be able to be either."""

from __future__ import annotations

import math

import numpy as np
import pytest

from n2n_raw.data import SyntheticNoiseCrops
from n2n_raw.errors import N2NError
from n2n_raw.train_config import TrainConfig
from n2n_raw.unprocess import add_sidd_noise

READ_ONLY = {"r": (1e-9, 1e-4), "g": (1e-9, 1e-4), "b": (1e-9, 1e-4)}  # σ = 0.01, no shot noise


def test_values_below_black_are_kept_zero_mean_or_clipped_with_the_half_normal_bias():
    clean = np.zeros((600, 600), np.float32)
    kept = add_sidd_noise(clean, "RGGB", READ_ONLY, np.random.default_rng(0), clip_black=False)
    clipped = add_sidd_noise(clean, "RGGB", READ_ONLY, np.random.default_rng(0))
    sigma = 0.01
    assert kept.min() < -3 * sigma and clipped.min() == 0.0
    assert abs(kept.mean()) < 4 * sigma / 600  # zero-mean: 4 standard errors
    # Hand-worked: the clipped mean of N(0, σ²) is σ/√(2π) = 0.003989 (quantisation to 1/1023 moves it < 2 %).
    assert clipped.mean() == pytest.approx(sigma / math.sqrt(2 * math.pi), rel=0.02)
    np.testing.assert_array_equal(np.maximum(kept, 0), clipped)  # same draws: clipping is the only difference
    white = add_sidd_noise(np.ones((64, 64), np.float32), "RGGB", READ_ONLY, np.random.default_rng(0), clip_black=False)
    assert white.max() == 1.0  # the sensor still saturates


def _crops(below_black: str, colour_augment: bool = False) -> SyntheticNoiseCrops:
    rng = np.random.default_rng(1)
    mosaics = rng.uniform(0.0, 0.02, size=(3, 64, 64)).astype(np.float32)  # dark scenes
    return SyntheticNoiseCrops(mosaics, [READ_ONLY] * 3, crop=32, seed=5, colour_augment=colour_augment,
                               below_black=below_black)  # fmt: skip


def test_keep_clip_and_mix_per_crop():
    minima = {}
    for mode in ("keep", "clip", "mix"):
        crops = _crops(mode)
        minima[mode] = [float(crops[(epoch, i)]["noisy"].min()) for epoch in range(4) for i in range(3)]
    assert all(m < 0 for m in minima["keep"]) and all(m == 0 for m in minima["clip"])
    assert any(m < 0 for m in minima["mix"]) and any(m == 0 for m in minima["mix"])
    for mode in ("keep", "mix"):  # a pure function of (seed, epoch, index)
        np.testing.assert_array_equal(_crops(mode, True)[(2, 1)]["noisy"], _crops(mode, True)[(2, 1)]["noisy"])
    with pytest.raises(ValueError, match="below_black"):
        _crops("zero")


def test_the_flag_needs_synthetic_noise():
    with pytest.raises(N2NError, match="noise-below-black"):
        TrainConfig(noise_below_black="keep")
    with pytest.raises(N2NError, match="noise-below-black|noise_below_black"):
        TrainConfig(synthetic_noise="sidd", noise_below_black="sometimes")
    assert TrainConfig(synthetic_noise="sidd", noise_below_black="mix").noise_below_black == "mix"
    with pytest.raises(N2NError, match="colour-range"):
        TrainConfig(synthetic_noise="sidd", colour_range="wide")  # without --colour-augment it would do nothing
    with pytest.raises(ValueError, match="colour_range"):
        SyntheticNoiseCrops(np.zeros((1, 64, 64), np.float32), [READ_ONLY], crop=32, colour_range="broad")


def test_colour_ranges_narrow_and_wide():
    """R/G and exposure of augmented flat crops (no noise to speak of) stay inside each range's bounds."""
    quiet = {c: (1e-12, 1e-12) for c in "rgb"}
    flat = np.full((2, 64, 64), 0.2, np.float32)
    stats = {}
    for colour_range in ("narrow", "wide"):
        crops = SyntheticNoiseCrops(flat, [quiet] * 2, crop=32, seed=3, colour_augment=True, colour_range=colour_range)
        rows = []
        for epoch in range(60):
            planes = crops[(epoch, 0)]["noisy"].double().mean(dim=(1, 2)).numpy()  # RGGB packed: R, G, G, B
            if planes.max() < 0.99 and planes[1] > 0.005:  # unclipped, above the 10-bit steps
                rows.append((float(np.log2(planes[0] / planes[1])), float(planes[1] / 0.2)))
        stats[colour_range] = np.array(rows)
    narrow, wide = stats["narrow"], stats["wide"]
    assert narrow[:, 0].min() >= -1.5 - 0.05 and narrow[:, 0].max() <= 1.0 + 0.05
    assert narrow[:, 1].min() >= 2**-2 * 0.95
    assert wide[:, 0].min() >= -3.0 - 0.05 and wide[:, 0].max() <= 2.0 + 0.05
    assert ((wide[:, 0] < -1.6) | (wide[:, 0] > 1.1)).any()  # beyond the narrow range
    assert (wide[:, 1] < 2**-2 * 0.9).any()  # very dark crops


def test_noise_range_wide_scales_half_the_crops_noise_down_to_a_64th_of_its_variance():
    """Flat crops under read noise σ = 0.01: ``sidd`` keeps σ on every item; ``wide`` keeps it on about half and
    scales the variance by 2^U(−6, 0) on the others, so σ falls as far as 0.01/8 (plus the 10-bit steps)."""
    flat = np.full((2, 64, 64), 0.2, np.float32)
    sigmas = {}
    for noise_range in ("sidd", "wide"):
        crops = SyntheticNoiseCrops(flat, [READ_ONLY] * 2, crop=32, seed=3, noise_range=noise_range)
        sigmas[noise_range] = np.array([float(crops[(epoch, 0)]["noisy"].double().std()) for epoch in range(80)])
    assert np.all(np.abs(sigmas["sidd"] / 0.01 - 1) < 0.08)  # 1024 values per item: σ's standard error is 2.2 %
    wide = sigmas["wide"]
    quantised = math.sqrt((0.01 / 8) ** 2 + 1 / (12 * 1023**2))  # the quietest item: σ/8 and the rounding to 1/1023
    assert wide.max() < 0.01 * 1.08 and wide.min() > quantised * 0.9
    kept = np.mean(wide > 0.01 * 0.92)
    assert 0.3 < kept < 0.75  # half at SIDD's level (plus the few scales near 2^0)
    assert np.any(wide < 0.01 / 4)  # and some well below it
    with pytest.raises(N2NError, match="noise-range"):
        TrainConfig(noise_range="wide")  # without --synthetic-noise there is no noise to scale
    with pytest.raises(ValueError, match="noise_range"):
        SyntheticNoiseCrops(flat, [READ_ONLY] * 2, crop=32, noise_range="base")
