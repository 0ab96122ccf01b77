"""The model shipped with the package: ``n2n_raw/resources/pretrained_raw.pt``.

A packed-raw U-Net trained with ``make pretrained`` (the recipe and its measured scores are in
``n2n_raw/resources/MODEL_CARD.md``). It is a checkpoint without optimiser state, read with
``weights_only=True`` like every checkpoint. ``evaluate``, ``submit`` and ``denoise`` use it when no
``--checkpoint`` is given; ``train --init pretrained`` fine-tunes it.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .errors import CheckpointError

PRETRAINED = Path(__file__).resolve().parent / "resources" / "pretrained_raw.pt"
KEEP = ("format", "model", "ema_model", "model_config", "train_config", "data", "step", "epoch")


def pretrained_path() -> Path:
    """The shipped checkpoint; a one-line error if this installation lacks it."""
    if not PRETRAINED.is_file():
        raise CheckpointError(f"{PRETRAINED}: the shipped model is missing from this installation; pass --checkpoint")
    return PRETRAINED


def export_pretrained(
    checkpoint: str | os.PathLike, out: str | os.PathLike = PRETRAINED, keep_local_means: int | None = None
) -> Path:
    """Write ``checkpoint`` without its optimiser, the weight average (if any) as the model: what is shipped.

    ``keep_local_means`` sets the network's :attr:`n2n_raw.model.UNetConfig.keep_local_means` (an option without
    weights: the block size over which the U-Net's correction loses its local means) to run it with; its
    training configuration stays what it was trained with. The shipped model, trained at 32, runs at 16: measured
    no worse on any row of the demo blocks, the noise sweep and the stress photos, and better on the stress
    photos' colour (MODEL_CARD.md).
    """
    from .atomic import atomic_write
    from .checkpoint import load_checkpoint
    from .model import UNet, UNetConfig

    state = load_checkpoint(checkpoint)
    slim = {k: v for k, v in state.items() if k in KEEP}
    if "ema_model" in slim:
        slim["model"] = slim.pop("ema_model")
    if keep_local_means is not None:
        slim["model_config"] = {**slim["model_config"], "keep_local_means": int(keep_local_means)}
        try:
            UNet(UNetConfig(**slim["model_config"]))
        except ValueError as exc:
            raise CheckpointError(f"{checkpoint}: --keep-local-means {keep_local_means}: {exc}") from None

    def write(tmp: str) -> None:
        # Through a file object: torch.save names the archive's root after a path it is given (here a random
        # temporary name), which would make two exports of the same weights differ in bytes.
        with open(tmp, "wb") as fh:
            torch.save(slim, fh)

    return atomic_write(out, write)


def main(argv: list[str] | None = None) -> int:
    """``python -m n2n_raw.pretrained CHECKPOINT [OUT] [--keep-local-means B]``: what ``make pretrained`` ships.
    A bad checkpoint or block size is one line naming it (``n2n-raw: error: …``), exit status 2."""
    import argparse
    import sys

    from .errors import N2NError

    parser = argparse.ArgumentParser(description="write a checkpoint as the shipped model (weights only)")
    parser.add_argument("checkpoint")
    parser.add_argument("out", nargs="?", default=str(PRETRAINED))
    parser.add_argument("--keep-local-means", type=int, default=None, help="run the network at this block size")
    args = parser.parse_args(argv)
    try:
        print(export_pretrained(args.checkpoint, args.out, args.keep_local_means))
    except N2NError as exc:
        print(f"n2n-raw: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
