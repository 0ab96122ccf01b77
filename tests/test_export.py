"""n2n-raw export: one ONNX graph (unify, pack, pad, U-Net, back) with dynamic height and width, checked by
running the written file with onnxruntime against PyTorch on a 2 MP mosaic of an odd number of blocks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from n2n_raw.checkpoint import load_model
from n2n_raw.cli import main
from n2n_raw.inference import InferenceSettings, denoise_blocks
from tests.eval_fixtures import write_tiny_checkpoint


def test_onnx_export_equals_pytorch_on_a_2mp_mosaic_of_odd_block_count(tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime", reason="the export extra is not installed")
    ckpt = write_tiny_checkpoint(tmp_path, seed=0, init_scale=1.0)  # full-scale weights: outputs far from constant
    model, _ = load_model(ckpt)
    out = tmp_path / "model.onnx"
    assert main(["export", str(ckpt), "--out", str(out), "--pattern", "GRBG", "--test-size", "1056"]) == 0
    assert "largest difference from PyTorch" in capsys.readouterr().out
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    mosaic = np.random.default_rng(3).random((1, 1, 1056, 2016), dtype=np.float32)  # 33 × 63 blocks of 32: 2.1 MP
    got = session.run(None, {"mosaic": mosaic})[0]
    expected = denoise_blocks(model.eval(), mosaic[0], ["GRBG"], InferenceSettings(), clamp=False)
    assert got.shape == mosaic.shape and np.abs(got[0] - expected).max() < 1e-5
    assert np.abs(expected).mean() > 0.05  # a real comparison, not of two near-zero outputs


def test_pt2_export_runs_without_the_package_code_at_another_size(tmp_path):
    ckpt = write_tiny_checkpoint(tmp_path, seed=1, init_scale=1.0)  # full-scale weights: outputs far from constant
    model, _ = load_model(ckpt)
    out = tmp_path / "model.pt2"
    assert (
        main(["export", str(ckpt), "--format", "pt2", "--out", str(out), "--pattern", "BGGR", "--test-size", "96"]) == 0
    )
    program = torch.export.load(str(out)).module()
    mosaic = np.random.default_rng(4).random((1, 1, 160, 224), dtype=np.float32)
    with torch.no_grad():
        got = program(torch.from_numpy(mosaic)).numpy()
    expected = denoise_blocks(model.eval(), mosaic[0], ["BGGR"], InferenceSettings(), clamp=False)
    assert np.abs(got[0] - expected).max() < 1e-5
