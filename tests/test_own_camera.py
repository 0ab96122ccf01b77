"""Real photos end to end: an undenoised round trip keeps the photo bit for bit (levels below black and above
white, camera tags) and renders identically; the denoise report measures colour fidelity."""

from __future__ import annotations

import json

import numpy as np
import rawpy

from n2n_raw.cli import main
from tests.camera_fixtures import BLACK, CAMERA, WHITE, stage_scene, write_camera_dng


def test_identity_round_trip_is_bit_exact_keeps_the_tags_and_renders_identically(tmp_path):
    data, _ = stage_scene(
        61, 83, "GRBG", light=(0.05, 0.3, 1.0), level=0.01, read_noise=20.0
    )  # blue light, dark, odd size
    data[5, 7], data[9, 10] = WHITE + 200, 0  # above white, far below black
    assert (data < BLACK).mean() > 0.05 and (data > WHITE).any()
    src = write_camera_dng(tmp_path / "stage.dng", data, "GRBG", iso=6400, exposure=(1, 125))
    assert main(["denoise", str(src), "--checkpoint", "identity", "--tile", "32", "--overlap", "8"]) == 0
    out = tmp_path / "stage_denoised.dng"
    with rawpy.imread(str(src)) as a, rawpy.imread(str(out)) as b:
        assert np.array_equal(a.raw_image_visible, b.raw_image_visible)
        assert a.black_level_per_channel == b.black_level_per_channel and a.white_level == b.white_level
        assert a.camera_whitebalance == b.camera_whitebalance
        ra, rb = (im.postprocess(use_camera_wb=True, no_auto_bright=True, output_bps=16) for im in (a, b))
        assert np.array_equal(ra, rb)
    import tifffile

    with tifffile.TiffFile(out) as tif:
        tags = tif.pages[0].tags
        assert (tags[271].value, tags[272].value) == CAMERA and tags[274].value == 1
        assert tags[34855].value == 6400 and tuple(tags[33434].value) == (1, 125)
        assert tags[50708].value == f"{CAMERA[0]} {CAMERA[1]}" and 50730 in tags
    report = json.loads((tmp_path / "stage_denoised.json").read_text())
    assert set(report["fidelity"]) == {"G1", "R", "B", "G2"}
    assert report["fidelity_worst"]["max_abs_mean_shift"] == 0.0


def test_own_photos_prepare_raw_train_init_and_denoise_adapt_through_the_cli(tmp_path, caplog):
    from n2n_raw.checkpoint import read_checkpoint
    from n2n_raw.data import load_prepared
    from tests.eval_fixtures import write_tiny_checkpoint

    photos = tmp_path / "photos"
    photos.mkdir()
    for k, (pattern, light) in enumerate(
        [("RGGB", (1.0, 0.3, 0.1)), ("BGGR", (0.1, 0.3, 1.0)), ("GRBG", (0.2, 1.0, 0.2))]
    ):
        data, _ = stage_scene(300, 420, pattern, light=light, level=0.05, seed=k)
        write_camera_dng(photos / f"shot{k}.dng", data, pattern)
    (photos / "broken.dng").write_bytes(b"II*\0" + b"\0" * 100)  # reported and skipped, not fatal
    small, _ = stage_scene(40, 40, "RGGB")
    write_camera_dng(photos / "tiny.dng", small)  # smaller than one crop: skipped
    prepared = tmp_path / "prepared"
    assert main(["prepare-raw", str(photos), "--out", str(prepared), "--crop-size", "128", "--stride", "128"]) == 0
    crops, info = load_prepared(prepared)
    assert len(info["photos"]) == 3 and crops.shape == (
        3 * 3 * 4,
        128,
        128,
    )  # 3 × 4 crops each, the last flush with the border
    assert {p["camera"] for p in info["photos"]} == {"TestMaker Model X100"} and info["photos"][0]["iso"] == 3200
    assert crops.min() < 0  # values below black survive
    with caplog.at_level("INFO"):
        assert main(["prepare-raw", str(photos), "--out", str(prepared), "--crop-size", "128", "--stride", "128"]) == 0
    assert "nothing to do" in caplog.text

    base = write_tiny_checkpoint(tmp_path / "base")
    run = tmp_path / "run"
    assert main(["train", "--data", str(prepared), "--out", str(run), "--init", str(base), "--crop", "128",
                 "--batch-size", "2", "--epochs", "2", "--steps-per-epoch", "2", "--holdout", "3",
                 "--num-workers", "0"]) == 0  # fmt: skip
    lines = [json.loads(s) for s in (run / "metrics.jsonl").read_text().splitlines()]
    scores = [r["val_holdout_loss"] for r in lines if "val_holdout_loss" in r]
    assert len(scores) == 2 and all(np.isfinite(scores))
    assert read_checkpoint(run / "checkpoints" / "latest.pt").model_config.width == 8  # the init's architecture

    assert main(["denoise", str(photos / "shot1.dng"), "--checkpoint", str(base), "--adapt", "3", "--tile", "128"]) == 0
    report = json.loads((photos / "shot1_denoised.json").read_text())
    assert report["adapt"]["steps"] == 3 and np.isfinite(report["adapt"]["holdout_before"])
    assert np.isfinite(report["adapt"]["holdout_after"]) and (photos / "shot1_denoised_crops.png").is_file()
    assert not [p for p in photos.iterdir() if p.name.startswith(".")]  # the adaptation's folder is gone
    assert main(["denoise", str(photos / "shot1.dng"), "--checkpoint", str(base), "--adapt", "3", "--tile", "128",
                 "--adapt-balance", "planes", "--force"]) == 0  # fmt: skip
    planes = json.loads((photos / "shot1_denoised.json").read_text())["adapt"]
    assert (report["adapt"]["balance"], planes["balance"]) == ("off", "planes")
    assert planes["holdout_before"] == report["adapt"]["holdout_before"]  # same model, same held-out crops
    assert planes["holdout_after"] != report["adapt"]["holdout_after"]  # the weighting reached the loss


def test_python_interface_denoises_a_mosaic_and_a_file_like_the_command(tmp_path):
    import n2n_raw

    data, _ = stage_scene(64, 96, "RGGB", level=0.1)
    src = write_camera_dng(tmp_path / "a.dng", data)
    denoiser = n2n_raw.load("identity")
    mosaic = np.random.default_rng(0).random((64, 96), dtype=np.float32) - 0.1  # below-black values kept
    assert np.array_equal(denoiser.denoise_mosaic(mosaic, "GBRG"), mosaic)
    report = denoiser.denoise_file(src, tmp_path / "b.dng", preview=False, side_by_side=False)
    assert report["files"] == [str(tmp_path / "b.dng"), str(tmp_path / "b.json")]
    with rawpy.imread(str(src)) as a, rawpy.imread(str(tmp_path / "b.dng")) as b:
        assert np.array_equal(a.raw_image_visible, b.raw_image_visible)
