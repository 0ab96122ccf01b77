"""Real DNG files of a realistic camera for the own-photo tests: 14-bit levels (black 512, white 16383),
values below black and above white, camera tags (Make, Model, orientation, ISO, exposure), colour tags."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

BLACK, WHITE = 512, 16383
CAMERA = ("TestMaker", "Model X100")
COLOR_MATRIX = [0.9, -0.3, -0.1, -0.4, 1.2, 0.2, -0.1, 0.2, 0.7]


def _rational(values, den=10000):
    out = []
    for v in values:
        out += [int(round(v * den)), den]
    return out


def stage_scene(h: int, w: int, pattern: str, light=(0.15, 0.35, 1.0), level=0.2, seed=0, read_noise=12.0):
    """A noisy Bayer capture (uint16 sensor counts) of a smooth scene under a coloured light.

    ``light`` scales R, G, B; ``level`` is the mean signal as a fraction of white − black; shot noise at a gain
    of 4 counts per electron-ish plus Gaussian read noise of ``read_noise`` counts, so dark planes go below black.
    Returns (noisy uint16, clean float counts above black).
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = level * (0.6 + 0.4 * np.sin(5 * x + 2 * y) * np.cos(3 * y))
    gains = dict(zip("RGB", light))
    scale = np.empty((h, w))
    for k, letter in enumerate(pattern):
        dy, dx = divmod(k, 2)
        scale[dy::2, dx::2] = gains[letter]
    clean = base * scale * (WHITE - BLACK)
    shot = rng.poisson(np.maximum(clean, 0) / 4.0) * 4.0
    noisy = BLACK + shot + rng.normal(0, read_noise, (h, w))
    return np.clip(np.round(noisy), 0, 65535).astype(np.uint16), clean


def write_camera_dng(path: str | Path, data: np.ndarray, pattern: str = "RGGB", iso: int = 3200,
                     exposure=(1, 60)) -> Path:  # fmt: skip
    """A Bayer DNG of ``data`` (uint16) with the tags a raw editor needs."""
    codes = ["RGB".index(c) for c in pattern]
    tags = [
        (271, "s", 0, CAMERA[0], True), (272, "s", 0, CAMERA[1], True), (274, "H", 1, 1, True),
        (33434, "2I", 1, exposure, True), (34855, "H", 1, iso, True),
        (33421, "H", 2, (2, 2), True), (33422, "B", 4, codes, True),
        (50706, "B", 4, (1, 4, 0, 0), True), (50707, "B", 4, (1, 1, 0, 0), True),
        (50708, "s", 0, f"{CAMERA[0]} {CAMERA[1]}", True),
        (50713, "H", 2, (2, 2), True), (50714, "I", 4, (BLACK,) * 4, True), (50717, "I", 1, WHITE, True),
        (50721, "2i", 9, _rational(COLOR_MATRIX), True), (50728, "2I", 3, _rational([0.45, 1.0, 0.7]), True),
        (50730, "2i", 1, (1, 2), True), (50778, "H", 1, 21, True),
    ]  # fmt: skip
    tifffile.imwrite(path, data, photometric=32803, compression=None, subfiletype=0, metadata=None, extratags=tags)
    return Path(path)
