"""``make bench`` keeps working: every benchmark runs end to end with tiny sizes (``--quick``).

Only that each benchmark runs and reports a positive, finite ratio is checked; timings are never asserted
(they depend on the machine and its load). The benchmarks run in a subprocess, as ``make bench`` runs them.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ("flops", "sampler", "step", "memory", "inference", "loader")


@pytest.mark.slow
def test_every_benchmark_runs_in_quick_mode(tmp_path):
    command = [sys.executable, "-m", "benchmarks.run_all", "--quick", "--no-readme", "--results-dir", str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| benchmark | ours | reference |" in done.stdout
    for name in BENCHMARKS:
        result = json.loads((tmp_path / f"{name}_quick.json").read_text())
        assert result["machine"]["torch"]
        for row in result["rows"]:
            assert math.isfinite(row["ratio"]) and row["ratio"] > 0, row


def test_each_precision_has_its_own_flop_limit():
    from benchmarks.bench_step import flop_limits

    conv = {"nchw_fp32": 100.0, "channels_last_fp32": 200.0, "channels_last_bf16": 400.0}
    # Hand-worked: 1e12 FLOPs at the best fp32 rate (200 GFLOP/s) is 5 s; at the bf16 rate (400 GFLOP/s) 2.5 s.
    assert flop_limits(10**12, conv) == {"fp32": 5.0, "bf16": 2.5}
    assert flop_limits(10**12, {"nchw_fp32": 100.0}) == {"fp32": 10.0}  # no native bf16: no bf16 limit
    assert flop_limits(0, conv) == {}


def test_step_flops_count_the_fused_inference_convolutions_too():
    # 4 crops of 64² Bayer (32² packed): the step is the full-image pass (no autograd: fused convolutions on
    # the CPU, which FlopCounterMode does not know) plus forward and backward of g1 (16² packed).
    from torch.utils.flop_counter import FlopCounterMode

    from benchmarks.bench_flops import step_flops
    from benchmarks.common import fresh_model

    def counted(side: int, backward: bool) -> int:
        model = fresh_model("cpu")
        with FlopCounterMode(display=False) as counter:
            out = model(torch.rand(4, 4, side, side))
            if backward:
                out.sum().backward()
        return int(counter.get_total_flops())

    assert step_flops(4, 64) == counted(32, backward=False) + counted(16, backward=True)


def test_deep_path_measure_cuts_only_the_deep_features(tmp_path):
    """Cutting up1's upsampled features changes a full-scale network's output; a network whose deep features
    are already zero (up1's deconvolution zeroed) is unchanged by the cut: deep share 0."""
    from benchmarks.deep_path import measure
    from n2n_raw.checkpoint import load_checkpoint
    from tests.eval_fixtures import write_block_dir, write_tiny_checkpoint

    write_block_dir(tmp_path / "blocks")
    ckpt = write_tiny_checkpoint(tmp_path / "a", init_scale=1.0)
    live = measure(str(ckpt), str(tmp_path / "blocks"), limit=4)
    assert live["deep_share"] > 1e-3 and live["psnr"] != live["shallow_psnr"]
    state = load_checkpoint(ckpt)
    for key in ("up1.up.weight", "up1.up.bias"):
        state["model"][key] = torch.zeros_like(state["model"][key])
    torch.save(state, ckpt)
    dead = measure(str(ckpt), str(tmp_path / "blocks"), limit=4)
    assert dead["deep_share"] == 0.0 and dead["psnr"] == dead["shallow_psnr"]


def test_block_fidelity_counts_blocks_over_one_percent_and_the_unbiased_ones():
    from benchmarks.block_fidelity import summarise

    def block(psnr, shifts, biases):
        planes = ("R", "G1", "G2", "B")
        return {"psnr": psnr, "fidelity": {p: {"mean_shift": s} for p, s in zip(planes, shifts)},
                "input_bias": {p: {"mean_shift": b} for p, b in zip(planes, biases)}}  # fmt: skip

    blocks = [block(40.0, [0.0, -0.02, 0.0, 0.0], [0.0] * 4),  # over 1 %, unbiased
              block(42.0, [0.005, 0.0, 0.0, 0.0], [0.0, 0.0, 0.004, 0.0]),  # within, unbiased
              block(44.0, [0.0, 0.0, 0.0, 0.03], [0.0, 0.0, 0.0, -0.2])]  # over 1 %, biased input  # fmt: skip
    s = summarise({"per_block": blocks})
    assert s["psnr"] == 42.0 and (s["blocks"], s["over"], s["worst"]) == (3, 2, 0.03)
    assert (s["unbiased"], s["unbiased_over"], s["unbiased_worst"]) == (2, 1, 0.02)


def test_noise_sweep_scores_the_identity_as_its_noisy_input():
    from benchmarks.noise_sweep import sweep

    rows = sweep("identity", size=(64, 96), gains=(16.0, 1.0), exposures=(0.2,))
    assert [r["gain"] for r in rows] == [16.0, 1.0]
    for r in rows:  # the identity returns its input: the same PSNR, bit for bit
        assert r["psnr"] == r["psnr_noisy"]
    assert rows[1]["psnr_noisy"] > rows[0]["psnr_noisy"] + 5  # 16× less shot noise variance


def test_neighbour_gap_loss_prefers_a_blur_of_a_noise_free_photo():
    # With no noise the identity is exact (infinite PSNR) and its regulariser is 0, yet the eq. 6 loss is the
    # neighbour gap, which a small blur lowers: the method's own objective removes texture that is not noise.
    from benchmarks.neighbour_gap import blur, gap_table

    x = torch.rand(1, 4, 8, 8)
    assert torch.equal(blur(x, 0.0), x)
    assert torch.allclose(blur(torch.full((1, 4, 8, 8), 0.3), 0.4), torch.full((1, 4, 8, 8), 0.3))
    identity, blurred = gap_table(size=(64, 96), gains=(0.0,), sigmas=(0.0, 0.4), draws=2)
    assert identity["psnr"] == float("inf") and blurred["psnr"] < 60
    assert blurred["loss"] < 0.95 * identity["loss"]


def test_fidelity_stress_reports_the_identity_as_its_input_and_the_inputs_own_noise():
    # The very dark case through the real `denoise` command with the identity: nothing moved, and the noise floor
    # estimated from the input alone is what the clean scene (a perfect denoiser) shows against it.
    from benchmarks.fidelity_stress import CASES, clean_scene, run, scene, worst_low_freq

    (row,) = run("identity", cases=[3])
    assert row["case"] == "very dark" and row["psnr"] == row["psnr_noisy"]
    assert row["low_freq_max"] == 0.0 and row["low_freq_excess"] == 0.0
    assert row["clean_low_freq_denoised"] == row["clean_low_freq_noisy"]
    _, light, level, clip = CASES[3]
    oracle = worst_low_freq(scene(light, level, clip, seed=3) - 512.0, clean_scene(light, level, clip))
    assert oracle > 0.02 and row["low_freq_noise_max"] == pytest.approx(oracle, rel=0.15)


def test_one_fp32_step_of_the_bf16_benchmark_agrees_with_float64():
    from benchmarks.bf16_step import one_step, relative
    from n2n_raw.device import Runtime
    from n2n_raw.model import UNet, UNetConfig
    from n2n_raw.sampler import draw_neighbor_pairs

    torch.manual_seed(0)
    model = UNet(UNetConfig(in_channels=3, out_channels=3, residual=True, init_scale=1.0))
    noisy = torch.rand(1, 3, 64, 64)
    pairs = draw_neighbor_pairs(noisy.shape, generator=torch.Generator().manual_seed(0))
    reference = one_step(model, noisy, pairs, Runtime(), torch.float64)
    fp32 = one_step(model, noisy, pairs, Runtime())
    for name, g in reference["grads"].items():
        assert relative(fp32["grads"][name], g) < 1e-3, name
    assert set(fp32["acts"]) == set(reference["acts"]) and "enc_convs.4" in fp32["acts"]
