"""The model shipped with the package: its file, configuration, parameter count and a golden output on a
fixed tiny input, so that a changed file cannot pass unnoticed; and the commands' fallback to it."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from n2n_raw.checkpoint import load_model
from n2n_raw.model import count_parameters
from n2n_raw.pretrained import PRETRAINED

FILE_SHA256 = "733f484eacbff5ebd9a7b289038ce177eb2997e8bc0c645d6ea57f01f3c1a09b"
# Per-plane means and the values at four fixed pixels of the output on golden_input(), to 1e-4: exact on one
# CPU, and tolerant of the last-bit differences between CPU kinds' fp32 kernels. The means are the input's own
# (keep_local_means on a 32 × 32 input); the pixels are what the network changed.
GOLDEN_MEANS = [0.16489, 0.273626, 0.274963, 0.220274]
GOLDEN_PIXELS = [
    [0.026359, 0.043704, 0.038318, 0.027594],
    [0.176566, 0.295729, 0.299007, 0.241294],
    [0.159617, 0.272754, 0.272757, 0.21998],
    [0.037826, 0.082402, 0.088619, 0.070544],
]
PIXELS = ((0, 0), (5, 17), (16, 16), (31, 2))


def golden_input() -> torch.Tensor:
    """A fixed packed input: a smooth colour ramp plus seeded noise, (1, 4, 32, 32)."""
    g = torch.Generator().manual_seed(2026)
    ramp = torch.linspace(0.05, 0.5, 32).expand(32, 32)
    gains = torch.tensor([0.6, 1.0, 1.0, 0.8]).view(4, 1, 1)
    return (ramp * gains + 0.02 * torch.randn(4, 32, 32, generator=g)).unsqueeze(0)


def test_shipped_weights_load_with_their_configuration_and_give_the_golden_output():
    assert PRETRAINED.is_file()
    model, info = load_model(PRETRAINED)
    assert count_parameters(model) == 1_260_868
    assert (info.model_config.in_channels, info.model_config.out_channels, info.model_config.width) == (4, 4, 48)
    assert info.data.cfa_target == "RGGB" and info.data.cfa_phase == "unified"
    # Stage 2 of `make pretrained`: 4,000 steps fine-tuning the 4,000-step stage 1 on the wide augmentation; the
    # identity-path U-Net that starts as the exact identity (the architecture comes from stage 1 through --init),
    # its correction kept free of its 32 × 32 local means from stage 2 on, and run free of its 16 × 16 ones
    # (`python -m n2n_raw.pretrained … --keep-local-means 16`, an option without weights).
    config, arch = info.train_config, info.model_config
    assert config.synthetic_noise == "sidd" and info.step == 4_000 and config.init.endswith("latest.pt")
    assert (config.colour_range, config.noise_below_black) == ("wide", "mix")
    assert (config.noise_range, config.balance_crops, config.keep_local_means) == ("wide", True, 32)
    assert (arch.residual, arch.init_scale, arch.zero_output_init, arch.keep_local_means) == (True, 1.0, True, 16)
    state = torch.load(PRETRAINED, weights_only=True)
    assert "optimizer" not in state  # weights only
    assert hashlib.sha256(PRETRAINED.read_bytes()).hexdigest() == FILE_SHA256
    with torch.no_grad():
        out = model.eval()(golden_input())[0].numpy()
    assert out.mean(axis=(1, 2)).tolist() == pytest.approx(GOLDEN_MEANS, abs=1e-4)
    assert [out[:, r, c].tolist() for r, c in PIXELS] == [pytest.approx(v, abs=1e-4) for v in GOLDEN_PIXELS]


@pytest.mark.parametrize("command", ["evaluate", "denoise"])
def test_commands_say_they_use_the_shipped_model_when_no_checkpoint_is_given(command, tmp_path, caplog):
    from n2n_raw.cli import main
    from tests.camera_fixtures import stage_scene, write_camera_dng
    from tests.eval_fixtures import write_block_dir

    write_block_dir(tmp_path / "blocks")
    data, _ = stage_scene(64, 96, "RGGB")
    photo = write_camera_dng(tmp_path / "p.dng", data)
    args = {"evaluate": ["evaluate", "--blocks-dir", str(tmp_path / "blocks"), "--out", str(tmp_path / "e"), "--sheet-blocks", "0"],
            "denoise": ["denoise", str(photo), "--preview", "--no-preview"]}[command]  # fmt: skip
    with caplog.at_level("INFO"):
        assert main(args) == 0
    assert "using the model shipped with the package" in caplog.text
    if command == "evaluate":  # the report names the file it scored
        assert json.loads((tmp_path / "e" / "metrics.json").read_text())["checkpoint"] == str(PRETRAINED)


def test_tiled_inference_equals_one_whole_pass_with_the_trained_model():
    """Tiles read with 256 pixels of context on the pooling grid give one whole-image pass's result here:
    stated tolerance 1e-5 (float rounding), measured on the shipped model where the U-Net's receptive field
    is really used (an untrained one is nearly constant)."""
    from n2n_raw.inference import InferenceSettings, denoise_blocks, denoise_mosaic_tiled

    model, _ = load_model(PRETRAINED)
    model.eval()
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:512, 0:768]
    mosaic = (0.25 + 0.15 * np.sin(x / 23.0) * np.cos(y / 31.0) + 0.03 * rng.standard_normal((512, 768))).astype(
        np.float32
    )
    whole = denoise_blocks(model, mosaic[None], ["GRBG"], InferenceSettings(), clamp=False)[0]
    tiled = denoise_mosaic_tiled(
        model, mosaic, "GRBG", InferenceSettings(batch_size=2), tile=256, overlap=256, clamp=False, progress=False
    )
    assert np.abs(tiled - whole).max() < 1e-5
    seams = denoise_mosaic_tiled(
        model, mosaic, "GRBG", InferenceSettings(batch_size=2), tile=256, overlap=32, clamp=False, progress=False
    )
    assert np.abs(seams - whole).max() > 1e-4  # off the pooling grid the tiles do differ: the check can fail
    # The default context (128, on the grid) sits between: less than 64's seam error, and below 1e-3 here.
    from n2n_raw.denoise import OVERLAP

    def seam_error(overlap: int) -> float:
        settings = InferenceSettings(batch_size=2)
        out = denoise_mosaic_tiled(
            model, mosaic, "GRBG", settings, tile=256, overlap=overlap, clamp=False, progress=False
        )
        return float(np.abs(out - whole).max())

    assert OVERLAP == 128 and seam_error(64) > seam_error(OVERLAP) and seam_error(OVERLAP) < 1e-3


def test_exporting_sets_the_block_size_the_network_runs_at_and_is_byte_reproducible(tmp_path):
    from n2n_raw.errors import CheckpointError
    from n2n_raw.pretrained import export_pretrained

    a = export_pretrained(PRETRAINED, tmp_path / "a.pt", keep_local_means=32)
    b = export_pretrained(PRETRAINED, tmp_path / "b.pt", keep_local_means=32)
    assert a.read_bytes() == b.read_bytes()  # no temporary name inside the archive
    model, info = load_model(a)
    assert info.model_config.keep_local_means == 32 and info.train_config.keep_local_means == 32
    shipped, _ = load_model(PRETRAINED)
    assert all(torch.equal(p, q) for p, q in zip(model.state_dict().values(), shipped.state_dict().values()))
    assert export_pretrained(a, tmp_path / "c.pt").read_bytes() == a.read_bytes()  # unchanged when not asked
    with pytest.raises(CheckpointError, match="keep-local-means 3"):
        export_pretrained(PRETRAINED, tmp_path / "d.pt", keep_local_means=3)
    assert not (tmp_path / "d.pt").exists()


def test_the_export_command_reports_a_bad_block_size_or_checkpoint_in_one_line(tmp_path, capsys):
    from n2n_raw.pretrained import main

    assert main([str(PRETRAINED), str(tmp_path / "d.pt"), "--keep-local-means", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("n2n-raw: error: ") and "--keep-local-means 3" in err and "\n" not in err
    assert main([str(tmp_path / "missing.pt"), str(tmp_path / "e.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert "missing.pt: checkpoint not found" in err and "\n" not in err
    assert not (tmp_path / "d.pt").exists() and not (tmp_path / "e.pt").exists()
