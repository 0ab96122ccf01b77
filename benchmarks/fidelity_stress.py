"""Colour and level fidelity on a stress set: does the model move the colour of hard photos?

``python -m benchmarks.fidelity_stress [--checkpoint pretrained]`` writes six synthetic camera DNGs (14-bit,
black 512, white 16383, read noise of 12 counts and shot noise, so dark planes go below black) of a real
photograph (scikit-image's ``astronaut``, unprocessed to linear camera RGB) under hard conditions, denoises
each with ``n2n-raw denoise`` and prints every CFA plane's mean shift and low-frequency error (output against
input, :mod:`n2n_raw.fidelity`). The goal is every plane within 1 %.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from n2n_raw.fidelity import plane_fidelity

BLACK, WHITE = 512, 16383

# (name, R, G, B gains of the light, exposure as a fraction of white − black, highlights clipped)
CASES = (
    ("blue stage light", (0.15, 0.35, 1.0), 0.20, False),
    ("red stage light", (1.0, 0.25, 0.1), 0.20, False),
    ("green light", (0.2, 1.0, 0.15), 0.20, False),
    ("very dark", (0.5, 1.0, 0.7), 0.004, False),
    ("dark, blue light", (0.15, 0.35, 1.0), 0.02, False),
    ("clipped highlights", (0.5, 1.0, 0.7), 1.6, True),
)


def clean_scene(light, level, clip, pattern="RGGB", size=(1024, 1536)) -> np.ndarray:
    """float64 Bayer signal above black, in counts, of the photo under ``light`` at ``level`` (no noise)."""
    from skimage import data, transform

    rgb = transform.resize(data.astronaut().astype(np.float64) / 255.0, size, anti_aliasing=True) ** 2.2
    mosaic = np.empty(size)
    for k, letter in enumerate(pattern):
        dy, dx = divmod(k, 2)
        c = "RGB".index(letter)
        mosaic[dy::2, dx::2] = rgb[dy::2, dx::2, c] * light[c] * level * (WHITE - BLACK)
    return np.minimum(mosaic, WHITE - BLACK) if clip else mosaic


def scene(light, level, clip, pattern="RGGB", size=(1024, 1536), seed=0) -> np.ndarray:
    """uint16 Bayer counts of the photo under ``light`` at ``level``; read noise 12 counts, shot noise at gain 4."""
    mosaic = clean_scene(light, level, clip, pattern, size)
    rng = np.random.default_rng(seed)
    noisy = BLACK + rng.poisson(np.maximum(mosaic, 0) / 4.0) * 4.0 + rng.normal(0, 12.0, size)
    return np.clip(np.round(noisy), 0, 65535).astype(np.uint16)


def psnr(counts: np.ndarray, clean: np.ndarray) -> float:
    """PSNR (peak white − black) of levels above black against the clean signal, both in counts."""
    mse = np.mean((counts - clean) ** 2) / (WHITE - BLACK) ** 2
    return float(10 * np.log10(1.0 / mse))


def write_dng(path: Path, raw: np.ndarray, pattern: str = "RGGB") -> Path:
    import tifffile

    tags = [(271, "s", 0, "Stress", True), (272, "s", 0, "Set", True), (33421, "H", 2, (2, 2), True),
            (33422, "B", 4, ["RGB".index(c) for c in pattern], True), (50706, "B", 4, (1, 4, 0, 0), True),
            (50708, "s", 0, "Stress Set", True), (50713, "H", 2, (2, 2), True), (50714, "I", 4, (512,) * 4, True),
            (50717, "I", 1, 16383, True), (50721, "2i", 9, [10000, 10000, 0, 10000, 0, 10000, 0, 10000, 0, 10000,
            0, 10000, 0, 10000, 0, 10000, 10000, 10000], True), (50778, "H", 1, 21, True)]  # fmt: skip
    tifffile.imwrite(path, raw, photometric=32803, compression=None, metadata=None, extratags=tags)
    return path


def dng_counts(path: Path) -> np.ndarray:
    """A DNG's levels above black, in counts (float64)."""
    import rawpy

    with rawpy.imread(str(path)) as raw:
        return raw.raw_image_visible.astype(np.float64) - BLACK


def worst_low_freq(reference: np.ndarray, image: np.ndarray) -> float:
    """The largest low-frequency error of any CFA plane of ``image`` against ``reference`` (RGGB)."""
    return max(p["low_freq_error"] for p in plane_fidelity(reference, image, "RGGB").values())


def run(
    checkpoint: str, adapt: int = 0, adapt_lr: float = 1e-4, cases: list[int] | None = None, denoise_args: tuple = ()
) -> list[dict]:
    from n2n_raw.cli import main

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, light, level, clip) in enumerate(CASES):
            if cases is not None and k not in cases:
                continue
            noisy = scene(light, level, clip, seed=k)
            path = write_dng(Path(tmp) / f"case{k}.dng", noisy)
            extra = ["--adapt", str(adapt), "--adapt-lr", str(adapt_lr)] if adapt else []
            assert (
                main(
                    [
                        "denoise",
                        str(path),
                        "--checkpoint",
                        checkpoint,
                        "--no-preview",
                        "--no-side-by-side",
                        *extra,
                        *denoise_args,
                    ]
                )
                == 0
            )
            report = json.loads((Path(tmp) / f"case{k}_denoised.json").read_text())
            clean = clean_scene(light, level, clip)
            noisy_counts, denoised_counts = dng_counts(path), dng_counts(Path(tmp) / f"case{k}_denoised.dng")
            fidelity = report["fidelity"].values()
            rows.append({"case": name, **{p: v["mean_shift"] for p, v in report["fidelity"].items()},
                         "low_freq_max": max(v["low_freq_error"] for v in fidelity),
                         "low_freq_noise_max": max(v["low_freq_noise"] for v in fidelity),
                         "low_freq_excess": report["fidelity_worst"]["max_low_freq_excess"],
                         "clean_low_freq_noisy": worst_low_freq(clean, noisy_counts),
                         "clean_low_freq_denoised": worst_low_freq(clean, denoised_counts),
                         "below_black": float((noisy < BLACK).mean()),
                         "psnr_noisy": psnr(noisy_counts, clean),
                         "psnr": psnr(denoised_counts, clean),
                         "adapt": report.get("adapt")})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="pretrained")
    parser.add_argument("--adapt", type=int, default=0, help="`denoise --adapt STEPS`: fine-tune on each photo first")
    parser.add_argument("--adapt-lr", type=float, default=1e-4, help="learning rate of --adapt")
    parser.add_argument("--cases", type=int, nargs="*", help="indices of the cases to run (default: all)")
    parser.add_argument("--amp", default="auto", help="`denoise --amp` (and so the precision of --adapt's training)")
    parser.add_argument("--adapt-balance", default="off", help="`denoise --adapt-balance`: --adapt's loss weighting")
    args = parser.parse_args()
    rows = run(args.checkpoint, args.adapt, args.adapt_lr, args.cases,
               ("--amp", args.amp, "--adapt-balance", args.adapt_balance))  # fmt: skip
    print(
        f"checkpoint: {args.checkpoint}"
        + (
            f", --adapt {args.adapt} --adapt-lr {args.adapt_lr:g} --adapt-balance {args.adapt_balance}"
            if args.adapt
            else ""
        )
    )
    print("| case | pixels below black | R | G1 | G2 | B | worst low-frequency error (input's own noise) | beyond "
          "max(1 %, noise) | against clean: noisy → denoised | PSNR noisy → denoised |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {100 * r['below_black']:.1f} % | " + " | ".join(f"{100 * r[p]:+.2f} %" for p in ("R", "G1", "G2", "B"))
              + f" | {100 * r['low_freq_max']:.2f} % ({100 * r['low_freq_noise_max']:.2f} %) | {100 * r['low_freq_excess']:.2f} %"
              + f" | {100 * r['clean_low_freq_noisy']:.2f} → {100 * r['clean_low_freq_denoised']:.2f} %"
              + f" | {r['psnr_noisy']:.2f} → {r['psnr']:.2f} dB |")  # fmt: skip
    for r in rows:
        if r["adapt"]:
            a = r["adapt"]
            print(f"{r['case']}: --adapt {a['steps']} on {a['crops']} crops in {a['seconds']:.1f} s, held-out loss "
                  f"{a['holdout_before']:.3g} → {a['holdout_after']:.3g}")  # fmt: skip


if __name__ == "__main__":
    main()
