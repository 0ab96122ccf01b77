"""Smoke test of the quality study (``benchmarks/quality.py``) at toy sizes.

Checks that the whole study runs end to end on a tiny SIDD-mini set (2 scored blocks, a few steps) and that
every method, bf16 included, produces finite PSNR/SSIM and the reports; and that the harness can tell a
trained network from an untrained one: N2C on a noise-free toy problem (noisy = clean, so the target is
the identity) must climb from the untrained U-Net's ~17 dB to above 25 dB in 60 one-crop steps. (The U-Net
predicts the image, not a residual, so reproducing it to 40+ dB takes thousands of steps; a broken loop —
misaligned pairs, no optimiser step, scoring the untrained network — stays near 17 dB.)
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from benchmarks.quality import ALL_METHODS, QualityConfig, run_study
from benchmarks.quality_methods import (
    LEARNED,
    Blocks,
    Budget,
    Capture,
    load_blocks,
    load_captures,
    psnr_of,
    train_method,
)
from n2n_raw.demo_data import DemoConfig, write_demo


@pytest.fixture(autouse=True)
def restore_threads():
    """The study sets torch's thread count for its process; give the rest of the suite its own back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("quality") / "sidd-mini"
    write_demo(DemoConfig(out=str(out), train_captures=2, validation_images=2, benchmark_images=2,
                          blocks_per_image=1, block_size=64, short_side=128, max_side=160))  # fmt: skip
    return out


def test_quality_study_runs_every_method_with_finite_metrics(tiny_demo, tmp_path):
    config = QualityConfig(
        data=str(tiny_demo), out=str(tmp_path / "quality"), steps=1, batch_size=1, crop=32, epochs=1,
        eval_blocks=2, curve_blocks=1, curve_points=2, sheet_blocks=1, repeat_seeds=(1,), bf16="on", threads=1,
    )  # fmt: skip
    summary = run_study(config)
    methods = summary["methods"]
    # Every method but the precision check that duplicates nb2nb_g1 at this machine's base precision.
    duplicate = "nb2nb_bf16" if summary["precision"] == "bf16 autocast" else "nb2nb_fp32"
    assert set(methods) == set(ALL_METHODS) - {duplicate}
    assert duplicate in summary["skipped"]
    for name, entry in methods.items():
        assert all(math.isfinite(v) for v in entry["psnr"] + entry["ssim"]), name
        assert 0.0 < entry["ssim_mean"] <= 1.0, name
    assert len(methods["nb2nb_g1"]["seeds"]) == 2  # the repeated ablation ran its extra seed
    assert [p["step"] for p in methods["n2c"]["curves"][0]] == [0, 1]
    out = tmp_path / "quality"
    for name in ("quality.json", "QUALITY.md", "quality_plot.png", "quality_contact_sheet.png"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "quality.json").read_text())["hypotheses"]
    assert "| N2C" in (out / "QUALITY.md").read_text()


def test_n2c_learns_the_identity_on_a_noise_free_toy_problem(tiny_demo):
    """noisy = clean everywhere: the supervised target is the input, so a working loop reaches a high PSNR."""
    torch.set_num_threads(1)
    captures = [Capture(c.name, c.clean, c.clean, c.clean) for c in load_captures(str(tiny_demo / "SIDD_Medium_Raw"))]
    blocks = load_blocks(str(tiny_demo), "benchmark", 0)
    clean_blocks = Blocks(blocks.clean, blocks.clean, blocks.patterns, blocks.instances, blocks.image, blocks.block)
    budget = Budget(steps=60, batch_size=1, crop=64, lr=1e-3, epochs=1, curve_points=2)
    device = torch.device("cpu")
    _, curve, _ = train_method(LEARNED["n2c"], captures, budget, 0, device,
                               validate=lambda m: psnr_of(m, clean_blocks, device), log=lambda _: None)  # fmt: skip
    untrained, trained = curve[0]["psnr"], curve[-1]["psnr"]
    assert [p["step"] for p in curve] == [0, budget.steps]
    assert np.isfinite(trained) and trained > 25.0 and trained > untrained + 8.0, (untrained, trained)
