"""n2n_raw.sidd reads SIDD's real file formats: orientation, CFA by tag ID, file names, block sets, errors.

Fixtures are written in SIDD's formats by tests/sidd_fixtures.py (v7.3 through h5py stored column-major,
v5 through scipy), independently of the package's own demo writer.
"""

from __future__ import annotations

import logging

import h5py
import numpy as np
import pytest
import scipy.io

from n2n_raw import sidd
from n2n_raw.errors import DataError
from tests.sidd_fixtures import (
    mosaic_of,
    unknown_tags,
    write_blocks,
    write_medium_instance,
    write_metadata,
    write_v73_image,
)

S6 = "0001_001_S6_00100_00060_3200_L"
GP = "0021_001_GP_10000_05000_5500_N"
IP = "0031_001_IP_01600_02000_3200_N"


def test_scene_instance_parses_every_field():
    inst = sidd.SceneInstance.parse("0052_002_S6_01600_01000_5500_N")
    assert (inst.instance, inst.scene, inst.phone, inst.iso, inst.shutter, inst.temperature, inst.brightness) == (
        52, 2, "S6", 1600, 1000, 5500, "N")  # fmt: skip
    assert inst.cfa == "GRBG"
    assert sidd.SceneInstance.parse("0021_001_GP_10000_05000_5500_N").iso == 10000
    assert [sidd.SceneInstance.parse(n).cfa for n in (GP, IP)] == ["BGGR", "RGGB"]


def test_packaged_tables_match_the_documented_counts():
    assert sidd.bayer_patterns() == {"GP": "BGGR", "IP": "RGGB", "S6": "GRBG", "N6": "BGGR", "G4": "BGGR"}
    nlf, bench = sidd.noise_level_functions(), sidd.benchmark_instances()
    assert len(nlf) == 160 and len(bench) == 40 and bench == sorted(bench) and not set(nlf) & set(bench)
    assert nlf[S6]["g"] == (0.0004794565, 0.0)
    assert bench[0] == "0009_001_S6_00800_00350_3200_L" and bench[39] == "0187_008_IP_01600_01600_3200_L"


def test_v73_image_is_read_in_matlab_orientation(tmp_path):
    image = np.arange(6 * 10, dtype=np.float32).reshape(6, 10) / 100  # (H, W), H != W
    path = write_v73_image(tmp_path / "0001_NOISY_RAW_010.MAT", image)
    with h5py.File(path, "r") as fh:
        assert fh["x"].shape == (10, 6)  # h5py sees MATLAB's column-major array transposed
    with pytest.raises(NotImplementedError):
        scipy.io.loadmat(path)  # scipy recognises MATLAB's v7.3 header, as on real SIDD files
    out = sidd.read_image(path)
    assert out.dtype == np.float32 and out.shape == (6, 10)
    np.testing.assert_array_equal(out, image)
    assert sidd.image_shape(path) == (6, 10)


def test_galaxy_s6_reads_grbg_not_gbrg(tmp_path):
    # S6 is the only phone whose CFA name changes under transposition (docs/sidd.md §4).
    data = tmp_path / "Data"
    write_medium_instance(data, S6, mosaic_of("GRBG", 8, 12), metadata_cfa="GRBG")
    (image,) = sidd.find_medium_images(data.parent)
    x = sidd.read_image(image.path)
    assert (x[0, 0], x[0, 1], x[1, 0], x[1, 1]) == pytest.approx((0.5, 0.2, 0.8, 0.5))  # G R / B G
    with h5py.File(image.path, "r") as fh:
        raw = fh["x"][()]
    assert (raw[0, 1], raw[1, 0]) == pytest.approx((0.8, 0.2))  # untransposed view would read G B / R G
    assert sidd.image_cfa(image) == "GRBG"


def test_v5_metadata_with_unknown_tags(tmp_path):
    nlf = (1e-3, 2e-6, 3e-3, 4e-6, 5e-3, 6e-6)
    path = write_metadata(tmp_path / "m.MAT", "GRBG", noise_profile=nlf, iso=100, exposure=1 / 60)
    stored = scipy.io.loadmat(path)["metadata"][0, 0]
    assert stored["UnknownTags"].shape == (8, 1) and stored["ISOSpeedRatings"].dtype == np.uint8
    meta = sidd.read_metadata(path)
    assert meta.cfa == "GRBG" and meta.iso == 100 and meta.exposure_time == pytest.approx(1 / 60)
    assert meta.white_level == 1023 and meta.black_level == (0, 0, 0, 0)
    assert meta.noise_profile == pytest.approx(nlf)


def test_iphone_metadata_has_the_cfa_only_in_subifds(tmp_path):
    path = write_metadata(tmp_path / "ip.MAT", "RGGB", noise_profile=(7e-4, 2e-6) * 3, iso=1600, iphone=True)
    top = scipy.io.loadmat(path)["metadata"][0, 0]
    top_ids = [int(np.asarray(t["ID"]).ravel()[0]) for t in top["UnknownTags"].ravel()]
    assert sidd.TAG_CFA_PATTERN not in top_ids and "BlackLevel" not in top.dtype.names
    meta = sidd.read_metadata(path)
    assert meta.cfa == "RGGB" and meta.iso == 1600 and meta.white_level == 1023
    assert meta.noise_profile == pytest.approx((7e-4, 2e-6) * 3)


def test_cfa_is_found_by_tag_id_not_by_position(tmp_path):
    tags = unknown_tags("BGGR", (1e-3, 0.0) * 3)[::-1].copy()  # CFAPattern now at position 6, not 1
    scipy.io.savemat(tmp_path / "m.MAT", {"metadata": {"BitDepth": np.array([[16.0]]), "UnknownTags": tags}})
    meta = sidd.read_metadata(tmp_path / "m.MAT")
    assert meta.cfa == "BGGR" and meta.noise_profile == pytest.approx((1e-3, 0.0) * 3)


def test_both_file_name_variants_are_found(tmp_path):
    data = tmp_path / "SIDD_Medium_Raw" / "Data"
    image = mosaic_of("BGGR", 4, 4)
    write_medium_instance(data, GP, image, frames=("010", "011"), prefixed=True)
    folder = write_medium_instance(data, IP, image, frames=("010",), prefixed=False)
    (folder / "NOISY_RAW_010.MAT").rename(folder / "NOISY_RAW_010.mat")  # extension case does not matter
    found = sidd.find_medium_images(tmp_path / "SIDD_Medium_Raw")
    assert [(f.instance.name, f.frame, f.path.name) for f in found] == [
        (GP, "010", "0021_NOISY_RAW_010.MAT"), (GP, "011", "0021_NOISY_RAW_011.MAT"), (IP, "010", "NOISY_RAW_010.mat")]  # fmt: skip
    assert len(sidd.find_medium_images(data, frames=("011",))) == 1  # the Data folder itself works too


def test_missing_metadata_falls_back_to_the_phone_table(tmp_path, caplog):
    data = tmp_path / "Data"
    write_medium_instance(data, GP, mosaic_of("BGGR", 4, 4))
    (image,) = sidd.find_medium_images(data)
    with caplog.at_level(logging.INFO, logger="n2n_raw.sidd"):
        assert sidd.image_cfa(image) == "BGGR"
    assert "per-phone table" in caplog.text


def _truncated(tmp_path):
    path = write_v73_image(tmp_path / "0001_NOISY_RAW_010.MAT", np.zeros((64, 64), np.float32))
    path.write_bytes(path.read_bytes()[:1200])
    return lambda: sidd.read_image(path), path.name


def _error_cases():
    def missing_key(tmp_path):
        path = write_v73_image(tmp_path / "0001_NOISY_RAW_010.MAT", np.zeros((4, 4)), key="y")
        return lambda: sidd.read_image(path), "no variable 'x'"

    def plain_hdf5(tmp_path):
        path = write_v73_image(tmp_path / "0001_NOISY_RAW_010.MAT", np.zeros((4, 4)), header=False)
        return lambda: sidd.read_image(path), "not a MATLAB v7.3 file"

    def wrong_ndim(tmp_path):
        path = write_blocks(tmp_path / sidd.VALIDATION_NOISY, np.zeros((2, 8, 8), np.float32))
        return lambda: sidd.read_blocks(path), "expected 4-D"

    def wrong_key(tmp_path):
        path = write_blocks(tmp_path / sidd.BENCHMARK_NOISY, np.zeros((1, 1, 4, 4), np.float32), key="x")
        return lambda: sidd.read_blocks(path), "no variable 'BenchmarkNoisyBlocksRaw'"

    def empty_folder(tmp_path):
        (tmp_path / "Data").mkdir()
        return lambda: sidd.find_medium_images(tmp_path), "no SIDD NOISY_RAW"

    def unknown_phone(tmp_path):
        write_medium_instance(tmp_path / "Data", "0001_001_X9_00100_00060_3200_L", np.zeros((4, 4)))
        return lambda: sidd.find_medium_images(tmp_path), "unknown phone code 'X9'"

    def truncated(tmp_path):
        fn, _ = _truncated(tmp_path)
        return fn, "0001_NOISY_RAW_010.MAT"

    return [missing_key, plain_hdf5, wrong_ndim, wrong_key, empty_folder, unknown_phone, truncated]


@pytest.mark.parametrize("case", _error_cases(), ids=lambda c: c.__name__)
def test_bad_input_gives_one_line_error_naming_the_file(tmp_path, case):
    fn, expected = case(tmp_path)
    with pytest.raises(DataError) as info:
        fn()
    message = str(info.value)
    assert "\n" not in message and expected in message and str(tmp_path) in message


def test_nan_and_out_of_range_are_sanitised_and_counted_once(tmp_path, caplog):
    blocks = np.full((1, 2, 4, 4), 0.5, np.float32)
    blocks[0, 0, 0, :3] = np.nan
    blocks[0, 1, 1, 1], blocks[0, 1, 2, 2] = 1.5, -0.25
    path = write_blocks(tmp_path / sidd.VALIDATION_NOISY, blocks)
    with caplog.at_level(logging.WARNING, logger="n2n_raw.sidd"):
        out = sidd.read_blocks(path)
        sidd.read_blocks(path)
    assert out.dtype == np.float32
    assert (out[0, 0, 0, :3] == 0).all() and out[0, 1, 1, 1] == 1 and out[0, 1, 2, 2] == 0
    assert caplog.text.count("replaced 3 NaN values by 0 and clipped 2 values") == 1


def test_block_set_order_from_blocks_info(tmp_path):
    noisy = np.random.default_rng(0).random((2, 3, 8, 8)).astype(np.float32)
    write_blocks(tmp_path / sidd.VALIDATION_NOISY, noisy)
    write_blocks(tmp_path / sidd.VALIDATION_CLEAN, noisy * 0.5)
    (tmp_path / sidd.BLOCKS_INFO).write_text(f'{{"validation": ["{S6}", "{GP}"], "benchmark": []}}')
    bs = sidd.load_block_set(tmp_path, "validation", require_clean=True)
    assert bs.patterns == ["GRBG", "BGGR"] and [i.name for i in bs.instances] == [S6, GP]
    np.testing.assert_array_equal(bs.noisy, noisy)
    np.testing.assert_array_equal(bs.clean, noisy * 0.5)
    assert sidd.load_block_set(tmp_path, "validation", patterns=["rggb", "gbrg"]).patterns == ["RGGB", "GBRG"]
    with pytest.raises(DataError, match="2 images but 1 CFA"):
        sidd.load_block_set(tmp_path, "validation", patterns=["RGGB"])
    with pytest.raises(DataError, match="BenchmarkNoisyBlocksRaw.mat"):
        sidd.load_block_set(tmp_path, "benchmark")


def test_block_set_without_info_uses_the_sorted_benchmark_list(tmp_path):
    write_blocks(tmp_path / sidd.BENCHMARK_NOISY, np.zeros((40, 1, 4, 4), np.float32))
    bs = sidd.load_block_set(tmp_path, "benchmark")
    assert bs.clean is None and bs.clean_path is None
    assert bs.patterns[:5] == ["GRBG", "BGGR", "BGGR", "BGGR", "RGGB"]  # Appendix A rows 0-4
    assert bs.instances[39].name == "0187_008_IP_01600_01600_3200_L"
    with pytest.raises(DataError, match="BenchmarkGtBlocksRaw_DEMO_ONLY.mat"):
        sidd.load_block_set(tmp_path, "benchmark", require_clean=True)
    write_blocks(tmp_path / sidd.VALIDATION_NOISY, np.zeros((3, 1, 4, 4), np.float32))
    with pytest.raises(DataError, match="not SIDD's 40"):
        sidd.load_block_set(tmp_path, "validation")
