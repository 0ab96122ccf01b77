"""Does the Neighbor2Neighbor loss itself reward blur on a quiet photo?

``python -m benchmarks.neighbour_gap`` takes the noise sweep's photo (:mod:`benchmarks.noise_sweep`: the
stress set's ``astronaut`` mosaic at exposure 0.2, packed to 4 planes as the raw model sees it) at several
sensor gains, from no noise at all to SIDD's, and evaluates the training loss (eq. 6, γ = 1 as the raw track
trains, the package's own :class:`n2n_raw.loss.Neighbor2NeighborLoss`, averaged over 16 draws of neighbour
pairs) for a family of fixed denoisers: a Gaussian blur of each plane with σ from 0 (the identity) up.

With f = identity the regulariser is exactly 0 and the reconstruction term is the *neighbour gap*
‖g1(x) − g2(x)‖² plus twice the noise variance; a blur lowers the gap term. Where noise is small against
the gap, the loss is lowest for a blur even though the identity is the best possible output, so a network
trained to the loss's minimum removes texture that was never noise. The table prints, per gain, the σ the
loss prefers and the PSNR (against the clean photo) of that σ and of the identity.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from .fidelity_stress import BLACK, WHITE, clean_scene
from .noise_sweep import psnr

GAINS = (0.0, 0.25, 1.0, 4.0, 16.0)
SIGMAS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.5)


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of each plane of an (N, C, H, W) tensor, reflected at the edges; σ = 0 is the identity."""
    if sigma == 0:
        return x
    radius = max(1, int(np.ceil(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    kernel = (kernel / kernel.sum()).to(x.dtype)
    channels = x.shape[1]
    padded = torch.nn.functional.pad(x, (radius, radius, radius, radius), mode="reflect")
    out = torch.nn.functional.conv2d(padded, kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    return torch.nn.functional.conv2d(out, kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)


def gap_table(size=(512, 768), gains=GAINS, sigmas=SIGMAS, draws: int = 16, exposure: float = 0.2) -> list[dict]:
    from n2n_raw.bayer import pack_bayer
    from n2n_raw.loss import Neighbor2NeighborLoss

    span = WHITE - BLACK
    clean_counts = clean_scene((0.5, 1.0, 0.7), exposure, False, size=size)
    clean = torch.from_numpy(pack_bayer(clean_counts / span).astype(np.float32))[None]
    loss = Neighbor2NeighborLoss()
    rows = []
    for k, gain in enumerate(gains):
        if gain == 0:
            noisy_counts = clean_counts
        else:
            rng = np.random.default_rng(k)
            noisy_counts = rng.poisson(clean_counts / gain) * gain + rng.normal(0.0, 12.0, clean_counts.shape)
        noisy = torch.from_numpy(pack_bayer(noisy_counts / span).astype(np.float32))[None]
        for sigma in sigmas:
            generator = torch.Generator().manual_seed(0)  # the same pairs for every σ
            total = 0.0
            for _ in range(draws):
                total += float(loss(lambda x, s=sigma: blur(x, s), noisy, generator=generator, gamma=1.0).total)
            rows.append(
                {
                    "gain": gain,
                    "sigma": sigma,
                    "loss": total / draws,
                    "psnr": psnr(blur(noisy, sigma).numpy(), clean.numpy()),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs=2, default=(512, 768), help="mosaic height and width (even)")
    parser.add_argument("--draws", type=int, default=16, help="draws of neighbour pairs per loss value")
    args = parser.parse_args()
    rows = gap_table(tuple(args.size), draws=args.draws)
    print(f"{args.size[0]}×{args.size[1]} mosaic, exposure 0.2, γ = 1, {args.draws} pair draws per value")
    print("| gain | σ preferred by the loss | PSNR of that σ | PSNR of the identity | best σ by PSNR (PSNR) |")
    print("|---|---|---|---|---|")
    for gain in sorted({r["gain"] for r in rows}):
        group = [r for r in rows if r["gain"] == gain]
        by_loss = min(group, key=lambda r: r["loss"])
        by_psnr = max(group, key=lambda r: r["psnr"])
        identity = next(r for r in group if r["sigma"] == 0)
        noise = "none" if gain == 0 else f"{gain:g}"
        print(f"| {noise} | {by_loss['sigma']:g} | {by_loss['psnr']:.2f} dB | {identity['psnr']:.2f} dB "
              f"| {by_psnr['sigma']:g} ({by_psnr['psnr']:.2f} dB) |")  # fmt: skip


if __name__ == "__main__":
    main()
