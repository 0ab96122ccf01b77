"""``<run>/curves.png``: the learning curves of a run drawn from its ``metrics.jsonl`` with Pillow alone.

Left: the loss, its reconstruction and regulariser terms (log scale) against the step. Right: validation
PSNR against the step, with the noisy input's PSNR as a flat reference line (raw track), or the held-out
Neighbor2Neighbor loss when the run has no clean validation data.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

SERIES_COLOURS = {"loss": (31, 119, 180), "reconstruction": (44, 160, 44), "regularizer": (214, 39, 40),
                  "val_psnr": (31, 119, 180), "val_noisy_psnr": (127, 127, 127), "val_holdout_loss": (148, 103, 189)}  # fmt: skip


def read_metrics(path: str | os.PathLike) -> list[dict]:
    return [json.loads(s) for s in Path(path).read_text().splitlines() if s.strip()]


def _panel(draw, box, series: dict[str, list[tuple[float, float]]], title: str, log_y: bool) -> None:
    x0, y0, x1, y1 = box
    draw.rectangle(box, outline=(0, 0, 0))
    draw.text((x0 + 4, y0 - 14), title, fill=(0, 0, 0))
    points = [p for s in series.values() for p in s if math.isfinite(p[1]) and (p[1] > 0 or not log_y)]
    if not points:
        draw.text((x0 + 10, y0 + 10), "no data", fill=(0, 0, 0))
        return
    fy = (lambda v: math.log10(v)) if log_y else (lambda v: v)
    xs, ys = [p[0] for p in points], [fy(p[1]) for p in points]
    xmin, xmax = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    ymin, ymax = min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1
    pad = 0.05 * (ymax - ymin)
    ymin, ymax = ymin - pad, ymax + pad

    def at(x: float, y: float) -> tuple[float, float]:
        return (x0 + (x - xmin) / (xmax - xmin) * (x1 - x0), y1 - (fy(y) - ymin) / (ymax - ymin) * (y1 - y0))

    for k, (name, pts) in enumerate(series.items()):
        pts = [p for p in pts if math.isfinite(p[1]) and (p[1] > 0 or not log_y)]
        colour = SERIES_COLOURS.get(name, (0, 0, 0))
        if len(pts) > 1:
            draw.line([at(*p) for p in pts], fill=colour, width=2)
        elif pts:
            cx, cy = at(*pts[0])
            draw.ellipse((cx - 3, cy - 3, cx + 3, cy + 3), fill=colour)
        draw.text((x0 + 6, y0 + 4 + 12 * k), name, fill=colour)
    low, high = (10**ymin, 10**ymax) if log_y else (ymin, ymax)
    draw.text((x0 - 2, y1 + 2), f"{xmin:.0f}", fill=(0, 0, 0))
    draw.text((x1 - 30, y1 + 2), f"{xmax:.0f} steps", fill=(0, 0, 0))
    draw.text((x1 + 4, y0), f"{high:.3g}", fill=(0, 0, 0))
    draw.text((x1 + 4, y1 - 10), f"{low:.3g}", fill=(0, 0, 0))


def plot_curves(metrics: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Draw the run's curves to ``out`` (PNG, written atomically)."""
    from PIL import Image, ImageDraw

    from .isp import save_png

    records = read_metrics(metrics)
    steps = [r for r in records if "loss" in r]
    vals = [r for r in records if any(k.startswith("val_") for k in r)]
    image = Image.new("RGB", (960, 380), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    losses = {k: [(r["step"], r[k]) for r in steps if k in r] for k in ("loss", "reconstruction", "regularizer")}
    _panel(draw, (40, 30, 440, 340), losses, "training loss (log scale)", log_y=True)
    if any("val_psnr" in r for r in vals):
        right = {k: [(r["step"], r[k]) for r in vals if k in r] for k in ("val_psnr", "val_noisy_psnr")}
        _panel(draw, (510, 30, 900, 340), right, "validation PSNR (dB)", log_y=False)
    else:
        right = {"val_holdout_loss": [(r["step"], r["val_holdout_loss"]) for r in vals if "val_holdout_loss" in r]}
        _panel(draw, (510, 30, 900, 340), right, "held-out Neighbor2Neighbor loss", log_y=True)
    save_png(image, out)
    return Path(out)
