"""The table of ``benchmarks/srgb_seeds.sh`` runs: ``python -m benchmarks.srgb_seeds_report RUN_DIR [RUN_DIR ...]``.

Each RUN_DIR holds a training run (``validation.json``: the held-out embedded photos) and its ``eval/results.json``
(``n2n-raw evaluate-srgb``: BSD300 and Set14 with the paper's repeat protocol). Prints, per run, the gains over
the noisy input and the smallest per-image gain (an image made worse shows as a negative one).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def summary(run: Path) -> dict:
    result = {"run": run.name}
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if "val_" in line]
    if metrics:
        last = metrics[-1]
        result["held_out"] = (last.get("val_skimage_psnr"), last.get("val_skimage_noisy_psnr"))
    sets = json.loads((run / "eval" / "results.json").read_text())["sets"]
    for name, s in sets.items():
        worst = min(v["psnr"] - v["noisy_psnr"] for v in s["per_image"].values())
        result[name] = (s["psnr"], s["noisy_psnr"], worst)
    return result


def main(argv: list[str] | None = None) -> int:
    runs = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    print("| run | held-out photos (dB) | BSD300 (dB) | BSD300 worst image | Set14 (dB) | Set14 worst image |")
    print("|---|---|---|---|---|---|")
    for run in runs:
        s = summary(run)
        held = s.get("held_out")
        cells = [f"{held[0]:.2f} vs {held[1]:.2f} ({held[0] - held[1]:+.2f})" if held and held[0] else "–"]
        for name in ("BSD300", "Set14"):
            psnr, noisy, worst = s[name]
            cells += [f"{psnr:.2f} vs {noisy:.2f} ({psnr - noisy:+.2f})", f"{worst:+.2f}"]
        print(f"| {s['run']} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
