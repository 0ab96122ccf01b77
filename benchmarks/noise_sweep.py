"""Does the model adapt to the noise level? PSNR noisy → denoised as the sensor gain falls.

``python -m benchmarks.noise_sweep [--checkpoint pretrained]`` makes the stress set's photo (scikit-image's
``astronaut`` unprocessed to a linear Bayer mosaic, :mod:`benchmarks.fidelity_stress`) at a fixed exposure
and adds shot noise at several sensor gains (counts per photo-electron: β1 = gain / (white − black)) and read
noise of 12 counts, then denoises each with the Python API. A blind denoiser must leave a quiet photo
alone; one that removes the same amount of texture whatever the noise falls below its noisy input as the
gain falls. SIDD's phones span β1 = 1.2e-4 … 2.2e-2 (6.3e-4 … 2.0e-2 on the demo training crops).
"""

from __future__ import annotations

import argparse

import numpy as np

from .fidelity_stress import BLACK, WHITE, clean_scene

GAINS = (16.0, 4.0, 1.0, 0.25)
EXPOSURES = (0.2, 0.6)


def psnr(x: np.ndarray, clean: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((x.astype(np.float64) - clean) ** 2)))


def sweep(checkpoint: str, size=(512, 768), gains=GAINS, exposures=EXPOSURES, amp: str = "auto") -> list[dict]:
    import n2n_raw

    denoiser = n2n_raw.load(checkpoint, amp=amp)
    span = WHITE - BLACK
    rows = []
    for exposure in exposures:
        clean = clean_scene((0.5, 1.0, 0.7), exposure, False, size=size)
        for k, gain in enumerate(gains):
            rng = np.random.default_rng(k)
            counts = rng.poisson(clean / gain) * gain + rng.normal(0.0, 12.0, clean.shape)
            noisy = (np.round(counts) / span).astype(np.float32)  # above black, normalised, not clipped
            denoised = denoiser.denoise_mosaic(noisy, "RGGB")
            rows.append({"exposure": exposure, "gain": gain, "beta1": gain / span,
                         "psnr_noisy": psnr(noisy, clean / span), "psnr": psnr(denoised, clean / span)})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="pretrained")
    parser.add_argument("--size", type=int, nargs=2, default=(512, 768), help="mosaic height and width (even)")
    parser.add_argument("--amp", default="auto")
    args = parser.parse_args()
    rows = sweep(args.checkpoint, tuple(args.size), amp=args.amp)
    print(f"checkpoint: {args.checkpoint}, {args.size[0]}×{args.size[1]} mosaic")
    print("| exposure | gain | β1 | PSNR noisy → denoised | gain in dB |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['exposure']:g} | {r['gain']:g} | {r['beta1']:.1e} | {r['psnr_noisy']:.2f} → {r['psnr']:.2f} dB "
              f"| {r['psnr'] - r['psnr_noisy']:+.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
