"""sRGB training data and the end-to-end sRGB commands.

``prepare-images`` filters by size, converts to RGB, packs losslessly and is idempotent; the crop dataset
draws official offsets (upper bound exclusive, a side equal to the crop used whole) and, with fixed noise,
returns one noisy copy per image in every epoch; ``n2n-raw train --track srgb`` on the embedded photos writes
a checkpoint and a validation table, and ``evaluate-srgb`` runs on that checkpoint.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from n2n_raw.cli import main
from n2n_raw.errors import DataError
from n2n_raw.srgb.data import (
    TRAIN_PHOTOS,
    VALIDATION_PHOTOS,
    PrepareImagesConfig,
    RandomImageCrops,
    crop_offset,
    load_packed_images,
    prepare_images,
    srgb_training_set,
)  # fmt: skip
from n2n_raw.srgb.noise import parse_noise
from n2n_raw.train_config import TrainConfig


def _photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_prepare_images_filters_converts_packs_and_is_idempotent(tmp_path):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    keep = {"a.png": _photo(40, 64, 1), "sub/b.png": _photo(64, 32, 2)}
    for name, im in keep.items():
        Image.fromarray(im).save(src / name)
    Image.fromarray(_photo(40, 40, 3)[:, :, 0]).save(src / "gray.png")  # grayscale: kept, as RGB
    Image.fromarray(_photo(20, 64, 4)).save(src / "too_small.png")
    Image.fromarray(_photo(40, 80, 5)).save(src / "too_wide.png")
    (src / "broken.jpg").write_bytes(b"not a jpeg")
    config = PrepareImagesConfig(input_dir=str(src), out=str(tmp_path / "out"), min_size=32, max_size=64)
    index_path = prepare_images(config)
    index = json.loads(index_path.read_text())
    assert [it["name"] for it in index["items"]] == ["a.png", "gray.png", "sub/b.png"]
    assert (index["skipped_size"], index["skipped_unreadable"]) == (2, 1)
    images = load_packed_images(tmp_path / "out")
    np.testing.assert_array_equal(images[0], keep["a.png"])
    np.testing.assert_array_equal(images[2], keep["sub/b.png"])
    assert images[1].shape == (40, 40, 3) and np.array_equal(images[1][..., 0], images[1][..., 2])
    stamp = index_path.stat().st_mtime_ns
    prepare_images(config)  # unchanged input: nothing rewritten
    assert index_path.stat().st_mtime_ns == stamp
    assert (
        main(
            [
                "prepare-images",
                "--input-dir",
                str(src),
                "--out",
                str(tmp_path / "out"),
                "--min-size",
                "32",
                "--max-size",
                "64",
            ]
        )
        == 0
    )
    with pytest.raises(DataError, match="not a prepared image folder"):
        load_packed_images(src)


def test_crop_offsets_follow_the_official_exclusive_bound():
    rng = np.random.default_rng(0)
    offsets = [crop_offset(rng, 300, 256) for _ in range(4000)]
    assert min(offsets) == 0 and max(offsets) == 300 - 256 - 1  # offset H − 256 is never drawn
    assert len(set(offsets)) == 44
    assert {crop_offset(rng, 256, 256), crop_offset(rng, 257, 256)} == {0}


def test_crops_are_deterministic_per_epoch_and_fixed_noise_is_kept_across_epochs():
    images = [_photo(80, 100, k) for k in range(3)]
    clean_set = RandomImageCrops(images, crop=64, seed=5)
    a, b = clean_set[(1, 2)]["clean"], clean_set[(1, 2)]["clean"]
    assert a.shape == (3, 64, 64) and a.dtype == torch.float32 and torch.equal(a, b)
    assert 0.0 <= a.min() and a.max() <= 1.0
    assert not torch.equal(a, clean_set[(2, 2)]["clean"])  # a new window next epoch
    noisy_set = RandomImageCrops(images, crop=64, seed=5, fixed_noise=parse_noise("gauss25"))
    full = noisy_set.fixed_noisy(2)
    assert torch.equal(full, noisy_set.fixed_noisy(2))
    for epoch in (1, 2, 3):  # every epoch's window is cut from the same noisy copy
        window = noisy_set[(epoch, 2)]["noisy"]
        hits = [
            (y, x)
            for y in range(80 - 64 + 1)
            for x in range(100 - 64 + 1)
            if torch.equal(full[:, y : y + 64, x : x + 64], window)
        ]
        assert hits and (full < 0).any()  # found, and unclipped
    with pytest.raises(DataError, match="image 0"):
        RandomImageCrops([_photo(50, 80)], crop=64)


def test_embedded_training_and_validation_photos_are_disjoint():
    assert not set(TRAIN_PHOTOS) & set(VALIDATION_PHOTOS) and "cat" not in TRAIN_PHOTOS  # cat is chelsea
    dataset = srgb_training_set(TrainConfig(track="srgb", crop=64))
    assert len(dataset) == len(TRAIN_PHOTOS) and dataset[(1, 0)]["clean"].shape == (3, 64, 64)


def test_cli_trains_on_embedded_photos_then_evaluates(tmp_path):
    out = tmp_path / "run"
    argv = ["train", "--track", "srgb", "--out", str(out), "--crop", "64", "--batch-size", "2", "--epochs", "1",
            "--steps-per-epoch", "1", "--num-workers", "0", "--validation-limit", "1", "--noise", "poisson30"]  # fmt: skip
    assert main(argv) == 0
    assert (out / "checkpoints" / "latest.pt").is_file()
    table = (out / "validation.md").read_text()
    assert "| skimage | 1 × 1 |" in table and "chelsea" in table and "poisson30" in table
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any("val_skimage_psnr" in r and "val_skimage_noisy_psnr" in r for r in records)
    assert (out / "validation_contact_sheet.png").is_file()

    kodak = tmp_path / "validation" / "Kodak"
    kodak.mkdir(parents=True)
    Image.fromarray(_photo(40, 36, 1)).save(kodak / "kodim01.png")
    eval_out = tmp_path / "eval"
    assert (
        main(
            [
                "evaluate-srgb",
                "--checkpoint",
                str(out / "checkpoints" / "latest.pt"),
                "--root",
                str(tmp_path / "validation"),
                "--out",
                str(eval_out),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    result = json.loads((eval_out / "results.json").read_text())
    assert result["noise"] == "poisson30"  # taken from the checkpoint
    assert result["sets"]["Kodak"]["evaluations"] == 1 * 10
    assert Image.open(eval_out / "results_contact_sheet.png").size == (3 * 256, 256)
    assert "| Kodak | 1 × 10 |" in (eval_out / "results.md").read_text()
    assert main(["evaluate-srgb", "--out", str(eval_out)]) == 2  # neither a checkpoint nor official weights
