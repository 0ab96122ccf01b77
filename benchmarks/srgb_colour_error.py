"""Where an sRGB model's error lies: grey (the mean over R, G, B) or colour (what is left).

``python -m benchmarks.srgb_colour_error CKPT [CKPT ...]`` denoises scikit-image's ``chelsea`` (held out from the
embedded training photos) with Gaussian noise σ = 25 and splits each pixel's error vector e into its grey part
ē·(1, 1, 1) and its colour part e − ē, which are orthogonal, so that MSE = mean(ē²) + mean((e − ē)²).
A model whose error is mostly colour has lost the chroma of the photo (a colour cast), not its detail.
"""

from __future__ import annotations

import sys

import numpy as np
import torch


def colour_error(checkpoint: str, seed: int = 0) -> dict[str, float]:
    import skimage.data

    from n2n_raw.checkpoint import load_model

    clean = skimage.data.chelsea().astype(np.float32) / 255.0
    noisy = clean + np.random.default_rng(seed).normal(0, 25 / 255, clean.shape).astype(np.float32)
    model = load_model(checkpoint)[0].eval()
    with torch.inference_mode():
        out = model(torch.from_numpy(noisy).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    e = np.clip(out, 0.0, 1.0) - clean
    grey = e.mean(axis=2, keepdims=True)
    chroma = lambda a: float((a - a.mean(axis=2, keepdims=True)).std())  # noqa: E731
    return {
        "psnr": float(10 * np.log10(1.0 / (e**2).mean())),
        "mse_grey": float((grey**2).mean()),
        "mse_colour": float(((e - grey) ** 2).mean()),
        "chroma_out_over_clean": chroma(out) / chroma(clean),
    }


def main(argv: list[str] | None = None) -> int:
    for checkpoint in argv if argv is not None else sys.argv[1:]:
        r = colour_error(checkpoint)
        print(f"{checkpoint}: PSNR {r['psnr']:.2f} dB, MSE grey {r['mse_grey']:.5f}, colour {r['mse_colour']:.5f}, "
              f"chroma out/clean {r['chroma_out_over_clean']:.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
