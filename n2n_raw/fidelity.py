"""Colour and level fidelity of a denoised mosaic against its input: a denoiser must remove noise, not move
the signal. Measured per CFA plane, so a shift of one colour (a colour cast) shows as such.

For each of the four planes of the 2×2 CFA (named by colour, the two greens G1 then G2 in reading order):

* ``mean_shift`` = mean(denoised) / mean(input) − 1: the plane's level. Noise is zero-mean, so a faithful
  denoiser keeps every plane's mean; a cast moves one plane against the others.
* ``low_freq_error`` = ‖B(denoised) − B(input)‖₂ / ‖B(input)‖₂, where B averages the plane over
  ``block`` × ``block`` cells (``block`` plane pixels, 2·block Bayer pixels): block averages of the input are
  nearly noise-free, so this is the error of the image's low frequencies (its shading and colours), which
  denoising must not touch either.

* ``low_freq_noise``: the part of ``low_freq_error`` that the input's own noise explains. Block averages of
  the input are nearly noise-free only where the signal is well above the noise: a B × B cell mean still
  carries noise of σ / B per cell, and on a very dark photo that is several per cent of the signal. A perfect
  denoiser (output = the clean image) then shows a low-frequency error of about ‖B(noise)‖₂ / ‖B(input)‖₂
  against the input, and no denoiser can be held below it. It is estimated from the input alone: in each cell,
  the checkerboard combination d = (a₀₀ − a₀₁ − a₁₀ + a₁₁) / 2 of every 2 × 2 quad of the plane removes a
  locally constant or linear signal and keeps the variance σ² of white noise (four terms of σ² / 4), so
  σ_cell² = mean(d²) over the cell, and the floor is √(Σ σ_cell² / B²) / ‖B(input)‖₂ (fine texture adds to
  d², so on a busy bright photo the estimate is high, but there it is small anyway). The perfect denoiser's
  error scatters around it: ‖B(noise)‖² is a sum over the ``low_freq_cells`` cells, so its norm has a relative
  spread of about 1 / √(2 · cells). A plane keeps its colour when ``low_freq_error`` ≤ max(limit, the noise
  plus three of those spreads): :func:`low_freq_excess`.

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


def _quad_d2(plane: np.ndarray) -> np.ndarray:
    """d² of every 2 × 2 quad of an even-sized plane, d = (a₀₀ − a₀₁ − a₁₀ + a₁₁) / 2."""
    return ((plane[0::2, 0::2] - plane[0::2, 1::2] - plane[1::2, 0::2] + plane[1::2, 1::2]) / 2) ** 2


def _cell_noise_variance(plane: np.ndarray, block: int) -> tuple[np.ndarray, int]:
    """Per cell (as :func:`_block_means` cuts them), the input's per-pixel noise variance estimated from the
    plane alone (the mean of d² over the cell's 2 × 2 quads), and the pixels per cell.

    >>> a = np.array([[1.0, 3.0], [5.0, 3.0]])  # d = (1 − 3 − 5 + 3) / 2 = −2, d² = 4
    >>> _cell_noise_variance(a, 2)
    (array([[4.]]), 4)
    """
    h, w = (plane.shape[0] // block) * block, (plane.shape[1] // block) * block
    even = plane[: plane.shape[0] // 2 * 2, : plane.shape[1] // 2 * 2]
    if h == 0 or w == 0:  # smaller than one cell: the whole plane is the one cell
        return np.array([[_quad_d2(even).mean() if even.size else 0.0]]), plane.size
    if block % 2:  # cells not made of whole quads: one estimate for every cell
        return np.full((h // block, w // block), _quad_d2(even).mean()), block * block
    q = block // 2
    return _quad_d2(plane[:h, :w]).reshape(h // block, q, w // block, q).mean(axis=(1, 3)), block * block


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
        variance, cell_pixels = _cell_noise_variance(a, block)
        noise = float(np.sqrt(variance.sum() / cell_pixels)) / norm if norm > floor else 0.0
        out[name] = {
            "mean_in": mean_in,
            "mean_out": mean_out,
            "mean_abs": diff,
            "mean_shift": shift,
            "low_freq_error": low,
            "low_freq_noise": noise,
            "low_freq_cells": int(ba.size),
        }
    return out


def low_freq_allowance(plane: dict[str, float], limit: float = 0.01) -> float:
    """The low-frequency error a plane may show: ``limit``, or more where the input's own noise explains more,
    that noise plus three times the spread of a perfect denoiser's error about it (1 / √(2 · cells)).

    >>> round(low_freq_allowance({"low_freq_noise": 0.03, "low_freq_cells": 50}), 6)  # 0.03 · (1 + 3 / 10)
    0.039
    >>> low_freq_allowance({"low_freq_noise": 0.002, "low_freq_cells": 50})
    0.01
    """
    noise, cells = plane.get("low_freq_noise", 0.0), max(1, int(plane.get("low_freq_cells", 1)))
    return max(limit, noise * (1 + 3 / (2 * cells) ** 0.5))


def low_freq_excess(plane: dict[str, float], limit: float = 0.01) -> float:
    """How far a plane's low-frequency error is beyond :func:`low_freq_allowance`; 0 when it keeps its colour.

    >>> low_freq_excess({"low_freq_error": 0.017, "low_freq_noise": 0.031, "low_freq_cells": 384})  # very dark
    0.0
    >>> round(low_freq_excess({"low_freq_error": 0.03, "low_freq_noise": 0.002, "low_freq_cells": 384}), 6)
    0.02
    """
    return max(0.0, plane["low_freq_error"] - low_freq_allowance(plane, limit))


def worst(fidelities: list[dict[str, dict[str, float]]]) -> dict[str, float]:
    """Over several measurements: the largest |mean_shift|, low_freq_error and :func:`low_freq_excess` of any
    plane."""
    shifts = [abs(p["mean_shift"]) for f in fidelities for p in f.values()]
    lows = [p["low_freq_error"] for f in fidelities for p in f.values()]
    excess = [low_freq_excess(p) for f in fidelities for p in f.values()]
    return {"max_abs_mean_shift": max(shifts, default=0.0), "max_low_freq_error": max(lows, default=0.0),
            "max_low_freq_excess": max(excess, default=0.0)}  # fmt: skip


def fidelity_problem(fidelity: dict[str, dict[str, float]], limit: float = 0.01) -> str:
    """What moved, in words, when a plane's mean moved by more than ``limit`` or its low frequencies went beyond
    :func:`low_freq_allowance`; "" when every plane kept its level and colour.

    >>> fidelity_problem({"R": {"mean_shift": 0.002, "low_freq_error": 0.03, "low_freq_noise": 0.031,
    ...                         "low_freq_cells": 384}})
    ''
    >>> fidelity_problem({"B": {"mean_shift": -0.02, "low_freq_error": 0.02, "low_freq_noise": 0.001}})
    "colour plane B's mean by -2.0 %"
    >>> fidelity_problem({"B": {"mean_shift": 0.0, "low_freq_error": 0.022, "low_freq_noise": 0.007,
    ...                         "low_freq_cells": 384}})
    "colour plane B's low frequencies by 2.2 % (1 % and the input's own noise allow 1.0 %)"
    """
    for name, p in fidelity.items():
        if abs(p["mean_shift"]) > limit:
            return f"colour plane {name}'s mean by {100 * p['mean_shift']:+.1f} %"
    for name, p in fidelity.items():
        if low_freq_excess(p, limit) > 0:
            return (f"colour plane {name}'s low frequencies by {100 * p['low_freq_error']:.1f} % (1 % and the input's "
                    f"own noise allow {100 * low_freq_allowance(p, limit):.1f} %)")  # fmt: skip
    return ""


def summary_line(fidelity: dict[str, dict[str, float]]) -> str:
    """``R +0.3 % (low-freq 0.8 %), G1 …`` for a log line."""
    return ", ".join(
        f"{name} {100 * p['mean_shift']:+.2f} % (low-freq {100 * p['low_freq_error']:.2f} %, input noise "
        f"{100 * p.get('low_freq_noise', 0.0):.2f} %)"
        for name, p in fidelity.items()
    )
