"""``n2n-raw evaluate``: raw validation PSNR/SSIM of a checkpoint on SIDD's 256×256 Bayer blocks.

Protocol (docs/method.md §7.5, the metric conventions are in :mod:`n2n_raw.metrics`): every block is denoised
with its own CFA handled (:mod:`n2n_raw.inference`), clamped to [0, 1] and scored against the clean block;
PSNR (float, peak 1) and Gaussian SSIM per block, then the mean over blocks. The noisy input is scored the
same way (the identity baseline), and both are broken down per phone and per ISO when the block file's
images are known scene instances.

Writes to ``--out``: ``metrics.json`` (everything, including per-block values), ``metrics.md`` (a short
table) and ``contact_sheet.png`` (noisy | denoised | clean through the preview ISP of :mod:`n2n_raw.isp`).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from .atomic import atomic_write_text
from .checkpoint import Checkpoint
from .config import add_arguments, arg, from_arguments
from .fidelity import plane_fidelity, worst
from .inference import InferenceOptions, InferenceSettings, denoise_blocks, load_network
from .metrics import block_metrics, mean_by_group

log = logging.getLogger("n2n_raw.evaluate")
DEMO_BLOCKS_DIR = "data/sidd-mini"
PROTOCOL = (
    "per 256x256 Bayer block: output clamped to [0,1]; PSNR = 10*log10(1/MSE) on float values (peak 1); "
    "SSIM = skimage structural_similarity on the mosaic x255, data_range 255, Gaussian window sigma 1.5 (11x11), "
    "population covariance; both averaged over blocks"
)


@dataclass(frozen=True)
class EvalConfig(InferenceOptions):
    """``n2n-raw evaluate`` options (network options are inherited from InferenceOptions)."""

    checkpoint: str = arg(
        "",
        "checkpoint to evaluate (the model is rebuilt from its stored configuration); empty or 'pretrained': the model shipped with the package",
    )
    blocks_dir: str = arg(
        "", "folder with the block files; empty: the checkpoint's validation folder, else data/sidd-mini"
    )
    split: Literal["validation", "benchmark"] = arg(
        "validation", "validation, or benchmark (only the demo set has clean benchmark blocks)"
    )
    patterns: tuple[str, ...] = arg(
        (), "CFA of each block image, when the folder has neither blocks_info.json nor 40 images"
    )
    out: str = arg("", "output folder; empty: <run>/eval beside the checkpoint's checkpoints/ folder")
    limit: int = arg(0, "score at most this many blocks, spread evenly over the images (0: all)")
    sheet_blocks: int = arg(6, "blocks shown in the contact sheet (0: none)")


def default_blocks_dir(blocks_dir: str, checkpoint: Checkpoint | None) -> Path:
    """The explicit folder, else the validation folder the checkpoint was trained with, else the demo set."""
    if blocks_dir:
        return Path(blocks_dir)
    trained = checkpoint.train_config if checkpoint is not None else None
    if (
        trained is not None
        and trained.track == "raw"
        and trained.validation_dir
        and Path(trained.validation_dir).is_dir()
    ):
        return Path(trained.validation_dir)
    return Path(DEMO_BLOCKS_DIR)


def default_out(checkpoint: Path) -> Path:
    """``<run>/eval`` beside a run's ``checkpoints/`` folder; ``runs/eval-<name>`` for any other checkpoint."""
    checkpoint = Path(checkpoint).resolve()
    if checkpoint.parent.name == "checkpoints":
        return checkpoint.parent.parent / "eval"
    return Path("runs") / f"eval-{checkpoint.stem}"


def spread(n: int, limit: int) -> np.ndarray:
    """``limit`` indices of range(n) spread evenly (all of them when limit is 0 or ≥ n)."""
    if limit <= 0 or limit >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def _flatten(block_set, select: np.ndarray) -> dict:
    """Blocks (K, H, W), one pattern / image index / instance per selected block."""
    n_img, n_blk = block_set.noisy.shape[:2]
    image = select // n_blk
    return {
        "noisy": block_set.noisy.reshape(n_img * n_blk, *block_set.noisy.shape[2:])[select],
        "clean": None if block_set.clean is None else block_set.clean.reshape(n_img * n_blk, *block_set.clean.shape[2:])[select],
        "patterns": [block_set.patterns[i] for i in image],
        "image": image, "block": select % n_blk,
        "instances": [block_set.instances[i] for i in image],
    }  # fmt: skip


def make_raw_validator(
    validation_dir: str, limit: int, settings: InferenceSettings
) -> Callable[[torch.nn.Module], dict]:
    """The per-epoch validation used by training: ``fn(model) -> {"psnr", "ssim", "noisy_psnr", "psnr_<phone>", …}``.

    Blocks are read and the noisy baseline is scored once, here; each call only runs the network (the
    model is expected in eval mode under ``no_grad``) with ``settings`` (the CFA target and phase of the
    training data: exactly what ``evaluate`` and ``submit`` will do) and scores its output.
    """
    from .sidd import load_block_set

    block_set = load_block_set(validation_dir, "validation", require_clean=True)
    data = _flatten(block_set, spread(block_set.noisy.shape[0] * block_set.noisy.shape[1], limit))
    clean = data["clean"].astype(np.float32)
    baseline = block_metrics(data["noisy"].astype(np.float32), clean)

    phones = [i.phone if i else "unknown" for i in data["instances"]]

    def validate(model: torch.nn.Module) -> dict:
        denoised = denoise_blocks(model, data["noisy"], data["patterns"], settings)
        scores = block_metrics(denoised, clean)
        per_phone = {f"psnr_{g}": v["mean"] for g, v in mean_by_group(scores["psnr"], phones).items()}
        return {
            "psnr": float(scores["psnr"].mean()), "ssim": float(scores["ssim"].mean()),
            "noisy_psnr": float(baseline["psnr"].mean()), "noisy_ssim": float(baseline["ssim"].mean()),
            **per_phone,
        }  # fmt: skip

    def sheet(model: torch.nn.Module, blocks: int = 3) -> np.ndarray:
        """noisy | denoised | clean of a few validation blocks, (H, W, 3) uint8 (for TensorBoard)."""
        from .isp import contact_sheet, demosaic_bilinear, exposure_gain, grey_world_gains, render_srgb

        picks = spread(len(clean), blocks)
        denoised = denoise_blocks(model, data["noisy"][picks], [data["patterns"][k] for k in picks], settings)
        rows = []
        for k, d in zip(picks, denoised):
            pattern = data["patterns"][k]
            gains = grey_world_gains(clean[k], pattern)
            gain = exposure_gain(demosaic_bilinear(np.clip(clean[k], 0.0, 1.0), pattern) * gains)
            rows.append([render_srgb(x, pattern, gains, gain) for x in (data["noisy"][k], d, clean[k])])
        return np.asarray(contact_sheet(rows, labels=("noisy", "denoised", "clean")))

    validate.sheet = sheet
    return validate


def evaluate(config: EvalConfig) -> dict:
    """Score a checkpoint; writes metrics.json, metrics.md and contact_sheet.png; returns the JSON dict."""
    from .sidd import load_block_set

    model, settings, checkpoint = load_network(config.checkpoint, config)
    blocks_dir = default_blocks_dir(config.blocks_dir, checkpoint)
    block_set = load_block_set(blocks_dir, config.split, list(config.patterns) or None, require_clean=True)
    data = _flatten(block_set, spread(block_set.noisy.shape[0] * block_set.noisy.shape[1], config.limit))
    start = time.perf_counter()
    denoised = denoise_blocks(model, data["noisy"], data["patterns"], settings, progress=True)
    seconds = time.perf_counter() - start
    clean = data["clean"].astype(np.float32)
    ours, noisy = block_metrics(denoised, clean), block_metrics(data["noisy"].astype(np.float32), clean)
    fidelity = [plane_fidelity(n, d, p) for n, d, p in zip(data["noisy"], denoised, data["patterns"])]
    # The same measure against the clean reference, and the input's own offset from it. Where the input is
    # clipped at black (SIDD's noisy raw is stored in [0, 1]), its plane means sit above the clean ones, so
    # a denoiser that estimates the clean signal *must* move them: "against input" and "against clean" can
    # only agree where the input carries no clipping bias.
    to_clean = [plane_fidelity(c, d, p) for c, d, p in zip(clean, denoised, data["patterns"])]
    input_bias = [plane_fidelity(c, n, p) for c, n, p in zip(clean, data["noisy"], data["patterns"])]
    result = {
        "checkpoint": str(config.checkpoint or checkpoint.path), "step": checkpoint.step,  # no --checkpoint: the shipped one
        "cfa": {"mode": settings.cfa_mode, "target": settings.cfa_target}, "blocks_dir": str(blocks_dir),
        "split": config.split, "protocol": PROTOCOL, "options": asdict(config), "seconds": seconds,
        "summary": {
            "blocks": int(len(clean)), "images": int(len(set(data["image"].tolist()))),
            "psnr": float(ours["psnr"].mean()), "ssim": float(ours["ssim"].mean()),
            "noisy_psnr": float(noisy["psnr"].mean()), "noisy_ssim": float(noisy["ssim"].mean()),
        },
        "fidelity": fidelity_summary(fidelity),
        "fidelity_to_clean": fidelity_summary(to_clean),
        "input_bias": fidelity_summary(input_bias),
        "by_phone": _breakdown(ours, noisy, [i.phone if i else "unknown" for i in data["instances"]]),
        "by_iso": _breakdown(ours, noisy, [i.iso if i else "unknown" for i in data["instances"]]),
        "per_block": [
            {"image": int(i), "block": int(j), "pattern": p, "psnr": a, "ssim": b, "noisy_psnr": c, "noisy_ssim": d,
             "fidelity": f, "fidelity_to_clean": fc, "input_bias": fb}
            for i, j, p, a, b, c, d, f, fc, fb in zip(data["image"], data["block"], data["patterns"], ours["psnr"].tolist(),
                                                    ours["ssim"].tolist(), noisy["psnr"].tolist(), noisy["ssim"].tolist(),
                                                    fidelity, to_clean, input_bias)
        ],
    }  # fmt: skip
    out = Path(config.out) if config.out else default_out(checkpoint.path)
    _write_outputs(out, result, data, denoised, config.sheet_blocks)
    return result


def fidelity_summary(fidelity: list[dict]) -> dict:
    """Colour fidelity over blocks: the worst plane of any block, and each colour's mean shift on average."""
    by_colour: dict[str, list[float]] = {}
    for f in fidelity:
        for name, p in f.items():
            by_colour.setdefault(name[0], []).append(p["mean_shift"])
    return {**worst(fidelity), "mean_shift_by_colour": {c: float(np.mean(v)) for c, v in sorted(by_colour.items())}}


def _breakdown(ours: dict, noisy: dict, groups: list) -> dict:
    table = {}
    for key, values in (
        ("psnr", ours["psnr"]),
        ("ssim", ours["ssim"]),
        ("noisy_psnr", noisy["psnr"]),
        ("noisy_ssim", noisy["ssim"]),
    ):
        for group, stats in mean_by_group(values, groups).items():
            table.setdefault(group, {"blocks": stats["blocks"]})[key] = stats["mean"]
    return table


def _finite(value):
    """JSON has no Infinity: a PSNR of a block equal to its reference is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def markdown_table(result: dict) -> str:
    s = result["summary"]
    lines = [
        f"Raw {result['split']} blocks of `{result['blocks_dir']}`: {s['blocks']} blocks from {s['images']} images; "
        f"checkpoint `{result['checkpoint']}` (step {result['step']}).", "",
        "| | PSNR (dB) | SSIM |", "|---|---|---|",
        f"| noisy input | {s['noisy_psnr']:.2f} | {s['noisy_ssim']:.4f} |",
        f"| denoised | {s['psnr']:.2f} | {s['ssim']:.4f} |",
    ]  # fmt: skip
    for title, key in (("phone", "by_phone"), ("ISO", "by_iso")):
        lines += ["", f"| {title} | blocks | noisy PSNR | PSNR | SSIM |", "|---|---|---|---|---|"]
        for group, row in result[key].items():
            lines.append(
                f"| {group} | {row['blocks']} | {row['noisy_psnr']:.2f} | {row['psnr']:.2f} | {row['ssim']:.4f} |"
            )
    lines.append("")
    for key, what in (("fidelity", "denoised against input"), ("fidelity_to_clean", "denoised against clean"),
                      ("input_bias", "input against clean (clipping at black)")):  # fmt: skip
        fid = result[key]
        colours = ", ".join(f"{c} {100 * v:+.2f} %" for c, v in fid["mean_shift_by_colour"].items())
        lines.append(
            f"Colour fidelity, {what}: mean shift per colour {colours}; worst plane of any block "
            f"{100 * fid['max_abs_mean_shift']:.2f} % (mean), {100 * fid['max_low_freq_error']:.2f} % (low frequencies; "
            f"{100 * fid['max_low_freq_excess']:.2f} % beyond 1 % and the reference's own noise)."
        )
    lines += ["", f"Protocol: {result['protocol']}."]
    return "\n".join(lines) + "\n"


def _write_outputs(out: Path, result: dict, data: dict, denoised: np.ndarray, sheet_blocks: int) -> None:
    from .isp import contact_sheet, demosaic_bilinear, exposure_gain, grey_world_gains, render_srgb, save_png

    atomic_write_text(out / "metrics.json", json.dumps(_finite(result), indent=1) + "\n")
    text = markdown_table(result)
    if sheet_blocks > 0:
        rows, captions = [], []
        for k in spread(len(denoised), sheet_blocks):
            pattern, clean = data["patterns"][k], data["clean"][k].astype(np.float32)
            # One white balance and exposure per row (from the clean block) so the columns compare fairly.
            gains = grey_world_gains(clean, pattern)
            gain = exposure_gain(demosaic_bilinear(np.clip(clean, 0.0, 1.0), pattern) * gains)
            rows.append([render_srgb(x, pattern, gains, gain) for x in (data["noisy"][k], denoised[k], clean)])
            row = result["per_block"][k]
            captions.append(f"{len(rows)}. image {row['image']} block {row['block']} ({pattern}): "
                            f"{row['noisy_psnr']:.2f} → {row['psnr']:.2f} dB")  # fmt: skip
        save_png(contact_sheet(rows, labels=("noisy", "denoised", "clean")), out / "contact_sheet.png")
        text += "\nContact sheet rows (noisy | denoised | clean, preview ISP of n2n_raw/isp.py):\n\n"
        text += "\n".join(f"- {c}" for c in captions) + "\n"
    atomic_write_text(out / "metrics.md", text)


def evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser, EvalConfig)


def evaluate_command(args: argparse.Namespace) -> int:
    result = evaluate(from_arguments(EvalConfig, args))
    print(markdown_table(result), end="")
    return 0
