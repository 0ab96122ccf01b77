"""A checkpoint carries its CFA target: crops unified to BGGR are trained, validated, evaluated and submitted
with BGGR-unified blocks, never RGGB (which would swap R and B silently).

Real files throughout: a SIDD-Medium tree in SIDD's formats cut by ``prepare-sidd --pattern BGGR``, block files
of three phones with three CFAs, and the real CLI. Every block is colour-coded (R 0.2, G 0.5, B 0.8), so the
packed planes the network receives say which pattern they were unified to.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.io
import torch

from n2n_raw.checkpoint import read_checkpoint
from n2n_raw.cli import main
from n2n_raw.model import UNet
from tests.eval_fixtures import INSTANCES, PATTERNS
from tests.sidd_fixtures import mosaic_of, write_medium_instance

CODE = {"R": 0.2, "G": 0.5, "B": 0.8}


def write_coded_blocks(folder, size=32, n_blocks=2):
    """Validation and benchmark block files whose blocks are colour-coded mosaics in each image's own CFA."""
    folder.mkdir(parents=True, exist_ok=True)
    blocks = np.stack([np.stack([mosaic_of(p, size, size, CODE)] * n_blocks) for p in PATTERNS]).astype(np.float32)
    for name in (
        "ValidationNoisyBlocksRaw",
        "ValidationGtBlocksRaw",
        "BenchmarkNoisyBlocksRaw",
        "BenchmarkGtBlocksRaw_DEMO_ONLY",
    ):
        scipy.io.savemat(folder / f"{name}.mat", {name: blocks})
    (folder / "blocks_info.json").write_text(json.dumps({"validation": INSTANCES, "benchmark": INSTANCES}))


@pytest.fixture
def recorded(monkeypatch):
    """Packed inputs of every network call made in eval mode (validation and inference)."""
    seen: list[torch.Tensor] = []
    forward = UNet.forward

    def recording(self, x):
        if not self.training:
            seen.append(x.detach().float().clone())
        return forward(self, x)

    monkeypatch.setattr(UNet, "forward", recording)
    return seen


def assert_all_bggr(seen):
    assert seen
    for x in seen:
        planes = [x[:, c].unique().tolist() for c in range(4)]  # (0,0), (0,1), (1,0), (1,1)
        assert [len(p) for p in planes] == [1, 1, 1, 1], planes
        assert [p[0] for p in planes] == pytest.approx([CODE["B"], CODE["G"], CODE["G"], CODE["R"]]), planes


def test_bggr_unified_training_feeds_bggr_blocks_everywhere(tmp_path, recorded):
    root = tmp_path / "SIDD_Medium_Raw"
    write_medium_instance(
        root / "Data", "0001_001_S6_00100_00060_3200_L", mosaic_of("GRBG", 96, 96), metadata_cfa="GRBG"
    )
    write_medium_instance(
        root / "Data", "0031_001_IP_01600_02000_3200_N", mosaic_of("RGGB", 96, 96), metadata_cfa="RGGB", iphone=True
    )
    blocks = tmp_path / "blocks"
    write_coded_blocks(blocks)
    prepared, run = tmp_path / "prepared", tmp_path / "run"
    assert main(["prepare-sidd", "--sidd-root", str(root), "--out", str(prepared), "--pattern", "BGGR",
                 "--crop-size", "64", "--stride", "32"]) == 0  # fmt: skip
    assert main(["train", "--data", str(prepared), "--validation-dir", str(blocks), "--out", str(run), "--crop", "64",
                 "--batch-size", "2", "--max-steps", "1", "--epochs", "1", "--num-workers", "0"]) == 0  # fmt: skip
    info = read_checkpoint(run / "checkpoints" / "latest.pt")
    assert info.data.cfa_target == "BGGR" and info.data.cfa_phase == "unified"
    assert_all_bggr(recorded)  # the validation of training

    recorded.clear()
    ckpt = str(run / "checkpoints" / "latest.pt")
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                ckpt,
                "--blocks-dir",
                str(blocks),
                "--out",
                str(tmp_path / "eval"),
                "--sheet-blocks",
                "0",
            ]
        )
        == 0
    )
    assert_all_bggr(recorded)
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["cfa"] == {"mode": "unify", "target": "BGGR"}

    recorded.clear()
    assert main(["submit", "--checkpoint", ckpt, "--blocks-dir", str(blocks), "--out", str(tmp_path / "submit")]) == 0
    assert_all_bggr(recorded)
