"""The colour-fidelity measurement against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from n2n_raw.fidelity import low_freq_excess, plane_fidelity, plane_names, worst


def coded(pattern, h, w, values):
    tile = np.array([[values[pattern[0]], values[pattern[1]]], [values[pattern[2]], values[pattern[3]]]], np.float64)
    return np.tile(tile, (h // 2, w // 2))


def test_plane_names_number_the_greens_in_reading_order():
    assert plane_names("RGGB") == ["R", "G1", "G2", "B"]
    assert plane_names("GBRG") == ["G1", "B", "R", "G2"]


def test_a_local_change_moves_the_mean_by_its_share_and_the_low_frequencies_by_its_norm():
    # BGGR 8×8: each plane is 4×4; block 2 gives 2×2 cells of one value each.
    x = coded("BGGR", 8, 8, {"R": 1.0, "G": 0.5, "B": 0.25})
    y = x.copy()
    y[1:4:2, 1:4:2] = 2.0  # the R plane (position (1, 1)): its top-left 2×2 cell from 1 to 2
    f = plane_fidelity(x, y, "BGGR", block=2)
    # mean: (2 + 1 + 1 + 1) / 4 = 1.25 against 1 → +25 %; block means (2, 1, 1, 1) against (1, 1, 1, 1):
    # ‖(1, 0, 0, 0)‖ / ‖(1, 1, 1, 1)‖ = 1 / 2.
    assert f["R"]["mean_shift"] == pytest.approx(0.25) and f["R"]["low_freq_error"] == pytest.approx(0.5)
    assert f["R"]["mean_in"] == 1.0 and f["R"]["mean_out"] == 1.25 and f["R"]["mean_abs"] == pytest.approx(0.25)
    for name in ("B", "G1", "G2"):
        assert f[name]["mean_shift"] == 0.0 and f[name]["low_freq_error"] == 0.0


def test_zero_mean_noise_removed_perfectly_keeps_every_plane():
    rng = np.random.default_rng(0)
    clean = coded("GRBG", 256, 256, {"R": 0.1, "G": 0.3, "B": 0.05})
    noisy = clean + rng.normal(0, 0.01, clean.shape)
    f = plane_fidelity(noisy, clean, "GRBG")
    assert worst([f])["max_abs_mean_shift"] < 0.01 and worst([f])["max_low_freq_error"] < 0.01


def test_a_black_plane_reports_an_absolute_shift():
    x = coded("RGGB", 4, 4, {"R": 0.0, "G": 0.5, "B": 0.5})
    y = x + np.where(np.indices(x.shape).sum(0) % 4 == 0, 0.0, 0.0)
    assert plane_fidelity(x, y, "RGGB")["R"]["mean_shift"] == 0.0
    y[0::2, 0::2] = 0.01
    r = plane_fidelity(x, y, "RGGB")["R"]
    assert r["mean_abs"] == pytest.approx(0.01) and r["mean_shift"] == float("inf")


def test_the_input_noise_floor_by_hand():
    # RGGB 4×4: each plane is 2×2 = one quad and, with block 2, one cell.
    # R plane [[1, 3], [5, 3]]: d = (1 − 3 − 5 + 3) / 2 = −2, σ² = 4; the cell mean is 3, with noise σ² / 4 = 1:
    # low_freq_noise = √1 / ‖(3)‖ = 1 / 3.
    x = coded("RGGB", 4, 4, {"R": 0.0, "G": 2.0, "B": 4.0})
    x[0::2, 0::2] = [[1.0, 3.0], [5.0, 3.0]]
    f = plane_fidelity(x, x, "RGGB", block=2)
    assert f["R"]["low_freq_noise"] == pytest.approx(1 / 3)
    # a constant plane has no noise; a linear ramp neither (d removes it): G1 0 → 0.
    assert f["G1"]["low_freq_noise"] == 0.0 and f["B"]["low_freq_noise"] == 0.0
    ramp = coded("RGGB", 8, 8, {"R": 1.0, "G": 1.0, "B": 1.0}) + np.add.outer(np.arange(8.0), 2 * np.arange(8.0))
    assert plane_fidelity(ramp, ramp, "RGGB", block=2)["R"]["low_freq_noise"] == pytest.approx(0.0, abs=1e-15)


def test_the_noise_floor_from_the_input_alone_matches_a_perfect_denoisers_error():
    # A dark, signal-dependent noisy mosaic: the clean image (a perfect denoiser) is several per cent off the input
    # at low frequencies, and the estimate made from the input alone says so within 15 % (the oracle's own
    # spread over 256 cells per plane is about 1 / √(2 · 256) ≈ 4.4 %).
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:1024, 0:1024] / 1024.0
    clean = 0.002 + 0.004 * (0.5 + 0.5 * np.sin(6 * xx) * np.cos(4 * yy))
    noisy = clean + rng.normal(0, 1, clean.shape) * np.sqrt(0.0004 * clean + 1e-6)
    oracle = plane_fidelity(noisy, clean, "RGGB")
    for plane in oracle.values():
        assert plane["low_freq_error"] > 0.01  # the 1 % goal against the input is out of reach here
        assert plane["low_freq_noise"] == pytest.approx(plane["low_freq_error"], rel=0.15)
        assert low_freq_excess(plane) == 0.0
    # a real cast of 3 % on one plane of a bright photo is beyond its noise and is reported as such
    bright = 0.5 + 0.2 * np.sin(6 * xx) + rng.normal(0, 0.002, xx.shape)
    cast = bright.copy()
    cast[0::2, 0::2] *= 1.03
    f = plane_fidelity(bright, cast, "RGGB")
    assert f["R"]["low_freq_noise"] < 0.001 and low_freq_excess(f["R"]) == pytest.approx(0.02, abs=1e-4)
    assert worst([f])["max_low_freq_excess"] == pytest.approx(0.02, abs=1e-4)
