"""The Python interface: ``n2n_raw.load(...)`` gives a :class:`Denoiser`.

>>> import numpy as np, n2n_raw
>>> denoiser = n2n_raw.load("identity")  # or "pretrained" (the shipped model), or a checkpoint path
>>> mosaic = np.full((64, 64), 0.25, np.float32)  # a normalised Bayer mosaic: (raw − black) / (white − black)
>>> denoiser.denoise_mosaic(mosaic, "GRBG").shape
(64, 64)

``denoise_file("photo.dng", "photo_denoised.dng")`` does what ``n2n-raw denoise`` does (the command calls
it): any Bayer raw in, a DNG with the photo's levels and tags out, plus the preview, the side-by-side crops
and the JSON report with the colour-fidelity measurement.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import numpy as np
from torch import nn

from .checkpoint import Checkpoint
from .inference import InferenceOptions, InferenceSettings, denoise_mosaic_tiled, load_network


@dataclass
class Denoiser:
    """A loaded network and how to run it; build it with :func:`load`."""

    model: nn.Module
    settings: InferenceSettings
    checkpoint: Checkpoint
    options: InferenceOptions = field(default_factory=InferenceOptions)

    def denoise_mosaic(
        self, mosaic: np.ndarray, pattern: str, tile: int = 1024, overlap: int = 128, clamp: bool = False
    ) -> np.ndarray:
        """Denoise a normalised ``(H, W)`` Bayer mosaic (even sides) of CFA ``pattern``; float32 out, same grid."""
        return denoise_mosaic_tiled(self.model, np.asarray(mosaic, np.float32), pattern, self.settings, tile, overlap,
                                    clamp=clamp, progress=False)  # fmt: skip

    def denoise_file(self, path: str | os.PathLike, out: str | os.PathLike = "", **options) -> dict:
        """Denoise a raw photo file to ``out`` (default ``<stem>_denoised.dng``); returns the report.

        ``options`` are those of ``n2n-raw denoise`` (``tile``, ``preview``, ``force``, ``adapt``, …).
        """
        from .denoise import DenoiseConfig, denoise_photo

        config = DenoiseConfig(
            **{**vars(self.options), "checkpoint": str(self.checkpoint.path), "out": str(out), **options}
        )
        return denoise_photo(path, config, network=(self.model, self.settings, self.checkpoint))


def load(checkpoint: str | os.PathLike = "pretrained", **options) -> Denoiser:
    """A :class:`Denoiser` from ``"pretrained"`` (the shipped model), ``"identity"`` or a checkpoint path.

    ``options`` are :class:`n2n_raw.inference.InferenceOptions` fields (``device``, ``ensemble``, ``amp``, …).
    """
    opts = replace(InferenceOptions(), **options)
    model, settings, info = load_network(str(checkpoint), opts)
    return Denoiser(model, settings, info, opts)
