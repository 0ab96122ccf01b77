"""Denoising a user's own Bayer raw photo: a DNG that keeps the photo, a preview, crops and a report.

1. **Read** (:func:`n2n_raw.rawphoto.read_raw`): any Bayer raw LibRaw opens; anything else is a one-line error.
2. **Normalise** (:func:`n2n_raw.rawphoto.normalise`): values below black and above white kept.
3. **Denoise** tile by tile (:func:`n2n_raw.inference.denoise_mosaic_tiled`), CFA unified per tile; an
   odd last row/column is passed through unchanged.
4. **Write** ``<stem>_denoised.dng`` (:func:`n2n_raw.rawphoto.write_dng`): the photo's size, CFA, levels and
   tags, re-opened with rawpy and checked before it gets its final name.
5. **Preview** ``<stem>_denoised.png``: rawpy's ``postprocess`` of the written DNG (camera white balance).

A model trained on SIDD is calibrated to the noise of SIDD's five phone sensors; other cameras' noise (and
other ISOs) may be under- or over-smoothed.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from .atomic import atomic_write_text
from .config import arg
from .errors import N2NError
from .fidelity import fidelity_problem, plane_fidelity, summary_line, worst
from .inference import InferenceOptions, denoise_mosaic_tiled, load_network
from .rawphoto import denormalise, normalise, read_raw, write_dng, write_preview

log = logging.getLogger("n2n_raw.denoise")
# Tiles of 1024 read with 128 pixels of context. Reads on multiples of 64 Bayer pixels (32 packed, the U-Net's five
# poolings) keep every tile on the pooling grid of a whole-image pass; the context must also cover what the
# network looks at. The shipped identity-path model uses its deep path (its receptive field is hundreds of
# pixels): on a demo capture, 64 pixels of context left seam errors up to 0.016 (66 dB against the whole pass),
# 128 up to 0.0034 (74 dB) for 1.37× the time of 64, 256 up to 0.002 (84 dB) for 1.85× (benchmarks/README.md,
# "Tiles"): 128 is the balance. The earlier model barely used its deep path, and 64 equalled the whole pass for it.
TILE, OVERLAP = 1024, 128
# A plane mean moved by more than this is reported as a warning: denoising removes zero-mean noise only.
FIDELITY_WARNING = 0.01


@dataclass(frozen=True)
class DenoiseConfig(InferenceOptions):
    """``n2n-raw denoise`` options (network options are inherited from InferenceOptions)."""

    checkpoint: str = arg(
        "",
        "checkpoint to use (the model is rebuilt from its stored configuration); empty or 'pretrained': the model shipped with the package; 'identity': no denoising",
    )
    batch_size: int = arg(1, "tiles per network call (memory grows with it; on a CPU batching gains nothing)")
    out: str = arg("", "denoised DNG to write; empty: <input stem>_denoised.dng beside the input")
    preview: bool = arg(True, "also write an sRGB preview PNG (rawpy postprocess) beside the DNG")
    preview_half_size: bool = arg(True, "render the preview at half size (faster, 4× less memory)")
    tile: int = arg(TILE, "tile side in Bayer pixels (a multiple of 64 keeps the tiles on the U-Net's pooling grid)")
    overlap: int = arg(
        OVERLAP,
        "context pixels read around each tile and discarded (multiples of 64 keep the pooling grid; more context, smaller seam errors)",
    )
    force: bool = arg(False, "overwrite existing outputs")
    adapt: int = arg(0, "first fine-tune the model on this photo's own crops for this many steps (0: off)")
    adapt_lr: float = arg(1e-4, "learning rate of --adapt")
    adapt_balance: Literal["off", "crops", "planes"] = arg(
        "off",
        "loss weighting of --adapt: off (plain MSE), crops or planes (train's --balance-crops / --balance-planes)",
    )
    side_by_side: bool = arg(
        True, "also write <stem>_denoised_crops.png: noisy | denoised at 100 %, busiest and darkest regions"
    )

    def __post_init__(self) -> None:
        if self.tile <= 0 or self.tile % 2:
            raise N2NError(f"--tile {self.tile}: must be a positive even number of Bayer pixels")
        if self.overlap < 0 or self.overlap % 2:
            raise N2NError(f"--overlap {self.overlap}: must be an even number ≥ 0")
        if self.adapt_balance not in ("off", "crops", "planes"):
            raise N2NError(f"--adapt-balance {self.adapt_balance}: must be off, crops or planes")


def denoise_photo(input_path: str | os.PathLike, config: DenoiseConfig, network: tuple | None = None) -> dict:
    """Denoise one raw photo; returns the report (paths written, what was read, colour fidelity).

    ``network`` is an already loaded ``(model, settings, checkpoint)`` (:class:`n2n_raw.api.Denoiser`).
    """
    input_path = Path(input_path)
    out = Path(config.out) if config.out else input_path.with_name(f"{input_path.stem}_denoised.dng")
    preview = out.with_suffix(".png") if config.preview else None
    if out.resolve() == input_path.resolve():
        raise N2NError(f"{out}: the output would overwrite the input photo")
    side = out.with_name(f"{out.stem}_crops.png") if config.side_by_side else None
    existing = [str(p) for p in (out, preview, out.with_suffix(".json"), side) if p is not None and p.exists()]
    if existing and not config.force:
        raise N2NError(f"{', '.join(existing)} already exists; pass --force to overwrite")
    photo = read_raw(input_path)
    if config.adapt > 0:
        from .adapt import adapt_to_photo, adaptation_dir

        with adaptation_dir(out) as work:
            base = str(load_network(config.checkpoint, config)[2].path)
            adaptation = adapt_to_photo(input_path, base, config.adapt, config.adapt_lr, Path(work), amp=config.amp,
                                        balance=config.adapt_balance)  # fmt: skip
            model, settings, _ = load_network(adaptation.checkpoint, config)
    else:
        adaptation = None
        model, settings, _ = network or load_network(config.checkpoint, config)
    x = normalise(photo)
    h, w = x.shape
    he, we = h - h % 2, w - w % 2
    # Not clamped to [0, 1]: levels below black and above white stay what they are (see normalise).
    denoised = denoise_mosaic_tiled(
        model, x[:he, :we], photo.pattern, settings, tile=config.tile, overlap=config.overlap, clamp=False
    )
    fidelity = plane_fidelity(x[:he, :we], denoised, photo.pattern)
    worst_fidelity = worst([fidelity])
    moved = fidelity_problem(fidelity, FIDELITY_WARNING)
    if moved:
        log.warning("%s: the model moved %s (%s): this photo is outside what it learned; check the crops PNG, and "
                    "fine-tune on the photo (--adapt 200) or the camera (make train-own)", input_path, moved,
                    summary_line(fidelity))  # fmt: skip
    side = (
        write_side_by_side(out.with_name(f"{out.stem}_crops.png"), x, denoised, photo.pattern)
        if config.side_by_side
        else None
    )
    if (he, we) != (h, w):  # an odd last row/column keeps its noisy values
        x[:he, :we] = denoised
        denoised = x
    del x
    written = [write_dng(out, denormalise(denoised, photo), photo)]
    if preview is not None:
        written.append(write_preview(out, preview, config.preview_half_size))
    written += [side] if side is not None else []
    report = {"input": str(input_path), "checkpoint": str(config.checkpoint), "files": [str(p) for p in written],
              "size": [h, w], "pattern": photo.pattern, "black": photo.black.ravel().tolist(), "white": photo.white,
              "fidelity": fidelity, "fidelity_worst": worst_fidelity,
              "adapt": None if adaptation is None else {k: v for k, v in vars(adaptation).items() if k != "checkpoint"}}  # fmt: skip
    written.append(atomic_write_text(out.with_suffix(".json"), json.dumps(report, indent=1) + "\n"))
    report["files"] = [str(p) for p in written]
    return report


def pick_regions(mosaic: np.ndarray, side: int) -> dict[str, tuple[int, int]]:
    """Top-left corners (even) of the busiest (largest same-colour gradients) and darkest ``side`` squares of
    ``mosaic`` (pass the denoised one: in the noisy input the noise itself looks busiest)."""
    h, w = mosaic.shape
    side = min(side, h - h % 2, w - w % 2)
    rows, cols = range(0, h - side + 1, max(2, side // 2)), range(0, w - side + 1, max(2, side // 2))
    cells = [(r, c) for r in rows for c in cols]
    means = [float(mosaic[r : r + side, c : c + side].mean()) for r, c in cells]
    detail = [float(np.abs(np.diff(mosaic[r : r + side : 2, c : c + side : 2], axis=1)).mean()) for r, c in cells]
    return {"busiest": cells[int(np.argmax(detail))], "darkest": cells[int(np.argmin(means))]}


def write_side_by_side(path: Path, noisy: np.ndarray, denoised: np.ndarray, pattern: str, side: int = 256) -> Path:
    """A PNG of noisy | denoised at 100 % for the busiest and the darkest region (one rendering per row)."""
    from .isp import contact_sheet, demosaic_bilinear, exposure_gain, grey_world_gains, render_srgb, save_png

    h, w = denoised.shape
    noisy = noisy[:h, :w]
    side = min(side, h - h % 2, w - w % 2)
    rows = []
    for r, c in pick_regions(denoised, side).values():  # detail measured where noise does not dominate it
        a, b = noisy[r : r + side, c : c + side], denoised[r : r + side, c : c + side]
        gains = grey_world_gains(np.clip(b, 0, 1), pattern)  # one white balance and exposure per row
        gain = exposure_gain(demosaic_bilinear(np.clip(b, 0.0, 1.0), pattern) * gains)
        rows.append([render_srgb(x, pattern, gains, gain) for x in (a, b)])
    save_png(contact_sheet(rows, labels=("noisy (100 %)", "denoised")), path)
    return path
