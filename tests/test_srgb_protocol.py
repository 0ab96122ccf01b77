"""The sRGB evaluation protocol (docs/method.md §6) against a straightforward official re-statement.

``tests/reference_srgb.py`` re-states the official validation loop (global seed 101, square reflect padding,
+0.5 rounding, float32 PSNR, ``filter2D``-style Gaussian SSIM); ``run_protocol`` must give the same numbers
on small images of several sizes. Also: padded sizes, the rounding rule, PSNR/SSIM against scikit-image and
golden values, folder discovery (BSD300 ``test/``, grayscale Set14 images skipped) and the mapping of the
official ``arch_unet.py`` weights.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from n2n_raw.errors import CheckpointError
from n2n_raw.model import UNet, UNetConfig
from n2n_raw.srgb.metrics import psnr_uint8, quantize, ssim_uint8
from n2n_raw.srgb.noise import parse_noise
from n2n_raw.srgb.official import convert_official_state_dict, load_official_weights, official_key_map
from n2n_raw.srgb.protocol import (
    BENCHMARKS,
    ValidationSet,
    denoise_square,
    load_validation_sets,
    run_protocol,
    square_side,
)  # fmt: skip
from tests.reference_srgb import official_psnr, official_ssim, official_unet_forward, official_validation


def _blur() -> torch.nn.Module:
    """A real (if weak) denoiser: a 3×3 box filter per channel, with a slight gain so rounding matters."""
    conv = torch.nn.Conv2d(3, 3, 3, padding=1, groups=3, bias=True)
    with torch.no_grad():
        conv.weight.fill_(1.02 / 9)
        conv.bias.fill_(-0.004)
    return conv.eval()


def _images(seed: int, shapes) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for h, w in shapes:
        yy, xx = np.mgrid[0:h, 0:w]
        smooth = np.stack([np.sin(yy / 5 + c) * 80 + xx * 2 + 100 for c in range(3)], axis=2)
        out.append(np.clip(smooth + rng.normal(0, 10, (h, w, 3)), 0, 255).astype(np.uint8))
    return out


def test_square_padding_sizes():
    assert square_side(768, 512) == 768 and square_side(512, 768) == 768
    assert square_side(481, 321) == 512 and square_side(321, 481) == 512
    assert square_side(512, 512) == 512 and square_side(33, 20) == 64


class ShapeRecorder(torch.nn.Module):
    """Identity that records what it is given."""

    def __init__(self):
        super().__init__()
        self.inputs = []

    def forward(self, x):
        self.inputs.append(x.clone())
        return x


@pytest.mark.parametrize("h,w", [(768, 512), (481, 321), (321, 481), (40, 60)])
def test_forward_pads_bottom_right_to_a_reflected_square_and_crops_back(h, w):
    noisy = np.random.default_rng(0).random((h, w, 3)).astype(np.float32) * 1.4 - 0.2
    recorder = ShapeRecorder()
    out = denoise_square(recorder, noisy, torch.device("cpu"))
    (x,) = recorder.inputs
    side = square_side(h, w)
    assert tuple(x.shape) == (1, 3, side, side)
    padded = x[0].permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(padded[:h, :w], noisy)
    # Reflect (the edge row/column is not repeated) at the bottom and at the right.
    if side > h:
        np.testing.assert_array_equal(padded[h : h + 3, :w], noisy[h - 2 : h - 5 : -1])
    if side > w:
        np.testing.assert_array_equal(padded[:h, w : w + 3], noisy[:, w - 2 : w - 5 : -1])
    np.testing.assert_array_equal(out, np.clip(noisy, 0, 1))


def test_rounding_rule_is_plus_half_then_truncate():
    x = np.array([-0.3, 0.0, 0.4 / 255, 0.6 / 255, 127.49 / 255, 127.51 / 255, 254.6 / 255, 1.0, 1.7], np.float32)
    assert quantize(x).tolist() == [0, 0, 0, 1, 127, 128, 255, 255, 255]
    assert quantize(x).dtype == np.uint8


def test_psnr_and_ssim_agree_with_scikit_image_and_the_official_formula():
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    a, b = _images(1, [(70, 90)])[0], _images(2, [(70, 90)])[0]
    assert psnr_uint8(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-10)
    assert psnr_uint8(a, b) == pytest.approx(official_psnr(a, b), abs=1e-4)
    ours = ssim_uint8(a, b)
    assert ours == pytest.approx(official_ssim(a, b), abs=1e-10)
    skimage_default = structural_similarity(a, b, channel_axis=2, data_range=255)  # 7×7 uniform window
    assert abs(ours - skimage_default) > 1e-4  # the window choice is real: the default would differ
    # Golden values: an offset of 1 everywhere is MSE 1; identical images have SSIM 1.
    assert psnr_uint8(a, a ^ 1) == pytest.approx(20 * math.log10(255), abs=1e-9)  # every value off by exactly 1
    assert ssim_uint8(a, a) == pytest.approx(1.0) and psnr_uint8(a, a) == float("inf")


@pytest.mark.parametrize("noise", ["gauss25", "gauss5_50", "poisson30", "poisson5_50"])
def test_protocol_matches_the_official_loop(noise):
    torch.manual_seed(0)
    sets = [
        ValidationSet("Kodak", 3, list(zip("abc", _images(3, [(48, 40), (40, 48), (36, 36)])))),
        ValidationSet("BSD300", 2, list(zip("de", _images(4, [(33, 45), (45, 33)])))),
        ValidationSet("Set14", 2, list(zip("f", _images(5, [(70, 50)])))),
    ]
    model = _blur()
    spec = parse_noise(noise)
    result = run_protocol(model, torch.device("cpu"), sets, spec)
    style = ("gauss" if spec.kind == "gauss" else "poisson") + ("_fix" if spec.fixed else "_range")
    params = [spec.low] if spec.fixed else [spec.low, spec.high]
    expected = official_validation(model, {s.name: [im.astype(np.float32) for _, im in s.images] for s in sets},
                                   {s.name: s.repeats for s in sets}, style, params)  # fmt: skip
    for name, (psnr, ssim) in expected.items():
        got = result["sets"][name]
        assert got["psnr"] == pytest.approx(psnr, abs=1e-4)
        assert got["ssim"] == pytest.approx(ssim, abs=1e-9)
        assert got["evaluations"] == len(next(s for s in sets if s.name == name).images) * got["repeats"]
    # Per-image averaging: the set mean is the mean of per-image means (equal repeats), not a pooled MSE.
    kodak = result["sets"]["Kodak"]
    assert kodak["psnr"] == pytest.approx(np.mean([v["psnr"] for v in kodak["per_image"].values()]))


def test_protocol_consumes_one_seed_101_stream_in_set_order():
    images = _images(6, [(32, 32)])
    one = ValidationSet("Kodak", 1, [("x", images[0])])
    first = run_protocol(_blur(), torch.device("cpu"), [one], parse_noise("gauss25"))
    again = run_protocol(_blur(), torch.device("cpu"), [one], parse_noise("gauss25"))
    assert first["sets"]["Kodak"]["psnr"] == again["sets"]["Kodak"]["psnr"]  # reseeded at every call
    # A second set sees the continuation of the stream, so the same image scores differently there.
    both = run_protocol(
        _blur(), torch.device("cpu"), [one, ValidationSet("Set14", 1, [("x", images[0])])], parse_noise("gauss25")
    )
    assert both["sets"]["Kodak"]["psnr"] == first["sets"]["Kodak"]["psnr"]
    assert both["sets"]["Set14"]["psnr"] != first["sets"]["Kodak"]["psnr"]


def test_benchmark_folders_sorted_bsd_test_subfolder_and_grayscale_set14_skipped(tmp_path):
    assert {k: v[:2] for k, v in BENCHMARKS.items()} == {"Kodak": (10, 24), "BSD300": (3, 100), "Set14": (20, 12)}
    imgs = _images(7, [(40, 48)] * 4)
    (tmp_path / "Kodak").mkdir()
    for k in (2, 1):
        Image.fromarray(imgs[k]).save(tmp_path / "Kodak" / f"kodim0{k}.png")
    (tmp_path / "BSD300" / "test").mkdir(parents=True)
    Image.fromarray(imgs[3]).save(tmp_path / "BSD300" / "test" / "3096.png")
    Image.fromarray(imgs[0]).save(tmp_path / "BSD300" / "train_image_not_used.png")
    (tmp_path / "Set14").mkdir()
    Image.fromarray(imgs[0]).save(tmp_path / "Set14" / "baboon.png")
    Image.fromarray(imgs[0][:, :, 0]).save(tmp_path / "Set14" / "bridge.png")  # grayscale
    sets = load_validation_sets(root=str(tmp_path))
    assert [(s.name, s.repeats, [n for n, _ in s.images]) for s in sets] == [
        ("Kodak", 10, ["kodim01.png", "kodim02.png"]),
        ("BSD300", 3, ["3096.png"]),
        ("Set14", 20, ["baboon.png"]),
    ]
    np.testing.assert_array_equal(sets[0].images[0][1], imgs[1])  # decoded as stored (Pillow, no gamma)
    only_kodak = load_validation_sets(kodak=str(tmp_path / "Kodak"), limit=1)
    assert [(s.name, len(s.images)) for s in only_kodak] == [("Kodak", 1)]
    embedded = load_validation_sets()
    assert [s.name for s in embedded] == ["skimage"] and len(embedded[0].images) == 3


def test_official_weights_map_one_to_one_and_compute_the_same_function(tmp_path):
    torch.manual_seed(0)
    ours = UNet(UNetConfig(in_channels=3, out_channels=3))
    with torch.no_grad():  # non-zero biases, so that a misplaced bias would show
        for p in ours.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    inverse = {dst: src for src, dst in official_key_map().items()}
    official = {inverse[k]: v.clone() for k, v in ours.state_dict().items()}
    assert len(official) == len(ours.state_dict()) == 50
    x = torch.rand(1, 3, 32, 64)
    with torch.no_grad():
        torch.testing.assert_close(official_unet_forward(official, x), ours(x), rtol=1e-5, atol=1e-6)
    torch.save({f"module.{k}": v for k, v in official.items()}, tmp_path / "model_gauss25_b4e100r02.pth")
    loaded = load_official_weights(tmp_path / "model_gauss25_b4e100r02.pth")
    for k, v in ours.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)
    official["dec_conv1a.weight"] = official["dec_conv1a.weight"][:, :-1]  # a 2-channel input would not fit
    with pytest.raises(CheckpointError, match="dec_conv1a.weight"):
        convert_official_state_dict(official, UNetConfig(3, 3))
