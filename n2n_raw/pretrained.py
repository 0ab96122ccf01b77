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


def export_pretrained(checkpoint: str | os.PathLike, out: str | os.PathLike = PRETRAINED) -> Path:
    """Write ``checkpoint`` without its optimiser, the weight average (if any) as the model: what is shipped."""
    from .atomic import atomic_write
    from .checkpoint import load_checkpoint

    state = load_checkpoint(checkpoint)
    slim = {k: v for k, v in state.items() if k in KEEP}
    if "ema_model" in slim:
        slim["model"] = slim.pop("ema_model")
    return atomic_write(out, lambda tmp: torch.save(slim, tmp))


if __name__ == "__main__":  # python -m n2n_raw.pretrained CHECKPOINT [OUT]: what `make pretrained` ships
    import sys

    print(export_pretrained(*sys.argv[1:3]))
