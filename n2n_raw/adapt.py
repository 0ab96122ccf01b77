"""``n2n-raw denoise --adapt STEPS``: fine-tune the model on the photo itself before denoising it.

Neighbor2Neighbor needs only noisy images, so the photo to be denoised is also training data for its own
camera, ISO and scene. The photo is cut into crops exactly as ``prepare-raw`` cuts a user's photos (same
levels, same CFA target as the model), one crop in ten is held out, and ``n2n-raw train --init`` runs for
``STEPS`` steps from the model's weights with a fresh optimiser. The held-out Neighbor2Neighbor loss of the
model before and after (:func:`n2n_raw.train_data.holdout_score`, a score without clean images) is reported. The
crops and the adapted checkpoint live in a temporary folder beside the output and are removed afterwards.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .device import AmpFlag

log = logging.getLogger("n2n_raw.adapt")


@dataclass(frozen=True)
class Adaptation:
    checkpoint: str
    steps: int
    seconds: float
    holdout_before: float
    holdout_after: float
    crops: int
    balance: str = "off"


def adapt_to_photo(
    photo_path: Path,
    checkpoint: str,
    steps: int,
    lr: float,
    work_dir: Path,
    seed: int = 0,
    amp: AmpFlag = "auto",
    balance: str = "off",
) -> Adaptation:
    """Fine-tune ``checkpoint`` on crops of ``photo_path``; the returned checkpoint lies in ``work_dir``.

    ``amp`` is the training precision, as ``train --amp`` (``denoise --amp off`` adapts in fp32 too).
    ``balance`` (off, crops, planes) is the loss weighting, as ``train --balance-crops`` / ``--balance-planes``."""
    from .checkpoint import read_checkpoint
    from .data import bayer_training_set
    from .device import Runtime
    from .errors import DataError
    from .prepare_raw import PrepareRawConfig, prepare_raw
    from .train import train
    from .train_config import TrainConfig
    from .train_data import holdout_score, split_holdout

    start = time.perf_counter()
    info = read_checkpoint(checkpoint)
    crop = 256
    crops_dir, run_dir = work_dir / "crops", work_dir / "run"
    try:
        prepare_raw(
            [str(photo_path)],
            PrepareRawConfig(out=str(crops_dir), crop_size=crop, stride=crop, pattern=info.data.cfa_target),
        )
    except DataError as exc:
        raise DataError(f"{photo_path}: too small to adapt to ({exc})") from None
    n = len(bayer_training_set(crops_dir, crop, False, seed))
    holdout = max(1, n // 10)
    if n - holdout < 1:
        raise DataError(f"{photo_path}: gives {n} crop(s) of {crop}²; --adapt needs at least 2")
    config = TrainConfig(data=str(crops_dir), out=str(run_dir), init=checkpoint, epochs=1, steps_per_epoch=steps,
                         max_steps=steps, batch_size=min(4, n - holdout), crop=crop, lr=lr, holdout=holdout,
                         num_workers=0, log_every=max(1, steps // 5), seed=seed, amp=amp,
                         balance_crops=balance == "crops", balance_planes=balance == "planes")  # fmt: skip
    summary = train(config)
    _, held = split_holdout(bayer_training_set(crops_dir, crop, False, seed), holdout)
    score = holdout_score(held, Runtime.resolve("auto", "off", "auto"), seed)
    from .checkpoint import load_model

    before = score(Runtime.resolve("auto", "off", "auto").prepare(load_model(checkpoint)[0]).eval())["holdout_loss"]
    after = summary["metrics"].get("val_holdout_loss", float("nan"))
    return Adaptation(summary["checkpoint"], steps, time.perf_counter() - start, before, after, n, balance)


def adaptation_dir(out: Path):
    """A temporary folder beside the output (same disk), removed when the block ends."""
    return tempfile.TemporaryDirectory(prefix=f".{out.stem}.adapt.", dir=out.parent)
