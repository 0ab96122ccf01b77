"""Tiny SIDD-like block folders and checkpoints for the evaluate / submit / denoise tests.

Block files are written with ``scipy.io.savemat`` exactly as SIDD ships them (MAT v5, variable named like
the file stem, (images, blocks, H, W) float32), only smaller; ``blocks_info.json`` names the scene instance
of each image, as the demo set does, so CFAs and per-phone/ISO breakdowns come from real instance names.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import scipy.io
import torch

from n2n_raw.checkpoint import save_checkpoint
from n2n_raw.model import UNet, UNetConfig

# Benchmark instances 0 (S6, GRBG, ISO 800), 1 (GP, BGGR, ISO 10000) and 4 (IP, RGGB, ISO 1600).
INSTANCES = ["0009_001_S6_00800_00350_3200_L", "0021_001_GP_10000_05000_5500_N", "0031_001_IP_01600_02000_3200_N"]
PATTERNS = ["GRBG", "BGGR", "RGGB"]


def smooth_blocks(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """Clean-looking float32 blocks in (0.1, 0.9): a few random low-frequency waves per block."""
    rng = np.random.default_rng(seed)
    *lead, h, w = shape
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    out = np.empty(shape, np.float32)
    for idx in np.ndindex(*lead):
        fy, fx, phase = rng.uniform(0.5, 3, 3)
        out[idx] = 0.5 + 0.3 * np.sin(2 * np.pi * (fy * y + fx * x) + phase) * rng.uniform(0.3, 1)
    return out


def write_block_dir(folder: Path, n_blocks: int = 2, size: int = 32, sigma: float = 0.03, seed: int = 0) -> dict:
    """Validation and benchmark block files (noisy + clean) for :data:`INSTANCES`; returns the arrays."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {}
    for k, (noisy_name, clean_name) in enumerate(
        [
            ("ValidationNoisyBlocksRaw", "ValidationGtBlocksRaw"),
            ("BenchmarkNoisyBlocksRaw", "BenchmarkGtBlocksRaw_DEMO_ONLY"),
        ]
    ):
        clean = smooth_blocks((len(INSTANCES), n_blocks, size, size), seed + k)
        noisy = np.clip(clean + rng.normal(0, sigma, clean.shape), 0, 1).astype(np.float32)
        scipy.io.savemat(folder / f"{noisy_name}.mat", {noisy_name: noisy})
        scipy.io.savemat(folder / f"{clean_name}.mat", {clean_name: clean})
        arrays[noisy_name], arrays[clean_name] = noisy, clean
    (folder / "blocks_info.json").write_text(json.dumps({"validation": INSTANCES, "benchmark": INSTANCES}))
    return arrays


def write_tiny_checkpoint(folder: Path, width: int = 8, seed: int = 0, init_scale: float = 0.1) -> Path:
    """A randomly initialised packed-raw U-Net of small width, saved as ``<folder>/checkpoints/step_*.pt``.

    ``init_scale=1`` gives full-scale weights, whose outputs are far from constant."""
    torch.manual_seed(seed)
    config = UNetConfig(width=width, init_scale=init_scale)
    model = UNet(config)
    state = {"model": model.state_dict(), "model_config": config.to_dict(), "step": 0, "epoch": 1,
             "batch_in_epoch": 0, "optimizer": {}, "train_config": {}}  # fmt: skip
    return save_checkpoint(Path(folder) / "checkpoints", state)
