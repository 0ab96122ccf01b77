"""``n2n-raw denoise``: real DNGs written here with tifffile (Bayer CFA tags, per-position black levels,
white level, colour matrix) go through the command; the output DNG re-opens in rawpy with the same size,
pattern and levels, the identity model gives back the input raw exactly, and non-Bayer or unreadable files
get one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import rawpy
import tifffile
from PIL import Image

from n2n_raw import denoise as denoise_module
from n2n_raw.cli import main
from tests.eval_fixtures import write_tiny_checkpoint

BLACK = (64, 65, 66, 67)  # per CFA position, row-major
WHITE = 1023
COLOR_MATRIX = [1.0, -0.3, -0.1, -0.4, 1.3, 0.1, -0.1, 0.2, 0.6]


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: a second thread only contends


def _rational(values, den=10000):
    return [x for v in values for x in (int(round(v * den)), den)]


def write_test_dng(path, pattern="GRBG", shape=(64, 96), seed=0, cfa_dim=(2, 2), cfa=None, photometric=32803):
    """A minimal but real DNG: uint16 CFA raw in IFD0 with the tags LibRaw needs."""
    rng = np.random.default_rng(seed)
    data = rng.integers(max(BLACK), WHITE, size=shape, dtype=np.uint16)  # all ≥ black: identity is exact
    codes = cfa if cfa is not None else [{"R": 0, "G": 1, "B": 2}[c] for c in pattern]
    tags = [
        (33421, "H", 2, cfa_dim, True), (33422, "B", len(codes), codes, True),
        (50706, "B", 4, (1, 4, 0, 0), True), (50707, "B", 4, (1, 1, 0, 0), True), (50708, "s", 0, "Test Camera", True),
        (50713, "H", 2, (2, 2), True), (50714, "I", 4, BLACK, True), (50717, "I", 1, WHITE, True),
        (50721, "2i", 9, _rational(COLOR_MATRIX), True), (50728, "2I", 3, _rational([0.5, 1.0, 0.6]), True),
        (50778, "H", 1, 21, True),
    ]  # fmt: skip
    if photometric != 32803:
        tags = [t for t in tags if t[0] not in (33421, 33422)]
    tifffile.imwrite(
        path, data, photometric=photometric, compression=None, subfiletype=0, metadata=None, extratags=tags
    )
    return data


def pattern_of(rp) -> str:
    return "".join(rp.color_desc.decode()[c] for c in rp.raw_colors_visible[:2, :2].flat)


def test_the_test_dng_is_a_real_bayer_dng_for_rawpy(tmp_path):
    data = write_test_dng(tmp_path / "in.dng", "GRBG")
    with rawpy.imread(str(tmp_path / "in.dng")) as rp:
        assert rp.raw_type == rawpy.RawType.Flat and pattern_of(rp) == "GRBG"
        assert np.array_equal(rp.raw_image_visible, data)
        # rawpy lists black levels per colour index: R (index 0) sits at position (0, 1) in GRBG.
        assert rp.black_level_per_channel == [65, 64, 66, 67] and rp.white_level == WHITE


@pytest.mark.parametrize("pattern", ["GRBG", "BGGR"])
def test_denoise_writes_a_dng_rawpy_reopens_with_same_size_pattern_levels(tmp_path, pattern, capsys):
    write_test_dng(tmp_path / "in.dng", pattern)
    ckpt = write_tiny_checkpoint(tmp_path / "run")
    assert (
        main(
            [
                "denoise",
                str(tmp_path / "in.dng"),
                "--checkpoint",
                str(ckpt),
                "--tile",
                "32",
                "--overlap",
                "8",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    out = tmp_path / "in_denoised.dng"
    with rawpy.imread(str(tmp_path / "in.dng")) as a, rawpy.imread(str(out)) as b:
        assert b.raw_image_visible.shape == a.raw_image_visible.shape
        assert pattern_of(b) == pattern_of(a) == pattern
        assert b.black_level_per_channel == a.black_level_per_channel and b.white_level == a.white_level
        assert b.raw_image_visible.max() <= WHITE
        np.testing.assert_allclose(b.color_matrix, a.color_matrix)  # colour tags carried over
    with tifffile.TiffFile(out) as t:
        assert t.pages[0].tags[50721].value == tuple(_rational(COLOR_MATRIX))
    preview = Image.open(tmp_path / "in_denoised.png")
    assert preview.mode == "RGB" and preview.size == (48, 32)  # half size by default
    assert "written:" in capsys.readouterr().out


def test_identity_model_returns_the_input_raw_exactly_even_with_odd_size(tmp_path, monkeypatch):
    data = write_test_dng(tmp_path / "in.dng", "BGGR", shape=(37, 51))
    config = denoise_module.DenoiseConfig(checkpoint="identity", tile=16, overlap=4, preview=False)
    result = denoise_module.denoise_photo(tmp_path / "in.dng", config)
    names = ["in_denoised.dng", "in_denoised_crops.png", "in_denoised.json"]
    assert result["files"] == [str(tmp_path / n) for n in names]
    with rawpy.imread(result["files"][0]) as rp:
        assert np.array_equal(rp.raw_image_visible, data)


def test_non_bayer_and_unreadable_files_are_one_line_errors(tmp_path, capsys):
    ckpt = str(write_tiny_checkpoint(tmp_path / "run"))
    xtrans = [int(c) for c in "110112112110201021112110110112021201"]  # a 6×6 X-Trans tile, row-major
    write_test_dng(tmp_path / "xtrans.dng", shape=(60, 96), cfa_dim=(6, 6), cfa=xtrans)
    write_test_dng(tmp_path / "linear.dng", shape=(32, 48, 3), photometric=34892)
    (tmp_path / "text.dng").write_text("not a raw file at all\n" * 10)
    cases = {
        "xtrans.dng": "X-Trans (6×6) colour filter array, not a 2×2 Bayer pattern",
        "linear.dng": "not a Bayer mosaic (stacked colour channels",
        "text.dng": "not a raw photo rawpy/LibRaw can read",
        "missing.dng": "file not found",
    }
    for name, message in cases.items():
        assert main(["denoise", str(tmp_path / name), "--checkpoint", ckpt]) == 2
        err = capsys.readouterr().err
        assert message in err and name in err and len(err.strip().splitlines()) == 1, err


def test_existing_output_is_not_overwritten_without_force(tmp_path, capsys):
    write_test_dng(tmp_path / "in.dng")
    (tmp_path / "in_denoised.dng").write_bytes(b"keep me")
    ckpt = str(write_tiny_checkpoint(tmp_path / "run"))
    assert main(["denoise", str(tmp_path / "in.dng"), "--checkpoint", ckpt, "--no-preview"]) == 2
    assert "pass --force" in capsys.readouterr().err
    assert (tmp_path / "in_denoised.dng").read_bytes() == b"keep me"
