"""Inference throughput: 256×256 blocks and a whole mosaic (tiled), ours vs official-style per block.

* Blocks: ``n2n_raw.inference.denoise_blocks`` (batches of 16, the default switches of
  ``InferenceOptions`` on this device) vs one block per network call, fp32 NCHW (pack → model → unpack).
  All blocks are RGGB so that neither side pads for CFA unification.
* Mosaic (12.6 MP = 3072×4096 Bayer; 0.13 MP and 64² blocks with ``--quick``): ``denoise_mosaic_tiled`` (tile 512,
  overlap 32, batch 4) vs the official-style loop over the mosaic's 256×256 blocks. Ours computes ~27% more
  pixels (the overlap that removes seams), so the ratio is a like-for-like *output* throughput.
"""

from __future__ import annotations

import numpy as np
import torch

from n2n_raw.inference import InferenceOptions, denoise_blocks, denoise_mosaic_tiled

from .common import fmt_seconds, fresh_model, row, time_alternating
from .references import official_block_inference


def _mosaic(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.05, 0.3, w, dtype=np.float32)[None, :]
    return (ramp + 0.01 * rng.standard_normal((h, w), dtype=np.float32)).astype(np.float32)


def run(device: torch.device, quick: bool = False) -> dict:
    settings = InferenceOptions(device=str(device)).resolve()  # the defaults of evaluate/submit/denoise
    cl, amp = settings.runtime.channels_last, settings.runtime.bf16
    ours_model = fresh_model(device, cl).eval()
    ref_model = fresh_model(device).eval()
    k, side = (4, 64) if quick else (32, 256)
    blocks = _mosaic(side * k, side).reshape(k, side, side)
    blocks_t = torch.from_numpy(blocks).to(device)

    timings = time_alternating(
        {"ours": lambda: denoise_blocks(ours_model, blocks, ["RGGB"] * k, settings),
         "official": lambda: official_block_inference(ref_model, blocks_t).cpu()},
        repeats=2 if quick else 3, warmup=1, device=device,
    )  # fmt: skip
    t_ours, t_ref = timings["ours"].median, timings["official"].median
    rows = [row(f"inference, {k} blocks {side}²", f"{fmt_seconds(t_ours / k)}/block", f"{fmt_seconds(t_ref / k)}/block",
                t_ref / t_ours, 1.5, f"batch 16, channels_last={cl}, bf16={amp}")]  # fmt: skip

    h, w = (256, 512) if quick else (3072, 4096)
    mosaic = _mosaic(h, w, seed=1)
    mosaic_t = torch.from_numpy(mosaic).to(device)

    def official_mosaic():
        # (H, W) → (H/s · W/s, s, s) blocks of side s, each denoised alone, then put back.
        cut = mosaic_t.reshape(h // side, side, w // side, side).permute(0, 2, 1, 3).reshape(-1, side, side)
        out = official_block_inference(ref_model, cut)
        return out.reshape(h // side, w // side, side, side).permute(0, 2, 1, 3).reshape(h, w).cpu()

    from n2n_raw.denoise import OVERLAP, TILE, DenoiseConfig

    tile, overlap = (2 * side, 32) if quick else (TILE, OVERLAP)  # the `n2n-raw denoise` defaults
    photo_settings = DenoiseConfig(
        device=str(device)
    ).resolve()  # the defaults of `n2n-raw denoise` (bf16 where native)
    tiled = time_alternating(
        {"ours": lambda: denoise_mosaic_tiled(ours_model, mosaic, "RGGB", photo_settings,
                                              tile=tile, overlap=overlap, progress=False),
         "official": official_mosaic},
        repeats=1 if quick else 2, warmup=0 if quick else 1, device=device,
    )  # fmt: skip
    m_ours, m_ref = tiled["ours"].median, tiled["official"].median
    mp = h * w / 1e6
    rows.append(row(f"inference, {mp:.1f} MP mosaic", f"{fmt_seconds(m_ours)} ({mp / m_ours:.2f} MP/s)",
                    f"{fmt_seconds(m_ref)} ({mp / m_ref:.2f} MP/s)", m_ref / m_ours, 1.5,
                    f"ours: `denoise` defaults, tiles {tile} + overlap {overlap} (equal to one whole pass), bf16={photo_settings.runtime.bf16}; official-style: fp32 {side}² blocks, seams"))  # fmt: skip
    return {
        "switches": {"channels_last": cl, "amp": amp},
        "timings": {"blocks": {n: t.samples for n, t in timings.items()}, "mosaic": {n: t.samples for n, t in tiled.items()}},
        "rows": rows,
    }  # fmt: skip
