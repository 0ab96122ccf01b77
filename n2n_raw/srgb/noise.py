"""Synthetic noise of the sRGB track (docs/method.md §5), as the official ``AugmentNoise``.

Clean images x lie in [0, 1]. The four models, named as on the official command line:

============  ===================================================  ======================
name          noisy image                                          parameter
============  ===================================================  ======================
gauss25       x + N(0, σ²), σ = 25/255                              fixed
gauss5_50     x + N(0, σ²), σ ~ U(5, 50)/255                        one σ per image
poisson30     Poisson(λ·x)/λ, λ = 30                                fixed
poisson5_50   Poisson(λ·x)/λ, λ ~ U(5, 50)                          one λ per image
============  ===================================================  ======================

The noisy image is **never clipped** (docs/method.md pitfall 15): values below 0 and above 1 are kept.

Two implementations, one per use:

* :func:`noise_model` (training): torch, on the training device, every draw from an explicit
  ``torch.Generator``; fresh noise for every batch.
* :func:`add_validation_noise` (evaluation): NumPy, from a legacy ``RandomState``, which reproduces the
  official ``np.random.seed(101)`` stream draw for draw (normal/uniform/poisson in float64, then float32).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import N2NError

NOISE_NAMES = ("gauss25", "gauss5_50", "poisson30", "poisson5_50")


@dataclass(frozen=True)
class NoiseSpec:
    """A parsed noise name: ``kind`` gauss or poisson, and a fixed value (low == high) or a range.

    Gaussian values are standard deviations on the [0, 1] scale (σ/255); Poisson values are λ, the number of
    photons at x = 1.

    Example:
        >>> parse_noise("gauss5_50")
        NoiseSpec(kind='gauss', low=0.0196..., high=0.196...)
    """

    kind: str
    low: float
    high: float

    @property
    def fixed(self) -> bool:
        return self.low == self.high


def parse_noise(name: str) -> NoiseSpec:
    """``gauss25`` → σ = 25/255; ``gauss5_50`` → σ ∈ [5, 50]/255; ``poisson30``; ``poisson5_50``.

    Any ``gaussA`` / ``gaussA_B`` / ``poissonA`` / ``poissonA_B`` with positive numbers is accepted, as in the
    official parser; the paper uses the four names of :data:`NOISE_NAMES`.
    """
    for kind, scale in (("gauss", 255.0), ("poisson", 1.0)):
        if name.startswith(kind):
            try:
                values = [float(p) / scale for p in name[len(kind) :].split("_")]
            except ValueError:
                break
            if len(values) in (1, 2) and all(v > 0 for v in values) and values[0] <= values[-1]:
                return NoiseSpec(kind, values[0], values[-1])
            break
    raise N2NError(
        f"unknown noise model {name!r}; expected one of {', '.join(NOISE_NAMES)} (or gaussA[_B], poissonA[_B])"
    )


def draw_parameters(spec: NoiseSpec, batch: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """σ or λ for each image of a batch, shape (batch, 1, 1, 1), float32."""
    if spec.fixed:
        return torch.full((batch, 1, 1, 1), spec.low, device=device)
    # Differs from official train.py: σ/λ come from the explicit generator, not the global torch RNG.
    u = torch.rand((batch, 1, 1, 1), generator=generator, device=device)
    return u * (spec.high - spec.low) + spec.low


def add_noise(clean: torch.Tensor, spec: NoiseSpec, generator: torch.Generator) -> torch.Tensor:
    """Noisy copy of ``clean`` (N, C, H, W) in [0, 1]; σ/λ per image; not clipped.

    All random numbers come from ``generator``, which must live on ``clean``'s device.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> add_noise(torch.full((2, 3, 8, 8), 0.5), parse_noise("gauss25"), g).shape
        torch.Size([2, 3, 8, 8])
    """
    if clean.ndim != 4:
        raise ValueError(f"expected clean images (N, C, H, W), got shape {tuple(clean.shape)}")
    clean = clean.float()
    param = draw_parameters(spec, clean.shape[0], generator, clean.device)
    if spec.kind == "gauss":
        noise = torch.randn(clean.shape, generator=generator, device=clean.device, dtype=clean.dtype)
        return clean + noise * param
    rate = param * clean
    return torch.poisson(rate, generator=generator) / param


def noise_model(name: str | NoiseSpec) -> Callable[[torch.Tensor, torch.Generator], torch.Tensor]:
    """The training noise ``(clean, generator) -> noisy`` for a noise name (see the module table)."""
    spec = name if isinstance(name, NoiseSpec) else parse_noise(name)

    def apply(clean: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return add_noise(clean, spec, generator)

    apply.spec = spec  # type: ignore[attr-defined]
    return apply


def add_validation_noise(image: np.ndarray, spec: NoiseSpec, rng: np.random.RandomState) -> np.ndarray:
    """The official ``add_valid_noise``: ``image`` (H, W, 3) float32 in [0, 1] → float32 noisy, unclipped.

    Draws, in this order, from ``rng``: (range models) one uniform σ or λ; then the normal or Poisson field
    of the image's shape. Arithmetic is float64, the result is cast to float32.
    """
    shape = image.shape
    if spec.fixed:
        param = spec.low
    else:
        param = rng.uniform(low=spec.low, high=spec.high, size=(1, 1, 1))
    if spec.kind == "gauss":
        return np.array(image + rng.normal(size=shape) * param, dtype=np.float32)
    return np.array(rng.poisson(param * image) / param, dtype=np.float32)
