"""Summarise the per-block colour fidelity of ``n2n-raw evaluate`` outputs (its ``metrics.json``).

    python -m benchmarks.block_fidelity runs/eval-a/metrics.json runs/eval-b/metrics.json ...

For each file: the mean PSNR, how many blocks move some CFA plane's mean by more than 1 % against the input, the
worst such move, and the same on the *unbiased* blocks only: those whose noisy input is within 0.5 % of the clean
block on every plane. SIDD's noisy raw is clipped at black, which biases the input's plane means on many
blocks; there "within 1 % of the input" would also ask the model to keep that bias (benchmarks/FIDELITY.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def summarise(metrics: dict, limit: float = 0.01, unbiased_within: float = 0.005) -> dict:
    blocks = metrics["per_block"]

    def worst(block: dict, key: str) -> float:
        return max(abs(plane["mean_shift"]) for plane in block[key].values())

    unbiased = [b for b in blocks if worst(b, "input_bias") <= unbiased_within]
    return {
        "psnr": sum(b["psnr"] for b in blocks) / len(blocks),
        "blocks": len(blocks),
        "over": sum(worst(b, "fidelity") > limit for b in blocks),
        "worst": max(worst(b, "fidelity") for b in blocks),
        "unbiased": len(unbiased),
        "unbiased_over": sum(worst(b, "fidelity") > limit for b in unbiased),
        "unbiased_worst": max((worst(b, "fidelity") for b in unbiased), default=0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("metrics", nargs="+", type=Path)
    for path in parser.parse_args().metrics:
        s = summarise(json.loads(path.read_text()))
        print(f"{path}: {s['psnr']:.2f} dB over {s['blocks']} blocks; over 1 %: {s['over']} / {s['blocks']}, "
              f"worst {100 * s['worst']:.2f} %; unbiased blocks: {s['unbiased_over']} / {s['unbiased']}, "
              f"worst {100 * s['unbiased_worst']:.2f} %")  # fmt: skip


if __name__ == "__main__":
    main()
