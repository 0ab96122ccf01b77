"""Data-loader throughput from prepared crops vs the training step rate: the loader must never be the limit.

A prepared-crops folder (``crops.npy`` memory-mapped, as ``n2n-raw prepare-sidd`` writes it) is created in a
temporary directory; :func:`n2n_raw.data.bayer_training_set` reads random even-offset 256² crops from it and
packs them, through a ``DataLoader`` in the main process (``num_workers=0``: the cost of one sample on one
core, the pessimistic case). The ratio is loader samples/s over the training step's samples/s.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from n2n_raw.data import PREPARED_ARRAY, PREPARED_INFO, EpochSampler, bayer_training_set

from .common import row


def _prepared(folder: Path, n: int, side: int) -> None:
    array = np.lib.format.open_memmap(folder / PREPARED_ARRAY, mode="w+", dtype=np.float32, shape=(n, side, side))
    rng = np.random.default_rng(0)
    for k in range(n):
        array[k] = rng.random((side, side), dtype=np.float32)
    array.flush()
    (folder / PREPARED_INFO).write_text(json.dumps({"pattern": "RGGB"}))


def run(device: torch.device, quick: bool = False, step_seconds: float = 0.0, batch: int = 4) -> dict:
    n = 16 if quick else 64
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        _prepared(Path(tmp), n, 512)
        for augment in (False, True):
            dataset = bayer_training_set(tmp, crop=256, augment=augment, seed=0)
            sampler = EpochSampler(len(dataset), batch, seed=0)
            loader = torch.utils.data.DataLoader(dataset, batch_size=batch, sampler=sampler, num_workers=0,
                                                 pin_memory=device.type == "cuda", drop_last=True)  # fmt: skip
            seconds = []
            for epoch in range(1, 3 if quick else 5):
                sampler.set_epoch(epoch)
                start = time.perf_counter()
                for b in loader:
                    b["noisy"].to(device, non_blocking=True)
                seconds.append(time.perf_counter() - start)
            # The first epoch also pages the crops in from disk; the median of the others is the steady rate.
            rates["augment" if augment else "plain"] = len(sampler) / statistics.median(seconds[1:])
    step_rate = batch / step_seconds if step_seconds else 0.0
    rows = [
        row(f"data loader ({name}), 1 process", f"{rate:.0f} samples/s", f"step: {step_rate:.1f} samples/s",
            rate / step_rate if step_rate else 0.0, 1.0, "ratio = loader / training step; > 1: never the bottleneck")
        for name, rate in rates.items()
    ]  # fmt: skip
    return {"samples_per_s": rates, "step_samples_per_s": step_rate, "rows": rows}
