"""Colour and level fidelity of a denoised mosaic against its input: a denoiser must remove noise, not move
the signal. Measured per CFA plane, so a shift of one colour (a colour cast) shows as such.

For each of the four planes of the 2×2 CFA (named by colour, the two greens G1 then G2 in reading order):

* ``mean_shift`` = mean(denoised) / mean(input) − 1: the plane's level. Noise is zero-mean, so a faithful
  denoiser keeps every plane's mean; a cast moves one plane against the others.
* ``low_freq_error`` = ‖B(denoised) − B(input)‖₂ / ‖B(input)‖₂, where B averages the plane over
  ``block`` × ``block`` cells (``block`` plane pixels, 2·block Bayer pixels): block averages of the input are
  nearly noise-free, so this is the error of the image's low frequencies (its shading and colours), which
  denoising must not touch either.

Both are relative; a plane whose mean is within ``floor`` of zero (black) reports the absolute shift in
``mean_abs`` and a relative shift of 0 only if that is below ``floor`` too.
"""

from __future__ import annotations

import numpy as np

from .bayer import check_pattern

DEFAULT_BLOCK = 32


def plane_names(pattern: str) -> list[str]:
    """The four CFA positions named by colour in reading order, greens numbered: RGGB → R, G1, G2, B."""
    names, greens = [], 0
    for letter in check_pattern(pattern):
        if letter == "G":
            greens += 1
            names.append(f"G{greens}")
        else:
            names.append(letter)
    return names


def _block_means(plane: np.ndarray, block: int) -> np.ndarray:
    h, w = (plane.shape[0] // block) * block, (plane.shape[1] // block) * block
    if h == 0 or w == 0:  # smaller than one cell: the whole plane is the one cell
        return np.array([[plane.mean()]])
    return plane[:h, :w].reshape(h // block, block, w // block, block).mean(axis=(1, 3))


def plane_fidelity(
    noisy: np.ndarray, denoised: np.ndarray, pattern: str, block: int = DEFAULT_BLOCK, floor: float = 1e-4
) -> dict[str, dict[str, float]]:
    """Per plane: ``mean_in``, ``mean_out``, ``mean_abs`` (out − in), ``mean_shift`` and ``low_freq_error``.

    >>> x = np.tile(np.array([[0.2, 0.5], [0.5, 0.8]]), (4, 4))  # RGGB: R 0.2, G 0.5, B 0.8
    >>> y = x.copy(); y[0::2, 0::2] *= 1.1  # R 10 % brighter
    >>> f = plane_fidelity(x, y, "RGGB", block=2)
    >>> round(f["R"]["mean_shift"], 6), round(f["R"]["low_freq_error"], 6), f["B"]["mean_shift"]
    (0.1, 0.1, 0.0)
    """
    noisy, denoised = np.asarray(noisy, np.float64), np.asarray(denoised, np.float64)
    if noisy.shape != denoised.shape or noisy.ndim != 2:
        raise ValueError(f"plane_fidelity: two (H, W) mosaics of one shape, got {noisy.shape} and {denoised.shape}")
    out = {}
    for k, name in enumerate(plane_names(pattern)):
        dy, dx = divmod(k, 2)
        a, b = noisy[dy::2, dx::2], denoised[dy::2, dx::2]
        mean_in, mean_out = float(a.mean()), float(b.mean())
        diff = mean_out - mean_in
        shift = diff / mean_in if abs(mean_in) > floor else (0.0 if abs(diff) <= floor else float("inf"))
        ba, bb = _block_means(a, block), _block_means(b, block)
        norm = float(np.sqrt((ba**2).sum()))
        low = float(np.sqrt(((bb - ba) ** 2).sum())) / norm if norm > floor else 0.0
        out[name] = {
            "mean_in": mean_in,
            "mean_out": mean_out,
            "mean_abs": diff,
            "mean_shift": shift,
            "low_freq_error": low,
        }
    return out


def worst(fidelities: list[dict[str, dict[str, float]]]) -> dict[str, float]:
    """Over several measurements: the largest |mean_shift| and the largest low_freq_error of any plane."""
    shifts = [abs(p["mean_shift"]) for f in fidelities for p in f.values()]
    lows = [p["low_freq_error"] for f in fidelities for p in f.values()]
    return {"max_abs_mean_shift": max(shifts, default=0.0), "max_low_freq_error": max(lows, default=0.0)}


def summary_line(fidelity: dict[str, dict[str, float]]) -> str:
    """``R +0.3 % (low-freq 0.8 %), G1 …`` for a log line."""
    return ", ".join(
        f"{name} {100 * p['mean_shift']:+.2f} % (low-freq {100 * p['low_freq_error']:.2f} %)"
        for name, p in fidelity.items()
    )
