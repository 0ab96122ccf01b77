"""How much of a raw U-Net's output comes through its deep path.

``python -m benchmarks.deep_path CKPT [CKPT ...] [--blocks-dir data/sidd-mini] [--limit 64]``

The U-Net's last decoder stage (``up1``) joins the upsampled deep features with the network input; with the
deep features replaced by zeros, what is left is the *shallow path*: input → two 3×3 convolutions → the 1×1
head, a 5×5 receptive field. For each checkpoint this prints the demo validation PSNR of the whole network
and of its shallow path alone, and the share of the network's correction (output − input, for an identity-path
network; output for the official one) that the deep path carries: ``‖f(x) − f_shallow(x)‖ / ‖f(x) − x‖``
(``‖f(x) − f_shallow(x)‖ / ‖f(x)‖`` without the identity path). A network whose deep path never trained
denoises with a 5×5 window, whatever its depth (benchmarks/STABILITY.md).
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
import torch

from n2n_raw.evaluate import _flatten, spread
from n2n_raw.inference import InferenceOptions, denoise_blocks, load_network
from n2n_raw.metrics import block_metrics
from n2n_raw.sidd import load_block_set


class _CutDeepPath:
    """While active, ``up1``'s upsampled deep features are zeros (its input skip is left as it is)."""

    def __init__(self, model: torch.nn.Module):
        self.up = model.up1.up

    def __enter__(self):
        self.handle = self.up.register_forward_hook(lambda m, i, o: torch.zeros_like(o))
        return self

    def __exit__(self, *exc):
        self.handle.remove()


def measure(checkpoint: str, blocks_dir: str, limit: int) -> dict:
    model, settings, info = load_network(checkpoint, InferenceOptions(amp="off"))
    block_set = load_block_set(blocks_dir, "validation", require_clean=True)
    data = _flatten(block_set, spread(block_set.noisy.shape[0] * block_set.noisy.shape[1], limit))
    noisy, clean = data["noisy"].astype(np.float32), data["clean"].astype(np.float32)
    full = denoise_blocks(model, data["noisy"], data["patterns"], settings)
    with _CutDeepPath(model):
        shallow = denoise_blocks(model, data["noisy"], data["patterns"], settings)
    reference = noisy if model.config.residual else np.zeros_like(noisy)
    correction = float(np.linalg.norm(full - reference))  # 0 for a network that is still the exact identity
    share = float(np.linalg.norm(full - shallow)) / correction if correction > 0 else 0.0
    return {
        "checkpoint": checkpoint, "step": info.step, "residual": model.config.residual,
        "init_scale": model.config.init_scale, "noisy_psnr": float(block_metrics(noisy, clean)["psnr"].mean()),
        "psnr": float(block_metrics(full, clean)["psnr"].mean()),
        "shallow_psnr": float(block_metrics(shallow, clean)["psnr"].mean()), "deep_share": share,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--blocks-dir", default="data/sidd-mini")
    parser.add_argument("--limit", type=int, default=64)
    args = parser.parse_args(argv)
    print(f"CPU: {platform.processor() or platform.machine()}, torch {torch.__version__}, fp32")
    print("| checkpoint | step | identity path | init scale | noisy | network | shallow path alone | deep share |")
    print("|---|---|---|---|---|---|---|---|")
    for ckpt in args.checkpoints:
        r = measure(ckpt, args.blocks_dir, args.limit)
        print(
            f"| {ckpt} | {r['step']} | {'yes' if r['residual'] else 'no'} | {r['init_scale']:g} | {r['noisy_psnr']:.2f} dB"
            f" | {r['psnr']:.2f} dB | {r['shallow_psnr']:.2f} dB | {100 * r['deep_share']:.1f} % |"
        )


if __name__ == "__main__":
    main()
