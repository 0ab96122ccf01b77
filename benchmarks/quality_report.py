"""Reports of the quality study: JSON summary, markdown tables, PSNR-vs-step plot and contact sheet.

Seeds: a method's figure is the mean over its seeds, with the spread (min–max) when there are several.
Comparisons between two learned methods are *paired*: the same seed gives both the same initial weights,
crops and sampler draws, so their difference is taken seed by seed before averaging.
"""

from __future__ import annotations

import json
import platform
import shlex
import sys
from pathlib import Path

import numpy as np

from .quality_methods import BASELINES, LEARNED

PROTOCOL = ("raw protocol: output clamped to [0,1]; PSNR on float values, peak 1, per 256x256 Bayer block, then mean; "
            "SSIM: skimage Gaussian (sigma 1.5, 11x11) on the mosaic x255")  # fmt: skip


def label(name: str) -> str:
    return BASELINES.get(name) or LEARNED[name].label


def aggregate(runs: list[dict], blocks) -> dict:
    """``{method: {seeds, psnr, ssim (per seed), mean/min/max, by_phone, by_iso, curve}}`` in run order."""
    from n2n_raw.metrics import mean_by_group

    phones = [i.phone if i else "unknown" for i in blocks.instances]
    isos = [i.iso if i else "unknown" for i in blocks.instances]
    table: dict[str, dict] = {}
    for run in runs:
        entry = table.setdefault(
            run["method"], {"label": label(run["method"]), "seeds": [], "psnr": [], "ssim": [], "runs": []}
        )
        entry["seeds"].append(run["seed"])
        entry["psnr"].append(run["psnr"])
        entry["ssim"].append(run["ssim"])
        entry["runs"].append(run)
    for entry in table.values():
        for key in ("psnr", "ssim"):
            values = np.array(entry[key])
            entry[f"{key}_mean"], entry[f"{key}_min"], entry[f"{key}_max"] = (
                float(values.mean()),
                float(values.min()),
                float(values.max()),
            )
        per_block = np.mean([r["per_block_psnr"] for r in entry["runs"]], axis=0)
        entry["by_phone"] = {g: v["mean"] for g, v in mean_by_group(per_block, phones).items()}
        entry["by_iso"] = {g: v["mean"] for g, v in mean_by_group(per_block, isos).items()}
        entry["train_seconds"] = float(np.mean([r.get("train_seconds", 0.0) for r in entry["runs"]]))
        entry["curves"] = {r["seed"]: r["curve"] for r in entry["runs"] if "curve" in r}
    return table


def paired(table: dict, a: str, b: str) -> dict | None:
    """PSNR(a) − PSNR(b) over the seeds both share: mean, min, max, seeds."""
    if a not in table or b not in table:
        return None
    pa, pb = dict(zip(table[a]["seeds"], table[a]["psnr"])), dict(zip(table[b]["seeds"], table[b]["psnr"]))
    if a in BASELINES or b in BASELINES:  # a baseline is deterministic: one value against every seed of the other
        seeds = sorted(pb if a in BASELINES else pa)
    else:
        seeds = sorted(set(pa) & set(pb))
    if not seeds:
        return None

    def value(p: dict, name: str, seed: int) -> float:
        return next(iter(p.values())) if name in BASELINES else p[seed]

    diffs = [value(pa, a, s) - value(pb, b, s) for s in seeds]
    return {"mean": float(np.mean(diffs)), "min": float(np.min(diffs)), "max": float(np.max(diffs)), "seeds": seeds}


def hypotheses(table: dict, base_bf16: bool = False) -> list[dict]:
    """The issue's targets, evaluated on the numbers (None where a method did not run)."""
    nb2nb = [m for m in ("nb2nb_g0", "nb2nb_g1", "nb2nb_g2", "nb2nb_ramp") if m in table]
    best = max(nb2nb, key=lambda m: table[m]["psnr_mean"]) if nb2nb else None
    best_pos = max((m for m in nb2nb if m != "nb2nb_g0"), key=lambda m: table[m]["psnr_mean"], default=None)
    checks = [
        ("Nb2Nb (best γ) within 0.3 dB of N2C", best, "n2c", lambda d: d >= -0.3),
        ("Nb2Nb (best γ) above BM3D", best, "bm3d", lambda d: d > 0),
        ("γ > 0 (best of 1, 2, ramp) above γ = 0", best_pos, "nb2nb_g0", lambda d: d > 0),
        ("random sampler above fixed (γ = 1)", "nb2nb_g1", "nb2nb_fixed", lambda d: d > 0),
        # nb2nb_g1 runs in the base precision; the precision check is γ = 1 in the other one.
        (
            "bf16 autocast costs at most 0.05 dB against fp32 (γ = 1)",
            "nb2nb_g1" if base_bf16 else "nb2nb_bf16",
            "nb2nb_fp32" if base_bf16 else "nb2nb_g1",
            lambda d: d >= -0.05,
        ),
    ]
    out = []
    for text, a, b, ok in checks:
        diff = paired(table, a, b) if a else None
        out.append(
            {
                "hypothesis": text,
                "a": a,
                "b": b,
                "diff": diff,
                "holds": None if diff is None else bool(ok(diff["mean"])),
            }
        )
    return out


def _spread(entry: dict, key: str, digits: int) -> str:
    mean = f"{entry[f'{key}_mean']:.{digits}f}"
    if len(entry[key]) < 2:
        return mean
    return f"{mean} ({entry[f'{key}_min']:.{digits}f}–{entry[f'{key}_max']:.{digits}f})"


def markdown(summary: dict) -> str:
    """The tables of QUALITY.md (method summary, per phone, per ISO, hypotheses) with the run description."""
    table, cfg = summary["methods"], summary["config"]
    lines = [
        f"Command: `{summary['command']}`  ",
        f"Machine: {summary['machine']}  ",
        f"Budget per learned method: {cfg['steps']} steps × batch {cfg['batch_size']} of {cfg['crop']}² Bayer crops "
        f"(packed {cfg['crop'] // 2}²), Adam lr {cfg['lr']:g} halved after {'/'.join(map(str, cfg['lr_milestones']))} % "
        f"of {cfg['epochs']} schedule epochs, same initial weights and crop stream per seed, "
        f"{summary['precision']} unless the method says otherwise; seeds {summary['seeds_note']}.  ",
        f"Scored: {summary['blocks']} {cfg['split']} blocks of `{cfg['data']}` ({PROTOCOL}). "
        f"Sum of the runs' times: {summary['wall_seconds'] / 60:.1f} min.", "",
        "| method | seeds | PSNR (dB) | SSIM | Δ vs N2C, same seeds (dB) | train s/run |", "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for name, entry in table.items():
        delta = paired(table, name, "n2c") if name != "n2c" else None
        d = f"{delta['mean']:+.2f}" if delta else "–"
        train = f"{entry['train_seconds']:.0f}" if name in LEARNED else "–"
        lines.append(
            f"| {entry['label']} | {len(entry['seeds'])} | {_spread(entry, 'psnr', 2)} | {_spread(entry, 'ssim', 4)} | {d} | {train} |"
        )
    for name, reason in summary["skipped"].items():
        lines.append(f"| {label(name)} | 0 | not run: {reason} | | | |")
    for title, key in (("phone", "by_phone"), ("ISO", "by_iso")):
        groups = list(next(iter(table.values()))[key]) if table else []
        lines += ["", f"PSNR (dB) per {title} (mean over seeds):", "",
                  f"| method | {' | '.join(groups)} |", "|---|" + "---|" * len(groups)]  # fmt: skip
        for entry in table.values():
            lines.append(f"| {entry['label']} | " + " | ".join(f"{entry[key][g]:.2f}" for g in groups) + " |")
    lines += ["", "Hypotheses (paired PSNR differences, mean over shared seeds, range in brackets):", "",
              "| hypothesis | comparison | Δ PSNR (dB) | holds? |", "|---|---|---|---|"]  # fmt: skip
    for h in summary["hypotheses"]:
        if h["diff"] is None:
            lines.append(f"| {h['hypothesis']} | – | – | not run |")
            continue
        d = h["diff"]
        rng = f" ({d['min']:+.2f} … {d['max']:+.2f})" if len(d["seeds"]) > 1 else ""
        lines.append(
            f"| {h['hypothesis']} | {h['a']} − {h['b']} | {d['mean']:+.2f}{rng} | {'yes' if h['holds'] else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def plot(table: dict, path: Path) -> None:
    """Validation PSNR against training step, one line per learned method (mean over seeds, band = range)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    for entry in table.values():
        if not entry["curves"]:
            continue
        curves = list(entry["curves"].values())
        steps = [p["step"] for p in curves[0]]
        values = np.array([[p["psnr"] for p in c] for c in curves])
        ax.plot(steps, values.mean(axis=0), marker="o", ms=3, label=entry["label"])
        if len(curves) > 1:
            ax.fill_between(steps, values.min(axis=0), values.max(axis=0), alpha=0.15)
    ax.set_xlabel("training step")
    ax.set_ylabel("validation PSNR (dB)")
    ax.set_title("Same U-Net, same budget: validation PSNR during training")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def contact_sheet(table: dict, ctx: dict, path: Path, crop: int = 128) -> list[str]:
    """Rows: blocks; columns: noisy, each method (seed 0), clean; the centre ``crop``² of each block."""
    from n2n_raw.isp import contact_sheet as tile
    from n2n_raw.isp import demosaic_bilinear, exposure_gain, grey_world_gains, render_srgb, save_png

    blocks, picks = ctx["blocks"], ctx["sheet"]
    names = [n for n in table if n != "identity"]
    rows, captions = [], []
    for r, k in enumerate(picks):
        pattern, clean = blocks.patterns[k], blocks.clean[k]
        h, w = clean.shape
        y0, x0 = (h - crop) // 4 * 2, (w - crop) // 4 * 2  # even: the crop keeps the block's CFA pattern
        cut = (slice(y0, y0 + crop), slice(x0, x0 + crop))
        # One white balance and exposure per row, from the clean block, so the columns compare fairly.
        gains = grey_world_gains(clean, pattern)
        gain = exposure_gain(demosaic_bilinear(clean, pattern) * gains)
        images = [blocks.noisy[k]] + [np.asarray(table[n]["runs"][0]["sheet"][r], np.float32) for n in names] + [clean]
        rows.append([render_srgb(x[cut], pattern, gains, gain) for x in images])
        inst = blocks.instances[k]
        captions.append(f"row {r + 1}: image {int(blocks.image[k])} block {int(blocks.block[k])}"
                        f" ({inst.phone + ' ISO ' + str(inst.iso) if inst else pattern})")  # fmt: skip
    save_png(tile(rows, labels=["noisy", *names, "clean"]), path)
    return captions


def write_reports(config, ctx: dict, runs: list[dict], skipped: dict, out: Path) -> dict:
    """quality.json, QUALITY.md, quality_plot.png, quality_contact_sheet.png under ``out``."""
    from dataclasses import asdict

    from n2n_raw.evaluate import _finite

    from .common import machine

    table = aggregate(runs, ctx["blocks"])
    info = machine()
    summary = {
        "command": shlex.join([Path(sys.executable).name, "-m", "benchmarks.quality", *sys.argv[1:]]),
        "config": asdict(config), "blocks": len(ctx["blocks"].noisy), "skipped": skipped,
        "machine": f"{info['cpu']} ({info['vector_isa']}), {info['cores']} cores, torch {info['torch']} with "
                   f"{info['torch_threads']} threads, {info.get('gpu', 'no GPU')}, Python {platform.python_version()}",
        "seeds_note": "; ".join(f"{n}: {', '.join(map(str, e['seeds']))}" for n, e in table.items() if n in LEARNED),
        "wall_seconds": float(sum(r["seconds"] for r in runs)),
        "precision": "bf16 autocast" if ctx["base_bf16"] else "fp32",
        "methods": table, "hypotheses": hypotheses(table, ctx["base_bf16"]),
    }  # fmt: skip
    text = "# Quality study\n\n" + markdown(summary)
    if table:
        plot(table, out / "quality_plot.png")
        captions = contact_sheet(table, ctx, out / "quality_contact_sheet.png")
        text += (
            "\nContact sheet (centre 128² of each block, preview ISP of `n2n_raw/isp.py`, seed 0): "
            + "; ".join(captions)
            + ".\n"
        )
    (out / "QUALITY.md").write_text(text)
    slim = {**summary, "methods": {n: {k: v for k, v in e.items() if k != "runs"} | {
        "per_block_psnr": [r["per_block_psnr"] for r in e["runs"]]} for n, e in table.items()}}  # fmt: skip
    (out / "quality.json").write_text(json.dumps(_finite(slim), indent=1))
    return summary
