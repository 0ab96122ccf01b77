"""The quality study: how well does Neighbor2Neighbor denoise, against what, at an equal training budget?

``make quality`` (``python -m benchmarks.quality``) scores, on the clean-referenced benchmark blocks of the
SIDD-mini demo set (made if missing), with the raw protocol of :mod:`n2n_raw.metrics`:

* the noisy input (identity) and BM3D per CFA plane with the capture's known noise level function;
* the same U-Net trained with the same budget (steps, batch, crops, Adam, lr schedule, initial weights) by
  N2C (supervised), Noise2Noise (frames _010/_011), and Neighbor2Neighbor with γ = 0, 1, 2, the official
  ramp and the fixed sampler (:mod:`benchmarks.quality_methods`), all in the base precision (bf16 autocast
  where it is native, as ``n2n-raw train --amp auto``; else fp32), plus γ = 1 in the other precision.

Each (method, seed) run is cached as ``<out>/runs/<method>_seed<k>.json`` (with the budget it ran under), so
an interrupted study resumes and extra seeds can be added later. Outputs (:mod:`benchmarks.quality_report`):
``quality.json``, ``QUALITY.md``, ``quality_plot.png`` (validation PSNR against step) and
``quality_contact_sheet.png``.

Budgets: ``--budget cpu`` (default) is sized for about an hour on 2 CPU cores with native bf16 (AMX or
AVX-512 BF16; an AVX2-only CPU runs fp32 and takes several times longer); ``--budget gpu`` is the paper-like scale
for one GPU (crop 256, 20k steps, every block). Any explicit ``--steps``/``--crop``/… wins.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

import torch

from n2n_raw.config import add_arguments, arg, from_arguments

from .quality_methods import (
    BASELINES,
    LEARNED,
    Budget,
    bm3d_blocks,
    denoise,
    load_blocks,
    load_captures,
    psnr_of,
    train_method,
)

log = logging.getLogger("benchmarks.quality")
ALL_METHODS = ("identity", *LEARNED, "bm3d")
# Comparisons whose differences are expected to be small (tenths of a dB): these get the extra seeds.
REPEATED = ("nb2nb_g1", "nb2nb_g0", "nb2nb_fixed", "nb2nb_g2", "nb2nb_ramp", "nb2nb_fp32", "nb2nb_bf16")
PRESETS = {
    # 2 CPU cores, about an hour: the paper's 256² Bayer crops (128² packed, 64² sub-images), 20 scored blocks.
    # Not 128²: its 32² sub-images reach the U-Net's 1/32 level as 1×1, and the models then fail on larger
    # inputs (see n2n_raw.train.warn_small_subimages). QUALITY.md's first table was measured at --crop 128.
    # lr 1e-3 halved after 50 % and 75 % (the first `make train-sidd` CPU preset): at a few hundred steps the raw
    # recipe's 1e-4, or the paper's early halvings, leave every network far below the noisy input.
    "cpu": {
        "steps": 1000,
        "crop": 256,
        "eval_blocks": 40,
        "curve_blocks": 16,
        "epochs": 8,
        "lr": 1e-3,
        # 62/87 of 100 become 4 and 6 of 8 epochs by the official rule: lr halves after epochs 4 and 6.
        "lr_milestones": (62, 87),
    },
    # One GPU: the paper's crop, a few epochs' worth of steps, every block scored, the paper's halvings.
    "gpu": {
        "steps": 20000,
        "crop": 256,
        "eval_blocks": 0,
        "curve_blocks": 160,
        "epochs": 100,
        "lr": 1e-4,
        "lr_milestones": (19, 39, 59, 79),
    },
}


@dataclass(frozen=True)
class QualityConfig:
    """Options of ``python -m benchmarks.quality``; 0 / empty picks the ``--budget`` preset's value."""

    data: str = arg("data/sidd-mini", "demo set folder (SIDD_Medium_Raw/ and the block files); made if missing")
    out: str = arg("benchmarks/results/quality", "output folder (run cache, JSON, markdown, PNGs)")
    split: Literal["benchmark", "validation"] = arg("benchmark", "scored blocks: benchmark (demo GT) or validation")
    budget: Literal["cpu", "gpu"] = arg("cpu", "preset: cpu (about an hour on 2 cores) or gpu (paper-like scale)")
    methods: tuple[str, ...] = arg(ALL_METHODS, f"methods to run, of: {' '.join(ALL_METHODS)}")
    seeds: tuple[int, ...] = arg((0,), "seeds of every learned method")
    repeat_seeds: tuple[int, ...] = arg((1,), f"extra seeds for the small-difference ablations ({' '.join(REPEATED)})")
    steps: int = arg(0, "training steps per learned method (0: preset)")
    batch_size: int = arg(4, "crops per step")
    crop: int = arg(0, "training crop side, Bayer pixels, multiple of 4 (0: preset)")
    lr: float = arg(0.0, "Adam learning rate, halved after 19/39/59/79 % of the epochs (0: preset)")
    epochs: int = arg(0, "schedule epochs: lr halvings and the γ ramp advance per steps/epochs steps (0: preset)")
    lr_milestones: tuple[int, ...] = arg(
        (), "milestones of a 100-epoch run, scaled by the official rule int((m+1)·epochs/100) − 1 (empty: preset)"
    )
    precision: Literal["auto", "fp32", "bf16"] = arg(
        "auto",
        "base precision of every learned method: auto (bf16 where native, as `n2n-raw train --amp auto`), fp32, bf16",
    )
    eval_blocks: int = arg(-1, "blocks scored, spread over the images (0: all; -1: preset)")
    curve_blocks: int = arg(-1, "validation blocks for the PSNR-vs-step curve (0: all; -1: preset)")
    curve_points: int = arg(5, "validation points per training run (step 0 and the last step included)")
    sheet_blocks: int = arg(4, "blocks (rows) in the contact sheet")
    bf16: Literal["auto", "on", "off"] = arg(
        "auto", "with an fp32 base, the bf16 check run: auto (only where bf16 is native), on, off"
    )
    device: str = arg("auto", "auto (cuda if available), cpu, cuda")
    # One thread: on a CPU shared with other jobs, 2 OpenMP threads per process ran 5-8x *slower* than one.
    threads: int = arg(1, "torch CPU threads")
    force: bool = arg(False, "rerun methods already in the run cache")
    report_only: bool = arg(False, "train nothing: write the reports from the runs already cached")

    def resolved(self) -> QualityConfig:
        """Fill the fields left at 0/-1 from the preset and check the method names."""
        unknown = set(self.methods) - set(ALL_METHODS)
        if unknown:
            raise SystemExit(f"unknown methods {sorted(unknown)}; choose from {' '.join(ALL_METHODS)}")
        preset = PRESETS[self.budget]
        fills = {k: v for k, v in preset.items() if getattr(self, k) in (0, -1, 0.0, ())}
        resolved = replace(self, **fills)
        if resolved.crop % 4:
            raise SystemExit(f"--crop must be a multiple of 4 (packed sub-images need even sides), got {resolved.crop}")
        return resolved

    def base_bf16(self, device: torch.device) -> bool:
        """The resolved base precision: bf16 autocast (True) or fp32 (False)."""
        from n2n_raw.device import use_bf16

        return use_bf16({"fp32": "off"}.get(self.precision, self.precision), device)

    def training_budget(self, base_bf16: bool) -> Budget:
        return Budget(self.steps, self.batch_size, self.crop, self.lr, self.epochs, self.curve_points,
                      tuple(self.lr_milestones), base_bf16)  # fmt: skip


def precision_skips(config: QualityConfig, device: torch.device, base_bf16: bool) -> dict[str, str]:
    """The precision-check method that duplicates nb2nb_g1 at the base precision, and why the other is skipped."""
    if base_bf16:
        return {"nb2nb_bf16": "bf16 is the base precision here: this is nb2nb_g1"}
    skipped = {"nb2nb_fp32": "fp32 is the base precision here: this is nb2nb_g1"}
    if reason := bf16_decision(config, device):
        skipped["nb2nb_bf16"] = reason
    return skipped


def bf16_decision(config: QualityConfig, device: torch.device) -> str | None:
    """None when the bf16 run goes ahead, else the reason it is skipped."""
    from .common import has_native_bf16

    if config.bf16 == "off":
        return "disabled with --bf16 off"
    if config.bf16 == "auto" and not has_native_bf16(device):
        return ("this CPU has no native bf16 (no AVX-512 BF16/AMX; oneDNN bf16 unsupported), so bf16 autocast is "
                "emulated and ran about 50-90x slower than fp32 here; run with --bf16 on or on a GPU")  # fmt: skip
    return None


def run_method(name: str, seed: int, config: QualityConfig, ctx: dict) -> dict:
    """Train (or apply) one method with one seed and score it; returns the run record."""
    blocks, device = ctx["blocks"], ctx["device"]
    tick = time.perf_counter()
    record: dict = {"method": name, "seed": seed}
    if name == "identity":
        denoised = blocks.noisy
    elif name == "bm3d":
        denoised = bm3d_blocks(blocks, log.info)
    else:
        model, curve, train_s = train_method(
            LEARNED[name], ctx["captures"], config.training_budget(ctx["base_bf16"]), seed, device,
            validate=lambda m: psnr_of(m, ctx["curve"], device), log=log.info,
        )  # fmt: skip
        record |= {"curve": curve, "train_seconds": round(train_s, 1)}
        denoised = denoise(model, blocks, device)
    from n2n_raw.metrics import block_metrics

    scores = block_metrics(denoised, blocks.clean)
    record |= {
        "psnr": float(scores["psnr"].mean()), "ssim": float(scores["ssim"].mean()),
        "per_block_psnr": scores["psnr"].tolist(), "per_block_ssim": scores["ssim"].tolist(),
        "seconds": round(time.perf_counter() - tick, 1),
        "sheet": denoised[ctx["sheet"]].tolist(),  # the contact-sheet blocks, kept for the report
    }  # fmt: skip
    return record


def run_study(config: QualityConfig) -> dict:
    """Run every (method, seed) not yet cached, then write the reports; returns the JSON summary."""
    from n2n_raw.evaluate import spread

    from .quality_report import write_reports

    config = config.resolved()
    torch.set_num_threads(config.threads)
    from n2n_raw.device import pick_device

    device = pick_device(config.device)
    data = Path(config.data)
    if not (data / "SIDD_Medium_Raw").is_dir():
        from n2n_raw.demo_data import DemoConfig, write_demo

        write_demo(DemoConfig(out=str(data)))
    out = Path(config.out)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    blocks = load_blocks(str(data), config.split, config.eval_blocks)
    ctx = {
        "device": device, "blocks": blocks, "captures": load_captures(str(data / "SIDD_Medium_Raw")),
        "curve": load_blocks(str(data), "validation", config.curve_blocks),
        "sheet": spread(len(blocks.noisy), config.sheet_blocks),
    }  # fmt: skip
    ctx["base_bf16"] = base_bf16 = config.base_bf16(device)
    skipped = {k: v for k, v in precision_skips(config, device, base_bf16).items() if k in config.methods}
    signature = {
        k: v
        for k, v in asdict(config).items()
        if k not in ("out", "methods", "seeds", "repeat_seeds", "force", "threads", "bf16", "report_only", "precision")
    }
    signature["base_precision"] = "bf16" if base_bf16 else "fp32"
    signature = json.loads(json.dumps(signature))  # as the cache stores it (tuples become lists)
    log.info("quality study on %s: %d scored blocks, %d training captures, budget %s", device, len(blocks.noisy),
             len(ctx["captures"]), config.training_budget(base_bf16))  # fmt: skip
    # Seed 0 of every method first (the table), then the extra seeds: a run cut short still has every row.
    jobs = [
        (name, seed)
        for name in config.methods
        if name not in skipped
        for seed in ((0,) if name in BASELINES else config.seeds + (config.repeat_seeds if name in REPEATED else ()))
    ]
    jobs = sorted(
        dict.fromkeys(jobs),
        key=lambda job: (
            job[1] != config.seeds[0],
            job[1],
            REPEATED.index(job[0]) if job[0] in REPEATED and job[1] != config.seeds[0] else 0,
        ),
    )
    for name, reason in skipped.items():
        log.info("%s: skipped (%s)", name, reason)
    runs = []
    for name, seed in jobs:
        path = out / "runs" / f"{name}_seed{seed}.json"
        if path.is_file() and not config.force:
            cached = json.loads(path.read_text())
            if cached.get("signature") == signature:
                runs.append(cached)
                continue
        if config.report_only:
            continue
        log.info("%s, seed %d", name, seed)
        record = run_method(name, seed, config, ctx) | {"signature": signature}
        path.write_text(json.dumps(record))
        log.info(
            "%s seed %d: PSNR %.2f dB, SSIM %.4f (%.0f s)",
            name,
            seed,
            record["psnr"],
            record["ssim"],
            record["seconds"],
        )
        runs.append(record)
    runs.sort(key=lambda r: (config.methods.index(r["method"]), r["seed"]))
    return write_reports(config, ctx, runs, skipped, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.split("\n\n")[0])
    add_arguments(parser, QualityConfig)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    config = from_arguments(QualityConfig, args)
    start = time.time()
    summary = run_study(config)
    summary_path = Path(config.out) / "quality.json"
    log.info("done in %.0f s: %s", time.time() - start, summary_path)
    del summary
    return 0


if __name__ == "__main__":
    sys.exit(main())
