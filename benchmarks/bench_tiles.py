"""Tiled inference: the seam error of each tile/overlap against one whole-image pass, and its time.

``python -m benchmarks.bench_tiles --checkpoint CKPT [--image MOSAIC.npy|.MAT]``: a trained checkpoint (the
error of an untrained U-Net says nothing: its output is nearly constant) on a real-size mosaic. For each
(tile, overlap) the tiled output is compared with the whole mosaic denoised in one pass: PSNR of the
difference (peak 1; what a 50 dB benchmark could see is below ~60 dB) and the largest absolute difference;
seconds per megapixel are timed alternately in one process.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from n2n_raw.inference import InferenceOptions, InferenceSettings, denoise_blocks, denoise_mosaic_tiled, load_network

from .common import machine, time_alternating

SETTINGS = ((512, 32), (1024, 64), (1024, 128), (1024, 256), (1024, 384))


def load_mosaic(path: str) -> np.ndarray:
    if path.endswith(".npy"):
        return np.load(path).astype(np.float32)
    from n2n_raw.sidd import read_image

    return read_image(path).astype(np.float32)


def run(checkpoint: str, image: str, pattern: str, repeats: int = 1, tiles: int = 1) -> dict:
    model, settings, _ = load_network(checkpoint, InferenceOptions(device="cpu"))
    mosaic = np.tile(load_mosaic(image), (tiles, tiles))  # both sides even: the CFA repeats with the image
    h, w = mosaic.shape
    mosaic = mosaic[: h - h % 64, : w - w % 64]
    whole = denoise_blocks(model, mosaic[None], [pattern], settings, clamp=False)[0]
    rows, variants = [], {}
    for tile, overlap in SETTINGS:
        s = InferenceSettings(settings.runtime, batch_size=1, cfa_target=settings.cfa_target)
        tiled = denoise_mosaic_tiled(model, mosaic, pattern, s, tile=tile, overlap=overlap, clamp=False, progress=False)
        mse = float(np.mean((tiled.astype(np.float64) - whole) ** 2))
        rows.append({"tile": tile, "overlap": overlap, "psnr_vs_whole": 10 * np.log10(1 / mse) if mse else float("inf"),
                     "max_abs": float(np.abs(tiled - whole).max()),
                     "pixels_computed": _computed(h, w, tile, overlap) / (mosaic.size)})  # fmt: skip
        variants[f"{tile}/{overlap}"] = lambda s=s, t=tile, o=overlap: denoise_mosaic_tiled(
            model, mosaic, pattern, s, tile=t, overlap=o, clamp=False, progress=False
        )
    times = time_alternating(variants, repeats=repeats, warmup=0)
    mp = mosaic.size / 1e6
    for row in rows:
        row["seconds_per_mp"] = times[f"{row['tile']}/{row['overlap']}"].median / mp
    return {"machine": machine(), "checkpoint": checkpoint, "image": image, "shape": list(mosaic.shape), "rows": rows}


def _computed(h: int, w: int, tile: int, overlap: int) -> int:
    from n2n_raw.inference import tile_windows

    return sum(
        (r[1] - r[0]) * (c[1] - c[0]) for r in tile_windows(h, tile, overlap) for c in tile_windows(w, tile, overlap)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="pretrained")
    parser.add_argument("--image", required=True, help="a Bayer mosaic in [0, 1] (.npy, or a SIDD .MAT)")
    parser.add_argument("--pattern", default="RGGB", help="CFA of the mosaic")
    parser.add_argument("--tiles", type=int, default=1, help="repeat the image k × k times (a larger mosaic)")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    result = run(args.checkpoint, args.image, args.pattern, args.repeats, args.tiles)
    print(json.dumps(result["machine"]))
    print("| tile | overlap | pixels computed | PSNR vs whole pass | max abs diff | s/MP |")
    print("|---|---|---|---|---|---|")
    for r in result["rows"]:
        print(
            f"| {r['tile']} | {r['overlap']} | {r['pixels_computed']:.2f}× | {r['psnr_vs_whole']:.1f} dB | {r['max_abs']:.2g} | {r['seconds_per_mp']:.2f} |"
        )


if __name__ == "__main__":
    main()
