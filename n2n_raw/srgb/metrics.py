"""PSNR and SSIM on uint8 RGB images, as the official sRGB validation (docs/method.md §6).

* PSNR: peak 255 over the whole image, no border crop, computed per image.
* SSIM: Gaussian window 11×11 with σ 1.5, C1 = (0.01·255)², C2 = (0.03·255)², population (not sample)
  covariances, per RGB channel, "valid" region only (the 5-pixel border dropped), then averaged over
  channels. This is scikit-image's ``structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=255)``: its Gaussian filter has radius int(3.5·1.5 + 0.5) = 5,
  i.e. the same 11 taps as ``cv2.getGaussianKernel(11, 1.5)``, and it averages the SSIM map after cropping
  (win_size − 1)/2 = 5 pixels. ``tests/test_srgb_protocol.py`` checks it against a direct re-implementation
  of the official ``filter2D`` version.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError


def _check(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected (H, W, 3) images, got {a.shape}")


def psnr_uint8(reference: np.ndarray, estimate: np.ndarray) -> float:
    """PSNR in dB of two uint8 (H, W, 3) images, peak 255 (inf when identical)."""
    _check(reference, estimate)
    mse = np.mean(np.square(reference.astype(np.float64) - estimate.astype(np.float64)))
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def ssim_uint8(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Mean over RGB channels of the Gaussian-window SSIM (valid region) of two uint8 (H, W, 3) images."""
    from skimage.metrics import structural_similarity  # heavy; imported when first used

    _check(reference, estimate)
    if min(reference.shape[:2]) < 11:
        raise InputError(
            f"an image of {reference.shape[1]}×{reference.shape[0]} pixels: SSIM needs sides of at least 11 pixels"
        )
    return float(
        structural_similarity(
            reference.astype(np.float64), estimate.astype(np.float64), channel_axis=2, data_range=255.0,
            gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
        )
    )  # fmt: skip


def quantize(image: np.ndarray) -> np.ndarray:
    """[0, 1] float → uint8 as the official code: clamp to [0, 1], ×255, +0.5, clip, truncate (= round)."""
    return np.clip(np.clip(image, 0.0, 1.0) * 255.0 + 0.5, 0, 255).astype(np.uint8)
