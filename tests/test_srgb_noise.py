"""The four synthetic noise models (docs/method.md §5): statistics, per-image parameters, no clipping, seeding.

Training noise (torch, explicit generator) is checked against its definition — mean x, variance σ² or x/λ,
σ/λ drawn per image inside its range — and the validation noise (NumPy) against the official
``add_valid_noise`` drawing from the global ``np.random.seed(101)`` stream.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from n2n_raw.errors import N2NError
from n2n_raw.srgb.noise import NOISE_NAMES, add_validation_noise, draw_parameters, noise_model, parse_noise
from tests.reference_srgb import official_valid_noise


def _gen(device, seed=0):
    return torch.Generator(device=device).manual_seed(seed)


def test_parse_noise_names_and_scales():
    assert parse_noise("gauss25").low == parse_noise("gauss25").high == pytest.approx(25 / 255)
    spec = parse_noise("gauss5_50")
    assert (spec.kind, spec.low, spec.high) == ("gauss", pytest.approx(5 / 255), pytest.approx(50 / 255))
    assert (parse_noise("poisson30").kind, parse_noise("poisson30").low) == ("poisson", 30.0)
    assert (parse_noise("poisson5_50").low, parse_noise("poisson5_50").high) == (5.0, 50.0)
    for bad in ("gauss", "gaussian25", "poisson50_5", "speckle10", "gauss-5"):
        with pytest.raises(N2NError, match="unknown noise model"):
            parse_noise(bad)


def test_gauss25_mean_and_std_and_no_clipping(device):
    clean = torch.zeros(4, 3, 64, 64, device=device)
    clean[:2] = 0.5
    clean[2:] = 1.0
    noisy = noise_model("gauss25")(clean, _gen(device))
    noise = (noisy - clean).double()
    assert abs(noise.mean().item()) < 2e-3
    assert noise.std().item() == pytest.approx(25 / 255, rel=0.02)
    assert noisy.max().item() > 1.2  # bright pixels are pushed above 1 and kept there
    assert (noisy[2:] > 1).float().mean().item() == pytest.approx(0.5, abs=0.02)


def test_gauss5_50_draws_one_sigma_per_image_in_range(device):
    n = 32
    clean = torch.full((n, 3, 48, 48), 0.5, device=device)
    sigmas = draw_parameters(parse_noise("gauss5_50"), n, _gen(device, 7), device).flatten()
    noisy = noise_model("gauss5_50")(clean, _gen(device, 7))  # same seed: the same σ are drawn first
    per_image_std = (noisy - clean).flatten(1).double().std(dim=1)
    assert torch.all(sigmas >= 5 / 255) and torch.all(sigmas <= 50 / 255)
    assert sigmas.std().item() > 0.02  # really one σ per image, not a shared one
    torch.testing.assert_close(per_image_std, sigmas.double(), rtol=0.05, atol=0)


def test_poisson30_mean_variance_and_lattice(device):
    x = torch.tensor([0.1, 0.5, 0.9], device=device).view(3, 1, 1, 1).expand(3, 3, 64, 64).contiguous()
    noisy = noise_model("poisson30")(x, _gen(device))
    for k, level in enumerate((0.1, 0.5, 0.9)):
        values = noisy[k].double()
        assert values.mean().item() == pytest.approx(level, abs=0.01)
        assert values.var().item() == pytest.approx(level / 30, rel=0.06)
    counts = noisy * 30
    torch.testing.assert_close(counts, counts.round(), rtol=0, atol=1e-4)  # Poisson counts / λ
    assert noisy.max().item() > 1.0  # not clipped


def test_poisson5_50_draws_one_lambda_per_image_in_range(device):
    n, level = 32, 0.6
    clean = torch.full((n, 3, 48, 48), level, device=device)
    lams = draw_parameters(parse_noise("poisson5_50"), n, _gen(device, 3), device).flatten()
    noisy = noise_model("poisson5_50")(clean, _gen(device, 3))
    assert torch.all(lams >= 5) and torch.all(lams <= 50) and lams.std().item() > 5
    per_image = noisy.flatten(1).double()
    torch.testing.assert_close(per_image.mean(dim=1), torch.full_like(per_image[:, 0], level), rtol=0, atol=0.03)
    torch.testing.assert_close(per_image.var(dim=1), level / lams.double(), rtol=0.1, atol=0)


@pytest.mark.parametrize("name", NOISE_NAMES)
def test_same_seed_same_noise_other_seed_other_noise(name, device):
    clean = torch.rand(2, 3, 16, 16, generator=_gen("cpu", 11)).to(device)
    model = noise_model(name)
    a, b, c = model(clean, _gen(device, 5)), model(clean, _gen(device, 5)), model(clean, _gen(device, 6))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert a.dtype == torch.float32 and a.shape == clean.shape


def test_noise_uses_only_the_given_generator(device):
    clean = torch.full((2, 3, 8, 8), 0.5, device=device)
    torch.manual_seed(0)
    a = noise_model("gauss5_50")(clean, _gen(device, 1))
    torch.manual_seed(123)  # the global RNG must not matter
    b = noise_model("gauss5_50")(clean, _gen(device, 1))
    assert torch.equal(a, b)


@pytest.mark.parametrize("name", NOISE_NAMES)
def test_validation_noise_reproduces_the_official_seed_101_stream(name):
    spec = parse_noise(name)
    style = ("gauss" if spec.kind == "gauss" else "poisson") + ("_fix" if spec.fixed else "_range")
    params = [spec.low] if spec.fixed else [spec.low, spec.high]
    images = [np.random.default_rng(k).random((12 + k, 9, 3)).astype(np.float32) for k in range(3)]
    saved = np.random.get_state()
    np.random.seed(101)
    try:
        expected = [official_valid_noise(im, style, params) for im in images]
    finally:
        np.random.set_state(saved)
    rng = np.random.RandomState(101)
    got = [add_validation_noise(im, spec, rng) for im in images]
    for e, g in zip(expected, got):
        assert g.dtype == np.float32
        np.testing.assert_array_equal(g, e)
    if spec.kind == "gauss":
        assert min(g.min() for g in got) < 0  # unclipped
