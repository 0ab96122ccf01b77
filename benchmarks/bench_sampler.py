"""Sampler throughput: g1(y), g2(y) for a batch of packed crops, ours vs the official masks.

Ours draws one pair per cell and gathers all channels at once (``n2n_raw.sampler``); the official code
builds two boolean masks with a Python loop over channels and ``masked_select``s channel by channel.
"""

from __future__ import annotations

import torch

from n2n_raw.sampler import draw_neighbor_pairs, subsample

from .common import fmt_seconds, noisy_batch, row, time_alternating
from .references import official_sampler


def run(device: torch.device, quick: bool = False) -> dict:
    noisy = noisy_batch(4, 256, device)  # batch 4, 256² Bayer crops → (4, 4, 128, 128)
    gen_ours = torch.Generator(device=device).manual_seed(0)
    gen_ref = torch.Generator(device=device).manual_seed(0)

    def ours():
        return subsample(noisy, draw_neighbor_pairs(noisy.shape, generator=gen_ours, device=device))

    timings = time_alternating(
        {"ours": ours, "official": lambda: official_sampler(noisy, gen_ref)},
        repeats=5 if quick else 50,
        warmup=2,
        device=device,
    )
    t_ours, t_ref = timings["ours"].median, timings["official"].median
    return {
        "timings": {k: v.samples for k, v in timings.items()},
        "rows": [row("sampler, batch 4×4×128×128", fmt_seconds(t_ours), fmt_seconds(t_ref), t_ref / t_ours, 3.0,
                     f"noise (max−min)/median: ours {timings['ours'].spread:.2f}, official {timings['official'].spread:.2f}")],
    }  # fmt: skip
