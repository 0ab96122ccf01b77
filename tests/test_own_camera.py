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
