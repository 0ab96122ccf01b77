"""``n2n-raw evaluate`` end to end on tiny block files and a tiny checkpoint: finite metrics, the outputs
(JSON, markdown, contact sheet), per-phone/ISO breakdowns, the identity model reproducing the noisy-input
scores exactly, the training-time validator, and one-line errors for bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from n2n_raw.checkpoint import save_checkpoint
from n2n_raw.cli import main
from n2n_raw.evaluate import EvalConfig, evaluate, make_raw_validator, spread
from n2n_raw.inference import InferenceSettings
from n2n_raw.metrics import block_metrics
from n2n_raw.model import UNet, UNetConfig
from tests.eval_fixtures import INSTANCES, write_block_dir, write_tiny_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: a second thread only contends


@pytest.fixture
def blocks(tmp_path):
    arrays = write_block_dir(tmp_path / "blocks", n_blocks=2, size=32)
    return tmp_path / "blocks", arrays


def test_evaluate_cli_writes_finite_metrics_and_outputs(tmp_path, blocks, capsys):
    folder, _ = blocks
    ckpt = write_tiny_checkpoint(tmp_path / "run")
    out = tmp_path / "eval"
    code = main(
        [
            "evaluate",
            "--checkpoint",
            str(ckpt),
            "--blocks-dir",
            str(folder),
            "--out",
            str(out),
            "--device",
            "cpu",
            "--sheet-blocks",
            "3",
        ]
    )
    assert code == 0
    result = json.loads((out / "metrics.json").read_text())
    s = result["summary"]
    assert s["blocks"] == 6 and s["images"] == 3
    assert all(np.isfinite(s[k]) for k in ("psnr", "ssim", "noisy_psnr", "noisy_ssim"))
    assert set(result["by_phone"]) == {"S6", "GP", "IP"} and list(result["by_iso"]) == ["800", "1600", "10000"]
    assert [b["pattern"] for b in result["per_block"]] == ["GRBG", "GRBG", "BGGR", "BGGR", "RGGB", "RGGB"]
    assert "| noisy input |" in (out / "metrics.md").read_text() and "| noisy input |" in capsys.readouterr().out
    sheet = Image.open(out / "contact_sheet.png")
    assert sheet.mode == "RGB" and sheet.size[0] > 3 * 32 and sheet.size[1] > 3 * 32


def test_identity_model_reproduces_noisy_input_scores_exactly(tmp_path, blocks, monkeypatch):
    folder, arrays = blocks
    result = evaluate(
        EvalConfig(checkpoint="identity", blocks_dir=str(folder), out=str(tmp_path / "e"), sheet_blocks=0)
    )
    s = result["summary"]
    assert s["psnr"] == s["noisy_psnr"] and s["ssim"] == s["noisy_ssim"]
    # …and the noisy-input PSNR is the independent per-block numpy value.
    noisy = arrays["ValidationNoisyBlocksRaw"].reshape(-1, 32, 32).astype(np.float64)
    clean = arrays["ValidationGtBlocksRaw"].reshape(-1, 32, 32).astype(np.float64)
    expected = np.mean([10 * np.log10(1 / np.mean((n - c) ** 2)) for n, c in zip(noisy, clean)])
    assert s["noisy_psnr"] == pytest.approx(expected, rel=1e-12)
    # The identity keeps the input exactly, so against clean it carries the input's own offset, which is
    # the independent numpy per-plane mean ratio.
    assert result["fidelity"]["max_abs_mean_shift"] == 0.0
    assert result["fidelity_to_clean"] == result["input_bias"]
    patterns = [b["pattern"] for b in result["per_block"]]
    for block, n, c, pattern in zip(result["per_block"], noisy, clean, patterns):
        for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):
            name = list(block["input_bias"])[2 * dy + dx]
            want = n[dy::2, dx::2].mean() / c[dy::2, dx::2].mean() - 1
            assert block["input_bias"][name]["mean_shift"] == pytest.approx(want, rel=1e-5, abs=1e-9), pattern


def test_validator_scores_a_spread_subset(blocks):
    folder, arrays = blocks
    validate = make_raw_validator(str(folder), 2, InferenceSettings())
    with torch.no_grad():
        scores = validate(nn.Identity())
    assert set(scores) >= {"psnr", "ssim", "noisy_psnr", "noisy_ssim"}
    picked = spread(6, 2)  # first and last block
    assert picked.tolist() == [0, 5]
    noisy = arrays["ValidationNoisyBlocksRaw"].reshape(-1, 32, 32)[picked]
    clean = arrays["ValidationGtBlocksRaw"].reshape(-1, 32, 32)[picked]
    assert scores["psnr"] == pytest.approx(block_metrics(noisy, clean)["psnr"].mean(), rel=1e-12)
    assert scores["psnr"] == scores["noisy_psnr"]


def test_missing_clean_blocks_and_bad_checkpoints_are_one_line_errors(tmp_path, blocks, capsys):
    folder, _ = blocks
    ckpt = write_tiny_checkpoint(tmp_path / "run")
    (folder / "ValidationGtBlocksRaw.mat").unlink()
    assert main(["evaluate", "--checkpoint", str(ckpt), "--blocks-dir", str(folder), "--out", str(tmp_path / "e")]) == 2
    assert "ValidationGtBlocksRaw.mat" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", str(tmp_path / "nope.pt"), "--blocks-dir", str(folder)]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    cfg = UNetConfig(in_channels=3, out_channels=3, width=8)
    rgb = save_checkpoint(tmp_path / "rgb", {"model": UNet(cfg).state_dict(), "model_config": cfg.to_dict(), "step": 0})
    assert main(["evaluate", "--checkpoint", str(rgb), "--blocks-dir", str(folder)]) == 2
    err = capsys.readouterr().err
    assert "4-channel" in err and len(err.strip().splitlines()) == 1


def test_instances_give_each_image_its_phone_pattern(blocks):
    from n2n_raw.sidd import load_block_set

    folder, _ = blocks
    block_set = load_block_set(folder, "validation", require_clean=True)
    assert [i.name for i in block_set.instances] == INSTANCES
    assert block_set.patterns == ["GRBG", "BGGR", "RGGB"]
