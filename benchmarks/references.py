"""Reference implementations that the benchmarks compare n2n_raw against.

* **official-style**: the paper code's algorithm, from ``tests/reference_official.py`` (boolean masks over
  unfolded 2×2 cells, a Python loop over channels, masked selection; full pass under ``no_grad``), run as
  the official ``train.py`` runs it: fp32, NCHW, ``torch.optim.Adam`` with its defaults. Inference is one
  block at a time: pack → network → unpack, fp32.
* **deepinv-style**: DeepInverse's ``Neighbor2Neighbor`` loss (docs/method.md §11): the same mask sampler, but
  the full-image pass runs *with* autograd and is ``.detach()``ed afterwards, so its activations are kept
  until the backward pass frees them.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch

from n2n_raw.bayer import pack_bayer, unpack_bayer
from tests.reference_official import generate_mask_pair, generate_subimages, official_choices, official_loss


def official_sampler(noisy: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """g1(y), g2(y) the official way: draw, build both boolean masks, select channel by channel."""
    choices = official_choices(noisy.shape, generator=generator, device=generator.device)
    mask1, mask2 = generate_mask_pair(noisy.shape, choices, device=noisy.device)
    return generate_subimages(noisy, mask1), generate_subimages(noisy, mask2)


@contextmanager
def eager_network():
    """Our U-Net as the official code runs it: every convolution and LeakyReLU a separate eager module call
    (no fused oneDNN convolution + activation, :func:`n2n_raw.model.conv_leaky_relu`)."""
    from n2n_raw import model as unet

    saved, unet.FUSED_CPU_INFERENCE = unet.FUSED_CPU_INFERENCE, False
    try:
        yield
    finally:
        unet.FUSED_CPU_INFERENCE = saved


def official_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    noisy: torch.Tensor,
    generator: torch.Generator,
    gamma: float = 1.0,
) -> torch.Tensor:
    """One official-style training step, plain eager modules; returns the loss (not synchronised)."""
    choices = official_choices(noisy.shape, generator=generator, device=generator.device)
    mask1, mask2 = generate_mask_pair(noisy.shape, choices, device=noisy.device)
    with eager_network():
        loss, _, _ = official_loss(model, noisy, mask1, mask2, gamma)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.detach()


def deepinv_loss(
    model: torch.nn.Module, noisy: torch.Tensor, generator: torch.Generator, gamma: float = 1.0
) -> torch.Tensor:
    """DeepInverse's form of the loss: the full pass is built with autograd, then detached."""
    choices = official_choices(noisy.shape, generator=generator, device=generator.device)
    mask1, mask2 = generate_mask_pair(noisy.shape, choices, device=noisy.device)
    g1_y, g2_y = generate_subimages(noisy, mask1), generate_subimages(noisy, mask2)
    denoised = model(noisy)  # with autograd: every activation of the full pass is kept ...
    e1 = generate_subimages(denoised, mask1).detach()  # ... although only detached values are used
    e2 = generate_subimages(denoised, mask2).detach()
    diff = model(g1_y) - g2_y
    return diff.square().mean() + gamma * (diff - (e1 - e2)).square().mean()


def deepinv_step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    noisy: torch.Tensor,
    generator: torch.Generator,
    gamma: float = 1.0,
) -> torch.Tensor:
    """One deepinv-style training step; returns the loss (not synchronised)."""
    loss = deepinv_loss(model, noisy, generator, gamma)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.detach()


@torch.no_grad()
def official_block_inference(model: torch.nn.Module, blocks: torch.Tensor) -> torch.Tensor:
    """(K, H, W) RGGB mosaics → (K, H, W), one block per network call, fp32 NCHW eager modules, as the official test."""
    out = torch.empty_like(blocks)
    with eager_network():
        for k in range(blocks.shape[0]):
            packed = pack_bayer(blocks[k : k + 1])  # (1, 4, H/2, W/2)
            out[k] = unpack_bayer(model(packed).clamp(0.0, 1.0))[0]
    return out
