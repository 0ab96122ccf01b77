"""Raw-RGB quality metrics on the SIDD validation/benchmark protocol (docs/method.md §7.5, docs/sidd.md §9).

Convention, per 256×256 Bayer block (the *mosaic*, not the packed planes):

* The estimate is clamped to [0, 1]; the clean reference is used as read (SIDD's is already in [0, 1]).
* **PSNR** on float values, peak 1: ``10·log10(1 / MSE)`` with the MSE in float64; no uint8 quantisation
  (quantising first costs several dB, Neighbor2Neighbor issue #8). The reported figure is the **mean of
  the per-block PSNRs** over all blocks, not the PSNR of the pooled MSE.
* **SSIM** is scikit-image's ``structural_similarity`` with an 11×11 Gaussian window (σ = 1.5, truncated at
  3.5σ), population covariances (``use_sample_covariance=False``), K1 = 0.01, K2 = 0.03, on the mosaic
  scaled ×255 with ``data_range=255`` (Blind2Unblind's protocol; SSIM of x·255 with L = 255 equals SSIM of x
  with L = 1, so this is also the MATLAB ``ssim_index`` convention with L = 1). The mean SSIM map of each
  block, then the mean over blocks.

Example:
    >>> import numpy as np
    >>> clean = np.full((8, 8), 0.5)
    >>> round(psnr(clean + 0.01, clean), 6)
    40.0
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

SSIM_SIGMA = 1.5  # Gaussian window σ; skimage truncates at 3.5σ, i.e. an 11×11 window
SSIM_SCALE = 255.0  # B2U evaluates SSIM on the mosaic ×255 with data_range 255


def psnr(denoised: np.ndarray, clean: np.ndarray, peak: float = 1.0) -> float:
    """Float PSNR in dB of one block; ``denoised`` is clamped to [0, 1] first. ``inf`` if identical."""
    x = np.clip(np.asarray(denoised, dtype=np.float64), 0.0, 1.0)
    y = np.asarray(clean, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"psnr: shapes differ, {x.shape} vs {y.shape}")
    mse = float(np.mean((x - y) ** 2))
    return math.inf if mse == 0.0 else 10.0 * math.log10(peak * peak / mse)


def ssim(denoised: np.ndarray, clean: np.ndarray) -> float:
    """Gaussian SSIM of one 2-D mosaic block (convention in the module docstring)."""
    from skimage.metrics import structural_similarity

    x = np.clip(np.asarray(denoised, dtype=np.float64), 0.0, 1.0) * SSIM_SCALE
    y = np.asarray(clean, dtype=np.float64) * SSIM_SCALE
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(f"ssim: needs two 2-D mosaics of one shape, got {x.shape} and {y.shape}")
    return float(
        structural_similarity(
            x, y, data_range=SSIM_SCALE, gaussian_weights=True, sigma=SSIM_SIGMA, use_sample_covariance=False
        )
    )


def block_metrics(denoised: np.ndarray, clean: np.ndarray, with_ssim: bool = True) -> dict[str, np.ndarray]:
    """Per-block PSNR (and SSIM) of ``(K, H, W)`` stacks: ``{"psnr": (K,), "ssim": (K,)}``."""
    if denoised.shape != clean.shape or denoised.ndim != 3:
        raise ValueError(
            f"block_metrics: needs two (K, H, W) stacks of one shape, got {denoised.shape} and {clean.shape}"
        )
    out = {"psnr": np.array([psnr(d, c) for d, c in zip(denoised, clean)], dtype=np.float64)}
    if with_ssim:
        out["ssim"] = np.array([ssim(d, c) for d, c in zip(denoised, clean)], dtype=np.float64)
    return out


def mean_by_group(values: Sequence[float] | np.ndarray, groups: Iterable[object]) -> dict[str, dict[str, float]]:
    """``{group: {"mean": …, "blocks": n}}`` for per-phone / per-ISO breakdowns, groups in sorted order."""
    values = np.asarray(values, dtype=np.float64)
    groups = [str(g) for g in groups]
    if len(groups) != len(values):
        raise ValueError(f"mean_by_group: {len(values)} values but {len(groups)} group labels")
    out: dict[str, dict[str, float]] = {}
    for name in sorted(set(groups), key=_natural_key):
        sel = np.array([g == name for g in groups])
        out[name] = {"mean": float(values[sel].mean()), "blocks": int(sel.sum())}
    return out


def _natural_key(name: str) -> tuple:
    # ISO labels sort numerically ("400" before "1600"); phone names alphabetically.
    return (0, int(name), "") if name.isdigit() else (1, 0, name)
