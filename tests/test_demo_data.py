"""The SIDD-mini generator: noise follows the requested NLF, files go through the real SIDD reader, the set is
deterministic and idempotent, and a tiny train-sidd run through the real CLI works on it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.io

from n2n_raw import demo_data, sidd
from n2n_raw.cli import main
from n2n_raw.errors import DataError
from n2n_raw.matfile import mat_format
from n2n_raw.unprocess import add_sidd_noise, colour_map, mosaic, random_camera, unprocess

TINY = dict(
    train_captures=5,
    validation_images=2,
    benchmark_images=1,
    blocks_per_image=2,
    block_size=64,
    short_side=160,
    max_side=192,
)


@pytest.fixture(scope="module")
def tiny_set(tmp_path_factory):
    return demo_data.write_demo(demo_data.DemoConfig(out=str(tmp_path_factory.mktemp("demo") / "sidd-mini"), **TINY))


def test_noise_variance_matches_the_noise_level_function():
    # iPhone-like NLF with a different pair per colour; variance must be beta1·x + beta2 (not a std).
    nlf = {"r": (7.0e-4, 2e-6), "g": (2.0e-3, 4e-5), "b": (8.0e-3, 3e-4)}
    rng = np.random.default_rng(0)
    for x in (0.05, 0.3):
        clean = np.full((400, 400), x, np.float32)
        noisy = add_sidd_noise(clean, "GRBG", nlf, rng)
        assert noisy.dtype == np.float32
        np.testing.assert_allclose(noisy * 1023, np.round(noisy * 1023), atol=1e-3)  # 1/1023 sensor steps
        colours = colour_map("GRBG", 400, 400)
        for k, c in enumerate("rgb"):
            values = noisy[colours == k].astype(np.float64)
            expected = nlf[c][0] * x + nlf[c][1] + 1 / (12 * 1023**2)  # + quantisation
            assert values.mean() == pytest.approx(x, abs=3e-3)
            assert values.var() == pytest.approx(expected, rel=0.05), (x, c)


def test_unprocessing_and_mosaic_are_linear_and_phase_correct():
    rng = np.random.default_rng(1)
    camera = random_camera(rng)
    np.testing.assert_allclose(camera.rgb2cam.sum(axis=1), 1.0)
    grey = unprocess(np.full((2, 2, 3), 0.5), camera)
    # Tone curve and gamma inverted: sRGB 0.5 → linear ~0.19, then scaled by the inverse gains.
    gains = np.array([1 / camera.red_gain, 1.0, 1 / camera.blue_gain]) / camera.rgb_gain
    base = (0.5 - np.sin(np.arcsin(0.0) / 3)) ** 2.2
    np.testing.assert_allclose(grey[0, 0], base * gains, rtol=1e-6)
    rgb = np.stack([np.full((4, 4), v) for v in (0.1, 0.2, 0.3)], axis=-1)
    assert mosaic(rgb, "GRBG")[:2, :2].tolist() == [[0.2, 0.1], [0.3, 0.2]]


def test_demo_files_go_through_the_sidd_reader(tiny_set):
    medium = tiny_set / "SIDD_Medium_Raw"
    images = sidd.find_medium_images(medium)
    assert len(images) == 2 * 5 and {i.frame for i in images} == {"010", "011"}
    assert {i.instance.phone for i in images} == set(sidd.PHONES)  # phones taken in turn
    assert (medium / "Scene_Instances.txt").read_text().split() == sorted({i.instance.name for i in images})
    nlfs = sidd.noise_level_functions()
    for image in images[::2]:
        assert mat_format(image.path) == "v7.3"
        with pytest.raises(NotImplementedError):
            scipy.io.loadmat(image.path)
        x = sidd.read_image(image.path)
        gt = sidd.read_image(sidd.companion(image, "GT"))
        assert x.dtype == np.float32 and x.shape == gt.shape and min(x.shape) == 160
        np.testing.assert_allclose(x * 1023, np.round(x * 1023), atol=2e-3)
        meta = sidd.read_metadata(sidd.companion(image, "METADATA"))
        nlf = nlfs[image.instance.name]
        assert meta.cfa == sidd.image_cfa(image) == image.instance.cfa
        assert meta.noise_profile == pytest.approx([v for c in "rgb" for v in nlf[c]])
        assert meta.iso == image.instance.iso and meta.white_level == 1023
        if image.instance.phone == "IP":  # iPhone-style: the CFA lives only under SubIFDs
            top = scipy.io.loadmat(sidd.companion(image, "METADATA"))["metadata"][0, 0]
            assert "SubIFDs" in top.dtype.names and "UnknownTags" not in top.dtype.names
        # The clean image carries the colour structure: the noise is what frames 010 and 011 disagree on.
        other = sidd.read_image(image.path.with_name(image.path.name.replace("_010", "_011")))
        assert np.abs(x - other).mean() > 0 and np.abs((x + other) / 2 - gt).mean() < np.abs(x - gt).mean()


def test_demo_block_sets_have_native_cfa_and_clean_counterparts(tiny_set):
    info = json.loads((tiny_set / sidd.BLOCKS_INFO).read_text())
    train = {i.instance.name for i in sidd.find_medium_images(tiny_set / "SIDD_Medium_Raw")}
    for split, n in (("validation", 2), ("benchmark", 1)):
        bs = sidd.load_block_set(tiny_set, split, require_clean=True)
        assert bs.noisy.shape == bs.clean.shape == (n, 2, 64, 64) and bs.noisy.dtype == np.float32
        assert [i.name for i in bs.instances] == info[split] and not train & set(info[split])
        assert bs.patterns == [sidd.SceneInstance.parse(name).cfa for name in info[split]]
        assert all(r % 2 == 0 and c % 2 == 0 for image in info["block_positions"][split] for r, c in image)
        assert set(info["photos"][name] for name in info[split]) <= set(demo_data.PHOTOS[split])
    assert (tiny_set / sidd.BENCHMARK_CLEAN_DEMO).is_file()


def test_photo_splits_are_disjoint():
    splits = [set(v) for v in demo_data.PHOTOS.values()]
    assert not (splits[0] & splits[1] or splits[0] & splits[2] or splits[1] & splits[2])


def test_demo_is_deterministic_and_idempotent(tiny_set, tmp_path):
    manifest = tiny_set / demo_data.MANIFEST
    stamp = manifest.stat().st_mtime_ns
    demo_data.write_demo(demo_data.DemoConfig(out=str(tiny_set), **TINY))
    assert manifest.stat().st_mtime_ns == stamp
    with pytest.raises(DataError, match="--force"):
        demo_data.write_demo(demo_data.DemoConfig(out=str(tiny_set), **{**TINY, "seed": 1}))
    small = dict(TINY, train_captures=1)
    a = demo_data.write_demo(demo_data.DemoConfig(out=str(tmp_path / "a"), **small))
    b = demo_data.write_demo(demo_data.DemoConfig(out=str(tmp_path / "b"), **small))
    for name in (sidd.VALIDATION_NOISY, sidd.BENCHMARK_CLEAN_DEMO):
        np.testing.assert_array_equal(sidd.read_blocks(a / name), sidd.read_blocks(b / name))
    assert json.loads((a / demo_data.MANIFEST).read_text()) == json.loads((b / demo_data.MANIFEST).read_text())
    assert not list(tmp_path.glob("*.partial-*"))


def test_tiny_train_sidd_through_the_cli(tiny_set, tmp_path):
    prepared, run = tmp_path / "prepared", tmp_path / "run"
    assert main(["prepare-sidd", "--sidd-root", str(tiny_set / "SIDD_Medium_Raw"), "--out", str(prepared),
                 "--crop-size", "128", "--stride", "64"]) == 0  # fmt: skip
    assert main(["train", "--track", "raw", "--data", str(prepared), "--validation-dir", str(tiny_set),
                 "--out", str(run), "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "2",
                 "--crop", "64", "--num-workers", "0", "--validation-limit", "2"]) == 0  # fmt: skip
    assert list((run / "checkpoints").glob("*.pt"))
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    psnr = [m["val_psnr"] for m in lines if "val_psnr" in m]
    assert psnr and np.isfinite(psnr[-1])
