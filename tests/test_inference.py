"""Inference on Bayer blocks: CFA unification round-trips for all four patterns, any nn.Module is accepted
(the identity reproduces its input), the self-ensemble undoes its own transforms, each pass sees an RGGB
input in unify mode, and tiled denoising of a large mosaic equals the whole-image result where context allows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from n2n_raw.bayer import PATTERNS, pack_bayer, uncrop_unified, unify_cfa, unpack_bayer
from n2n_raw.inference import (
    TRANSFORMS,
    InferenceSettings,
    denoise_blocks,
    denoise_mosaic_tiled,
    denoise_tensor,
    tile_windows,
)
from n2n_raw.isp import cfa_masks

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: a second thread only contends


@pytest.mark.parametrize("pattern", PATTERNS)
def test_unify_pad_pack_unpack_crop_round_trip(pattern):
    block = torch.rand(3, 16, 20, generator=torch.Generator().manual_seed(0))
    padded = unify_cfa(block, pattern, "RGGB", mode="pad")
    assert padded.shape[-2] == 16 + 2 * (pattern in ("GBRG", "BGGR")) and padded.shape[-1] == 20 + 2 * (
        pattern in ("GRBG", "BGGR")
    )
    back = uncrop_unified(unpack_bayer(pack_bayer(padded)), pattern, "RGGB")
    assert torch.equal(back, block)


class ChannelProbe(nn.Module):
    """Outputs each packed plane filled with a code of its *colour* in the input: R 0.1, G 0.5, B 0.9.

    The input mosaic encodes colours as values (R 0.1, G 0.5, B 0.9), so the output is correct only if
    every network call sees R, Gr, Gb, B in planes 0..3 (RGGB)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expected = torch.tensor([0.1, 0.5, 0.5, 0.9], device=x.device).view(1, 4, 1, 1)
        ok = torch.isclose(x, expected.expand_as(x)).all()
        return torch.where(ok, x, torch.full_like(x, -1.0))


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("ensemble", [False, True])
def test_every_pass_sees_rggb_after_unification(pattern, ensemble):
    masks = cfa_masks((8, 12), pattern)
    mosaic = (0.1 * masks[0] + 0.5 * masks[1] + 0.9 * masks[2]).astype(np.float32)
    out = denoise_blocks(ChannelProbe(), mosaic[None], [pattern], InferenceSettings(ensemble=ensemble), clamp=False)
    np.testing.assert_allclose(out[0], mosaic, atol=1e-6)  # any -1 would show a mis-phased pass


def test_native_mode_packs_in_the_blocks_own_phase():
    masks = cfa_masks((8, 8), "BGGR")
    mosaic = (0.1 * masks[0] + 0.5 * masks[1] + 0.9 * masks[2]).astype(np.float32)
    out = denoise_blocks(ChannelProbe(), mosaic[None], ["BGGR"], InferenceSettings(cfa_mode="native"), clamp=False)
    assert (out == -1).all()  # BGGR packed natively is B, G, G, R: the probe rejects it


def test_identity_module_reproduces_blocks_with_mixed_patterns():
    blocks = np.random.default_rng(0).random((5, 16, 16)).astype(np.float32)
    patterns = ["RGGB", "GRBG", "BGGR", "GBRG", "GRBG"]
    assert np.array_equal(denoise_blocks(nn.Identity(), blocks, patterns, InferenceSettings(batch_size=2)), blocks)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_ensemble_puts_every_pass_back_on_the_original_grid(pattern):
    # A pixel-wise model commutes with any permutation of pixels, so the 8-pass average must equal one
    # plain pass on random data; a transform inverted wrongly would move values to other pixels.
    class Square(nn.Module):
        def forward(self, x):
            return x * x

    x = torch.rand(2, 10, 14, generator=torch.Generator().manual_seed(3))
    assert len(TRANSFORMS) == 8
    torch.testing.assert_close(
        denoise_tensor(Square(), x, pattern, InferenceSettings(ensemble=True)), x * x, atol=1e-6, rtol=0
    )


def test_tile_windows_partition_and_keep_even_offsets():
    windows = tile_windows(100, 32, 8)
    kept = [k for _, _, a, b in windows for k in range(a, b)]
    assert kept == list(range(100))
    assert all(v % 2 == 0 for w in windows for v in w[:3])
    with pytest.raises(ValueError, match="even"):
        tile_windows(100, 31, 8)


def test_tiled_equals_whole_image_for_a_local_model():
    # A 3×3 packed convolution has a receptive field of 1 packed pixel (2 Bayer pixels): an overlap of 4
    # covers it, so tiled and untiled results must agree exactly up to float rounding.
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect")
    mosaic = np.random.default_rng(2).random((70, 54)).astype(np.float32)
    whole = denoise_blocks(conv, mosaic[None], ["GBRG"], clamp=False)[0]
    tiled = denoise_mosaic_tiled(
        conv, mosaic, "GBRG", InferenceSettings(batch_size=3), tile=16, overlap=4, clamp=False, progress=False
    )
    np.testing.assert_allclose(tiled, whole, atol=1e-6)
