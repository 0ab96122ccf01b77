"""sRGB photo → linear raw mosaic → SIDD-calibrated noisy raw ("unprocessing").

Follows Brooks et al., "Unprocessing Images for Learned Raw Denoising", CVPR 2019 (their ``unprocess.py``):
inverse smoothstep tone curve, inverse gamma (2.2), inverse colour correction with a random convex
combination of four cameras' XYZ→camera matrices, inverse white-balance and brightness gains (protecting
highlights), then mosaicking with a CFA pattern.

Noise follows SIDD's noise level functions (docs/sidd.md §5): for a clean value x of colour c the noise
**variance** is ``beta1[c]·x + beta2[c]`` — shot noise as scaled Poisson (x/beta1 ~ Poisson) plus Gaussian read
noise of variance beta2 — then values are quantised to the sensor's steps (1/1023) and clipped to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bayer import cfa_colours

# XYZ→camera matrices of four cameras, from Brooks et al.'s unprocess.py (row-major 3×3).
XYZ2CAMS = np.array([
    [[1.0234, -0.2969, -0.2266], [-0.5625, 1.6328, -0.0469], [-0.0703, 0.2188, 0.6406]],
    [[0.4913, -0.0541, -0.0202], [-0.613, 1.3513, 0.2906], [-0.1564, 0.2151, 0.7183]],
    [[0.838, -0.263, -0.0639], [-0.2887, 1.0725, 0.2496], [-0.0627, 0.1427, 0.5438]],
    [[0.6596, -0.2079, -0.0562], [-0.4782, 1.3016, 0.1933], [-0.097, 0.1581, 0.5181]],
])  # fmt: skip
# Linear sRGB (D65) → XYZ.
RGB2XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
LEVELS = 1023  # SIDD's noisy values lie on a grid of 1/(white − black) = 1/1023 (S6: black 0, white 1023)


@dataclass(frozen=True)
class CameraParams:
    """The random camera of one capture: sRGB→camera matrix and the gains that were inverted."""

    rgb2cam: np.ndarray  # (3, 3), rows sum to 1
    red_gain: float
    blue_gain: float
    rgb_gain: float  # brightness gain

    @property
    def as_shot_neutral(self) -> tuple[float, float, float]:
        """DNG AsShotNeutral (R, G, B): the reciprocal of the white-balance gains."""
        return (1.0 / self.red_gain, 1.0, 1.0 / self.blue_gain)


def random_camera(rng: np.random.Generator) -> CameraParams:
    """Random colour matrix and gains in the ranges of Brooks et al."""
    weights = rng.uniform(1e-8, 1e8, size=len(XYZ2CAMS))
    xyz2cam = np.tensordot(weights / weights.sum(), XYZ2CAMS, axes=1)
    rgb2cam = xyz2cam @ RGB2XYZ
    rgb2cam /= rgb2cam.sum(axis=-1, keepdims=True)  # a grey pixel stays grey
    return CameraParams(
        rgb2cam, float(rng.uniform(1.9, 2.4)), float(rng.uniform(1.5, 1.9)), float(1.0 / rng.normal(0.8, 0.1))
    )


def unprocess(srgb: np.ndarray, camera: CameraParams) -> np.ndarray:
    """(H, W, 3) sRGB in [0, 1] → (H, W, 3) linear camera RGB in [0, 1], before white balance."""
    x = np.clip(srgb.astype(np.float64), 0.0, 1.0)
    x = 0.5 - np.sin(np.arcsin(1.0 - 2.0 * x) / 3.0)  # inverse smoothstep tone curve
    x = np.maximum(x, 1e-8) ** 2.2  # inverse gamma
    x = x @ camera.rgb2cam.T  # inverse colour correction
    gains = np.array([1.0 / camera.red_gain, 1.0, 1.0 / camera.blue_gain]) / camera.rgb_gain
    # Inverting the gains would push bright pixels past 1; blend towards gain 1 near white (Brooks et al.).
    gray = x.mean(axis=-1, keepdims=True)
    mask = (np.maximum(gray - 0.9, 0.0) / 0.1) ** 2
    safe = np.maximum(mask + (1.0 - mask) * gains, gains)
    return np.clip(x * safe, 0.0, 1.0)


def mosaic(rgb: np.ndarray, pattern: str) -> np.ndarray:
    """(H, W, 3) → (H, W) Bayer mosaic of ``pattern`` (H, W even): each pixel keeps its CFA colour."""
    h, w, _ = rgb.shape
    colours = colour_map(pattern, h, w)
    return np.take_along_axis(rgb, colours[..., None], axis=2)[..., 0]


def colour_map(pattern: str, h: int, w: int) -> np.ndarray:
    """(H, W) colour index 0 = R, 1 = G, 2 = B of each pixel of a ``pattern`` mosaic."""
    return np.tile(cfa_colours(pattern).astype(np.intp), (h // 2, w // 2))


def add_sidd_noise(
    clean: np.ndarray,
    pattern: str,
    nlf: dict[str, tuple[float, float]],
    rng: np.random.Generator,
    levels: int = LEVELS,
    clip_black: bool = True,
) -> np.ndarray:
    """Noisy float32 mosaic: variance ``beta1[c]·x + beta2[c]`` per CFA colour c, quantised, clipped.

    ``clip_black=True`` clips at 0 as SIDD's files are. ``False`` keeps the values below black, as a camera raw
    with its black level subtracted has them (:mod:`n2n_raw.rawphoto` keeps them too): then the noise of a dark
    pixel is zero-mean and a model trained on it learns no upward bias in the shadows. White stays clipped (the
    sensor saturates).
    """
    colours = colour_map(pattern, *clean.shape)
    beta1 = np.array([nlf[c][0] for c in "rgb"])[colours]
    beta2 = np.array([nlf[c][1] for c in "rgb"])[colours]
    x = np.clip(clean.astype(np.float64), 0.0, 1.0)
    shot = beta1 * rng.poisson(x / beta1)  # mean x, variance beta1·x
    read = rng.normal(0.0, 1.0, size=x.shape) * np.sqrt(beta2)
    noisy = np.round((shot + read) * levels) / levels
    return np.clip(noisy, 0.0 if clip_black else None, 1.0).astype(np.float32)
