"""A deliberately simple ISP to *look at* raw results: demosaic, white balance, exposure, sRGB gamma.

It is for contact sheets and previews, never for metrics. The steps, in order:

1. **Demosaic**: bilinear, by normalised convolution of each colour's samples with the 3×3 kernel
   [[1, 2, 1], [2, 4, 2], [1, 2, 1]] (edges mirrored, which keeps the CFA phase); measured samples are kept.
2. **White balance**: per-channel gains from metadata when given (DNG ``AsShotNeutral`` n → gains 1/n,
   normalised to green), otherwise **grey world** (each channel's mean scaled to the green mean).
3. **No colour-correction matrix**: camera RGB is shown as if it were linear sRGB, so hues are approximate
   (SIDD blocks carry no colour matrix; a per-phone matrix would not change what a denoising comparison shows).
4. **Exposure**: one gain so that the 99th percentile of the reference image maps to 0.9 (SIDD blocks
   are often dark); pass the same ``gain`` to compare several renderings of one scene fairly.
5. **Tone curve**: the sRGB transfer function (IEC 61966-2-1, ≈ gamma 2.2), then 8-bit rounding.

Example:
    >>> import numpy as np
    >>> rgb = render_srgb(np.full((4, 4), 0.25, np.float32), "RGGB", exposure=1.0)
    >>> rgb.shape, rgb.dtype, int(rgb[1, 1, 1])
    ((4, 4, 3), dtype('uint8'), 137)
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .bayer import cfa_colours

_KERNEL = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]])


def cfa_masks(shape: tuple[int, int], pattern: str) -> np.ndarray:
    """(3, H, W) boolean masks of the R, G and B sites of a mosaic of ``pattern``."""
    h, w = shape
    colours = np.tile(cfa_colours(pattern), ((h + 1) // 2, (w + 1) // 2))[:h, :w]
    return colours[None] == np.arange(3)[:, None, None]


def demosaic_bilinear(mosaic: np.ndarray, pattern: str) -> np.ndarray:
    """(H, W) mosaic → (H, W, 3) float32 linear camera RGB (bilinear; measured samples kept)."""
    from scipy.ndimage import convolve

    mosaic = np.asarray(mosaic, dtype=np.float64)
    masks = cfa_masks(mosaic.shape, pattern)
    rgb = np.empty((*mosaic.shape, 3), dtype=np.float32)
    for c in range(3):
        samples = convolve(mosaic * masks[c], _KERNEL, mode="mirror")
        weights = convolve(masks[c].astype(np.float64), _KERNEL, mode="mirror")
        rgb[..., c] = np.where(masks[c], mosaic, samples / weights)
    return rgb


def grey_world_gains(mosaic: np.ndarray, pattern: str) -> np.ndarray:
    """Per-channel (R, G, B) gains that equalise the channel means to the green mean."""
    masks = cfa_masks(mosaic.shape, pattern)
    means = np.array([float(np.mean(mosaic[m])) for m in masks])
    means = np.maximum(means, 1e-6)  # a black block: avoid dividing by zero
    return (means[1] / means).astype(np.float32)


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """The sRGB transfer function on [0, 1] (values outside are clipped first)."""
    x = np.clip(linear, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def exposure_gain(rgb: np.ndarray, percentile: float = 99.0, target: float = 0.9) -> float:
    """The gain that maps ``percentile`` of ``rgb`` to ``target`` (1 for a black image)."""
    level = float(np.percentile(rgb, percentile))
    return target / level if level > 1e-6 else 1.0


def render_srgb(
    mosaic: np.ndarray, pattern: str, wb_gains: Sequence[float] | None = None, exposure: float | None = None
) -> np.ndarray:
    """(H, W) mosaic in [0, 1] → (H, W, 3) uint8 sRGB through the steps in the module docstring.

    ``wb_gains`` default to grey world on this mosaic; ``exposure`` defaults to :func:`exposure_gain` of the
    white-balanced image.
    """
    gains = grey_world_gains(mosaic, pattern) if wb_gains is None else np.asarray(wb_gains, dtype=np.float32)
    rgb = demosaic_bilinear(np.clip(mosaic, 0.0, 1.0), pattern) * gains
    gain = exposure_gain(rgb) if exposure is None else exposure
    return np.round(srgb_encode(rgb * gain) * 255.0).astype(np.uint8)


def contact_sheet(rows: Sequence[Sequence[np.ndarray]], labels: Sequence[str] = (), gap: int = 4):
    """Tile equal-size RGB uint8 images into rows (e.g. noisy | denoised | clean); returns a PIL image.

    ``labels`` (one per column) are drawn in a header strip with Pillow's default font.
    """
    from PIL import Image, ImageDraw

    if not rows or not rows[0]:
        raise ValueError("contact_sheet needs at least one row with one image")
    h, w = rows[0][0].shape[:2]
    ncols = max(len(r) for r in rows)
    header = 16 if labels else 0
    sheet = Image.new("RGB", (ncols * w + (ncols + 1) * gap, header + len(rows) * h + (len(rows) + 1) * gap), "white")
    draw = ImageDraw.Draw(sheet)
    for c, text in enumerate(labels):
        draw.text((gap + c * (w + gap) + 2, 2), text, fill="black")
    for r, row in enumerate(rows):
        for c, img in enumerate(row):
            if img.shape[:2] != (h, w):
                raise ValueError(f"contact_sheet: image ({r}, {c}) is {img.shape[:2]}, expected {(h, w)}")
            sheet.paste(Image.fromarray(img), (gap + c * (w + gap), header + gap + r * (h + gap)))
    return sheet


def save_png(image, path: str | os.PathLike) -> None:
    """Write a PIL image as PNG atomically (temporary name in the same folder, then rename)."""
    from .atomic import atomic_write

    atomic_write(path, lambda tmp: image.save(tmp, format="PNG"))
