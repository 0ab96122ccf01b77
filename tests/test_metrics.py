"""Raw metrics: PSNR equals an independent numpy computation and hand-worked golden values; SSIM equals
scikit-image's Gaussian SSIM on the ×255 mosaic; grouping for the per-phone/ISO breakdown."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity

from n2n_raw.metrics import block_metrics, mean_by_group, psnr, ssim


def test_psnr_golden_value():
    clean = np.zeros((4, 4))
    denoised = np.full((4, 4), 0.1)  # MSE 0.01 → exactly 20 dB at peak 1
    assert psnr(denoised, clean) == pytest.approx(20.0, abs=1e-12)


def test_psnr_equals_numpy_and_clamps_the_estimate():
    rng = np.random.default_rng(0)
    clean = rng.random((32, 32)).astype(np.float32)
    denoised = (clean + rng.normal(0, 0.2, clean.shape)).astype(np.float32)  # goes outside [0, 1]
    clamped = np.clip(denoised.astype(np.float64), 0, 1)
    expected = 10 * np.log10(1.0 / np.mean((clamped - clean.astype(np.float64)) ** 2))
    assert psnr(denoised, clean) == pytest.approx(expected, rel=1e-12)
    # Without the clamp the value would be lower: the clamp is really applied.
    assert psnr(denoised, clean) > 10 * np.log10(1.0 / np.mean((denoised.astype(np.float64) - clean) ** 2))


def test_psnr_identical_is_infinite_and_shape_mismatch_raises():
    x = np.full((4, 4), 0.5)
    assert math.isinf(psnr(x, x))
    with pytest.raises(ValueError, match="shapes differ"):
        psnr(x, np.zeros((4, 6)))


def test_ssim_equals_scikit_image_gaussian_on_x255():
    rng = np.random.default_rng(1)
    clean = rng.random((64, 64))
    denoised = np.clip(clean + rng.normal(0, 0.05, clean.shape), 0, 1)
    expected = structural_similarity(
        denoised * 255, clean * 255, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert ssim(denoised, clean) == pytest.approx(expected, rel=1e-12)
    # Same value as SSIM on [0, 1] with data_range 1 (the constants scale with L²).
    unit = structural_similarity(
        denoised, clean, data_range=1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
    )
    assert ssim(denoised, clean) == pytest.approx(unit, rel=1e-9)
    assert ssim(clean, clean) == pytest.approx(1.0)


def test_block_metrics_is_per_block_then_mean_not_pooled():
    clean = np.zeros((2, 8, 8))
    denoised = np.stack([np.full((8, 8), 0.1), np.full((8, 8), 0.01)])  # 20 dB and 40 dB
    m = block_metrics(denoised, clean, with_ssim=False)
    np.testing.assert_allclose(m["psnr"], [20.0, 40.0])
    assert m["psnr"].mean() == pytest.approx(30.0)  # pooled MSE would give 10·log10(1/0.00505) ≈ 22.97


def test_mean_by_group_sorts_isos_numerically():
    out = mean_by_group([1.0, 3.0, 5.0, 7.0], [1600, 400, 1600, 10000])
    assert list(out) == ["400", "1600", "10000"]
    assert out["1600"] == {"mean": 3.0, "blocks": 2}
    with pytest.raises(ValueError, match="3 group labels"):
        mean_by_group([1.0, 2.0], ["a", "b", "c"])
