"""prepare-sidd: crops keep the CFA phase after unification, offsets are even, re-runs do nothing, and an
interrupted run resumes. Inputs are tiny SIDD trees in SIDD's real formats (tests/sidd_fixtures.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from n2n_raw import prepare as prep
from n2n_raw import sidd
from n2n_raw.bayer import pack_bayer, pattern_shift
from n2n_raw.data import bayer_training_set
from n2n_raw.errors import DataError
from tests.sidd_fixtures import mosaic_of, write_medium_instance

S6 = "0001_001_S6_00100_00060_3200_L"  # GRBG
GP = "0021_001_GP_10000_05000_5500_N"  # BGGR
IP = "0031_001_IP_01600_02000_3200_N"  # RGGB, metadata only under SubIFDs


def make_tree(root, h=40, w=52):
    data = root / "SIDD_Medium_Raw" / "Data"
    write_medium_instance(data, S6, mosaic_of("GRBG", h, w), frames=("010", "011"), metadata_cfa="GRBG")
    write_medium_instance(data, GP, mosaic_of("BGGR", h, w), prefixed=False)  # no metadata: phone table
    write_medium_instance(data, IP, mosaic_of("RGGB", h, w), metadata_cfa="RGGB", iphone=True)
    return data.parent


def config(root, out, **kw):
    return prep.PrepareConfig(sidd_root=str(root), out=str(out), crop_size=16, stride=8, **kw)


def test_crop_starts_cover_the_image_with_a_flush_last_crop():
    assert prep.crop_starts(638, 512, 256) == [0, 126]
    assert prep.crop_starts(1000, 512, 256) == [0, 256, 488]
    assert prep.crop_starts(512, 512, 256) == [0]
    assert prep.crop_starts(500, 512, 256) == []


def test_crops_keep_the_cfa_phase_of_every_phone(tmp_path):
    out = prep.prepare(config(make_tree(tmp_path), tmp_path / "prepared"))
    crops = np.load(out / "crops.npy", mmap_mode="r")
    info = json.loads((out / "crops.json").read_text())
    assert info["pattern"] == "RGGB" and info["crop_size"] == 16 and crops.shape[1:] == (16, 16)
    assert len(info["crops"]) == crops.shape[0] == 4 * (4 * 6)  # 4 images; unified 38…40 × 50…52 → 4×6 crops
    assert {c["cfa"] for c in info["crops"]} == {"GRBG", "BGGR", "RGGB"}
    assert {c["instance"] for c in info["crops"]} == {S6, GP, IP} and {c["frame"] for c in info["crops"]} == {
        "010",
        "011",
    }
    assert all(c["offset"][0] % 2 == 0 and c["offset"][1] % 2 == 0 for c in info["crops"])
    packed = pack_bayer(np.asarray(crops))  # (N, 4, 8, 8): R, Gr, Gb, B for RGGB
    for k, expected in enumerate((0.2, 0.5, 0.5, 0.8)):  # the colours mosaic_of puts in R, G, B
        np.testing.assert_allclose(packed[:, k], expected, rtol=1e-6)


def test_crop_content_is_the_unified_image_at_the_recorded_offset(tmp_path):
    data = tmp_path / "SIDD_Medium_Raw" / "Data"
    image = np.random.default_rng(0).random((36, 44)).astype(np.float32)
    write_medium_instance(data, S6, image)
    out = prep.prepare(config(data.parent, tmp_path / "prepared"))
    crops = np.load(out / "crops.npy")
    info = json.loads((out / "crops.json").read_text())
    assert pattern_shift("GRBG", "RGGB") == (0, 1)
    for crop, meta in zip(crops, info["crops"]):
        (r, c), (dy, dx) = meta["offset"], meta["shift"]
        np.testing.assert_array_equal(crop, image[r + dy : r + dy + 16, c + dx : c + dx + 16])
    assert [m["offset"] for m in info["crops"]][-1] == [20, 26]  # flush with the unified 36×42 image


def test_rerunning_prepare_is_a_no_op_until_a_source_changes(tmp_path, caplog):
    root = make_tree(tmp_path)
    out = prep.prepare(config(root, tmp_path / "prepared"))
    stamp = (out / "crops.npy").stat().st_mtime_ns
    with caplog.at_level("INFO", logger="n2n_raw.prepare"):
        prep.prepare(config(root, out))
    assert "nothing to do" in caplog.text and (out / "crops.npy").stat().st_mtime_ns == stamp
    write_medium_instance(root / "Data", GP, mosaic_of("BGGR", 40, 60), prefixed=False)  # the source changed
    prep.prepare(config(root, out))
    assert np.load(out / "crops.npy", mmap_mode="r").shape[0] == 3 * 24 + 4 * 7  # GP now 38×58 unified: 4×7 crops


def test_an_interrupted_run_resumes_after_the_last_finished_image(tmp_path, monkeypatch):
    root = make_tree(tmp_path)
    reads, real_read = [], sidd.read_image

    def failing_read(path):
        reads.append(path.name)
        if len(reads) == 3:
            raise KeyboardInterrupt  # what Ctrl-C does in the middle of the third image
        return real_read(path)

    monkeypatch.setattr(sidd, "read_image", failing_read)
    with pytest.raises(KeyboardInterrupt):
        prep.prepare(config(root, tmp_path / "prepared"))
    assert not (tmp_path / "prepared" / "crops.npy").exists()  # never a partial result under the final name
    monkeypatch.setattr(sidd, "read_image", lambda p: (reads.append(p.name), real_read(p))[1])
    out = prep.prepare(config(root, tmp_path / "prepared"))
    assert len(reads) == 3 + 2  # images 3 and 4 only
    fresh = prep.prepare(config(root, tmp_path / "fresh"))
    np.testing.assert_array_equal(np.load(out / "crops.npy"), np.load(fresh / "crops.npy"))


def test_prepared_crops_feed_the_training_set(tmp_path):
    out = prep.prepare(config(make_tree(tmp_path), tmp_path / "prepared"))
    dataset = bayer_training_set(out, crop=8, augment=True, seed=0)
    item = dataset[(1, 3)]["noisy"]
    assert tuple(item.shape) == (4, 4, 4)
    np.testing.assert_allclose(item.numpy()[[0, 1, 2, 3], 0, 0], [0.2, 0.5, 0.5, 0.8], rtol=1e-6)


def test_bad_settings_and_missing_data_are_one_line_errors(tmp_path):
    with pytest.raises(DataError, match="even"):
        prep.PrepareConfig(sidd_root="x", crop_size=15)
    with pytest.raises(DataError, match="needs --sidd-root"):
        prep.PrepareConfig()
    with pytest.raises(DataError, match="not found"):
        prep.prepare(config(tmp_path / "nowhere", tmp_path / "out"))
    root = make_tree(tmp_path)
    with pytest.raises(DataError, match="large enough"):
        prep.prepare(prep.PrepareConfig(sidd_root=str(root), out=str(tmp_path / "o"), crop_size=64))
