"""Denoising Bayer mosaics with a packed-raw network: SIDD blocks in batches, big photos in tiles.

Every entry point takes any ``nn.Module`` mapping ``(B, 4, h, w)`` packed planes to the same shape (the
:class:`n2n_raw.model.UNet`, or an identity module in tests) and float mosaics in [0, 1].

CFA handling (``cfa_mode``):

* ``"unify"`` (for models trained on unified crops, the default): BayerUnify at test time (docs/sidd.md §10.2).
  A block of pattern P is reflect-padded by one row and/or column at both ends so that it reads as
  the target (the pattern the training crops were unified to, RGGB by default), packed R, Gr, Gb, B, denoised,
  unpacked, and the padding is cropped off, which returns exactly the original pixel grid and pattern. A
  256×256 BGGR block becomes 258×258 for the network.
* ``"native"``: pack in the block's own phase with no unification (what Blind2Unblind does; only sensible
  for a model trained pattern-agnostic, ``n2n-raw train --cfa-phase random``). The command-line default
  ``auto`` picks one of the two from the checkpoint's training data (:class:`n2n_raw.checkpoint.TrainingData`),
  and ``--cfa-target auto`` the pattern the training crops were unified to.

The geometric self-ensemble (``ensemble=True``) runs the 8 flips/transposes of the mosaic. Each transformed
mosaic has a different pattern (:func:`n2n_raw.bayer.flipped_pattern`), which the CFA handling above turns
back into ``target``, so every pass sees a properly phased input; outputs are transformed back and averaged.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from .bayer import check_pattern, flipped_pattern, pack_bayer, uncrop_unified, unify_cfa, unpack_bayer
from .checkpoint import Checkpoint, TrainingData, load_model
from .config import arg, check_choices
from .device import AmpFlag, LayoutFlag, Runtime
from .errors import CheckpointError, N2NError
from .model import UNetConfig

log = logging.getLogger("n2n_raw.inference")
CfaMode = Literal["unify", "native"]
# ``--checkpoint identity``: no network, the input comes back unchanged (through the same packing, CFA
# handling, tiling and file writing), for round-trip checks of the whole pipeline.
IDENTITY = "identity"
PRETRAINED_NAME = "pretrained"  # the model shipped with the package, also used when no --checkpoint is given
# (flip_v, flip_h, transpose): the 8 symmetries of the square, identity first.
TRANSFORMS: tuple[tuple[bool, bool, bool], ...] = tuple(itertools.product((False, True), repeat=3))


@dataclass(frozen=True)
class InferenceSettings:
    """How a network is run on mosaics, resolved: the runtime, batching, ensemble and CFA handling."""

    runtime: Runtime = field(default_factory=Runtime)
    batch_size: int = 16
    ensemble: bool = False
    cfa_mode: CfaMode = "unify"
    cfa_target: str = "RGGB"

    def __post_init__(self) -> None:
        if self.cfa_mode not in ("unify", "native"):
            raise ValueError(f"cfa_mode must be 'unify' or 'native', got {self.cfa_mode!r}")
        if self.batch_size < 1:
            raise N2NError(f"--batch-size {self.batch_size}: must be at least 1")
        object.__setattr__(self, "cfa_target", check_pattern(self.cfa_target))

    @classmethod
    def for_training(cls, data: TrainingData, runtime: Runtime, batch_size: int = 16) -> InferenceSettings:
        """How the model being trained is validated: exactly as inference will run it."""
        return cls(runtime, batch_size, False, cfa_mode_for(data), data.cfa_target)


@dataclass(frozen=True)
class InferenceOptions:
    """How a network is run on mosaics (command-line flags); shared by ``evaluate``, ``submit`` and ``denoise``."""

    device: str = arg("auto", "auto (cuda if available), cpu, cuda, cuda:N")
    batch_size: int = arg(16, "blocks (or tiles) per network call")
    ensemble: bool = arg(False, "geometric self-ensemble: average the 8 Bayer-aware flips/transposes (8× slower)")
    cfa_mode: Literal["auto", "unify", "native"] = arg(
        "auto",
        "auto: as the checkpoint was trained (native for --cfa-phase random, else unify); unify: reflect-pad each block to the CFA target before packing (BayerUnify); native: pack in the block's own phase",
    )
    cfa_target: str = arg(
        "auto",
        "CFA pattern blocks are unified to: auto (the one the checkpoint's training crops had), or RGGB, BGGR, GRBG, GBRG",
    )
    amp: AmpFlag = arg(
        "auto",
        "bf16 autocast for the network body (the convolution reading the input and the output layer stay fp32): auto (where bf16 is native: CUDA, CPUs with AMX or AVX-512 BF16), bf16, off; measured at most −0.003 dB per phone on the demo blocks for 1.5× the speed",
    )
    channels_last: LayoutFlag = arg("auto", "channels_last memory format: auto (on for CUDA and CPU), on, off")

    def resolve(self, data: TrainingData | None = None) -> InferenceSettings:
        """The settings these options give for a model trained on ``data`` (the checkpoint's; device picked here).

        ``auto`` CFA choices follow ``data``; without it they are ``unify`` to RGGB.
        """
        check_choices(self)
        data = data or TrainingData()
        return InferenceSettings(
            runtime=Runtime.resolve(self.device, self.amp, self.channels_last),
            batch_size=self.batch_size,
            ensemble=self.ensemble,
            cfa_mode=cfa_mode_for(data) if self.cfa_mode == "auto" else self.cfa_mode,
            cfa_target=data.cfa_target if self.cfa_target == "auto" else check_pattern(self.cfa_target, "--cfa-target"),
        )


DEFAULT_SETTINGS = InferenceSettings()


def _apply(x: torch.Tensor, flip_v: bool, flip_h: bool, transpose: bool) -> torch.Tensor:
    """Flips, then transpose, on the last two dims (the order ``flipped_pattern`` assumes)."""
    dims = [d for d, on in ((-2, flip_v), (-1, flip_h)) if on]
    x = torch.flip(x, dims=dims) if dims else x
    return x.transpose(-1, -2) if transpose else x


def _invert(x: torch.Tensor, flip_v: bool, flip_h: bool, transpose: bool) -> torch.Tensor:
    x = x.transpose(-1, -2) if transpose else x
    dims = [d for d, on in ((-2, flip_v), (-1, flip_h)) if on]
    return torch.flip(x, dims=dims) if dims else x


def _network_pass(model: nn.Module, mosaics: torch.Tensor, pattern: str, settings: InferenceSettings) -> torch.Tensor:
    """(B, H, W) mosaics of one ``pattern`` → (B, H, W) float32 denoised, same grid and pattern."""
    unify, target = settings.cfa_mode == "unify", settings.cfa_target
    x = unify_cfa(mosaics, pattern, target, mode="pad") if unify else mosaics
    packed = settings.runtime.layout(pack_bayer(x))  # (B, 4, H'/2, W'/2)
    with settings.runtime.autocast():
        out = model(packed)
    out = unpack_bayer(out.float())  # (B, H', W')
    return uncrop_unified(out, pattern, target) if unify else out


@torch.no_grad()
def denoise_tensor(
    model: nn.Module, mosaics: torch.Tensor, pattern: str, settings: InferenceSettings = DEFAULT_SETTINGS
) -> torch.Tensor:
    """Denoise a batch ``(B, H, W)`` of mosaics sharing one CFA ``pattern``, already on the model's device."""
    pattern = check_pattern(pattern)
    transforms = TRANSFORMS if settings.ensemble else TRANSFORMS[:1]
    total = None
    for t in transforms:
        y = _network_pass(model, _apply(mosaics, *t), flipped_pattern(pattern, *t), settings)
        y = _invert(y, *t)
        total = y if total is None else total + y
    return total / len(transforms)


def _batches(indices: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(indices), size):
        yield indices[start : start + size]


@torch.no_grad()
def denoise_blocks(
    model: nn.Module,
    blocks: np.ndarray,
    patterns: Sequence[str],
    settings: InferenceSettings = DEFAULT_SETTINGS,
    clamp: bool = True,
    progress: bool = False,
) -> np.ndarray:
    """Denoise ``(K, H, W)`` Bayer blocks, block k having CFA ``patterns[k]``; returns float32 ``(K, H, W)``.

    Blocks are batched per pattern (patterns pad to different sizes). The output is clamped to [0, 1]
    unless ``clamp=False`` (the raw protocol clamps before scoring and submitting).

    Example:
        >>> out = denoise_blocks(torch.nn.Identity(), np.zeros((2, 4, 4), np.float32), ["RGGB", "GRBG"])
        >>> out.shape, out.dtype
        ((2, 4, 4), dtype('float32'))
    """
    blocks = np.asarray(blocks)
    if blocks.ndim != 3:
        raise ValueError(f"denoise_blocks: blocks must be (K, H, W), got shape {blocks.shape}")
    if len(patterns) != len(blocks):
        raise ValueError(f"denoise_blocks: {len(blocks)} blocks but {len(patterns)} patterns")
    device = settings.runtime.device
    model.eval()
    out = np.empty(blocks.shape, dtype=np.float32)
    by_pattern: dict[str, list[int]] = {}
    for k, p in enumerate(patterns):
        by_pattern.setdefault(check_pattern(p), []).append(k)
    bar = tqdm(total=len(blocks), desc="denoise", unit="block", disable=not progress, leave=False)
    for pattern, indices in by_pattern.items():
        for batch in _batches(indices, settings.batch_size):
            x = torch.from_numpy(np.ascontiguousarray(blocks[batch], dtype=np.float32)).to(device)
            y = denoise_tensor(model, x, pattern, settings)
            if clamp:
                y = y.clamp_(0.0, 1.0)
            out[batch] = y.cpu().numpy()
            bar.update(len(batch))
    bar.close()
    return out


def tile_windows(size: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Along one axis of ``size``: ``(read_start, read_stop, keep_start, keep_stop)`` per tile.

    Kept spans (``tile`` long, even starts) partition [0, size); each is read with ``overlap`` extra
    pixels on both sides where the image has them. Everything is even so each tile keeps the CFA phase.
    """
    if tile <= 0 or tile % 2 or overlap < 0 or overlap % 2:
        raise ValueError(f"tile must be a positive even number and overlap an even number ≥ 0, got {tile}, {overlap}")
    out = []
    for keep in range(0, size, tile):
        stop = min(keep + tile, size)
        out.append((max(0, keep - overlap), min(size, stop + overlap), keep, stop))
    return out


@torch.no_grad()
def denoise_mosaic_tiled(
    model: nn.Module,
    mosaic: np.ndarray,
    pattern: str,
    settings: InferenceSettings = DEFAULT_SETTINGS,
    tile: int = 512,
    overlap: int = 32,
    clamp: bool = True,
    progress: bool = True,
) -> np.ndarray:
    """Denoise a whole ``(H, W)`` mosaic (even H and W) tile by tile; returns float32 ``(H, W)``.

    Tiles of ``tile``×``tile`` Bayer pixels are read with ``overlap`` pixels of context on each side and
    only their centre is kept (overlap-discard, no blending seams: each kept pixel comes from exactly one
    tile, computed with at least ``overlap`` pixels of real context where the image has them).

    Memory is the input and output mosaics (4 bytes/pixel each) plus one batch of tile activations,
    whatever the photo size (measured figures: benchmarks/README.md, "Memory of a whole photo").
    """
    mosaic = np.asarray(mosaic)
    h, w = mosaic.shape
    if h % 2 or w % 2:
        raise ValueError(f"denoise_mosaic_tiled: needs even height and width, got {mosaic.shape}")
    pattern = check_pattern(pattern)
    device, batch_size = settings.runtime.device, settings.batch_size
    model.eval()
    out = np.empty((h, w), dtype=np.float32)
    windows = [(r, c) for r in tile_windows(h, tile, overlap) for c in tile_windows(w, tile, overlap)]
    bar = tqdm(total=len(windows), desc="denoise", unit="tile", disable=not progress, leave=False)
    pending: list[tuple[tuple[int, int, int, int], tuple[int, int, int, int]]] = []

    def flush() -> None:
        (r0, r1, _, _), (c0, c1, _, _) = pending[0]
        x = np.stack([mosaic[r[0] : r[1], c[0] : c[1]] for r, c in pending]).astype(np.float32, copy=False)
        y = denoise_tensor(model, torch.from_numpy(x).to(device), pattern, settings)
        if clamp:
            y = y.clamp_(0.0, 1.0)
        y = y.cpu().numpy()
        for k, (r, c) in enumerate(pending):
            out[r[2] : r[3], c[2] : c[3]] = y[k, r[2] - r[0] : r[3] - r[0], c[2] - c[0] : c[3] - c[0]]
        bar.update(len(pending))
        pending.clear()

    for r, c in windows:
        shape = (r[1] - r[0], c[1] - c[0])
        # Tiles are batched while they share a shape (interior tiles do; border tiles are smaller).
        if pending and (
            len(pending) >= batch_size
            or shape != (pending[0][0][1] - pending[0][0][0], pending[0][1][1] - pending[0][1][0])
        ):
            flush()
        pending.append((r, c))
    if pending:
        flush()
    bar.close()
    return out


def cfa_mode_for(data: TrainingData) -> CfaMode:
    """How to pack blocks for a model trained on ``data``: ``native`` after random-phase training."""
    return "native" if data.cfa_phase == "random" else "unify"


def load_network(checkpoint: str, options: InferenceOptions) -> tuple[nn.Module, InferenceSettings, Checkpoint]:
    """(model on its device in eval mode, the settings to run it with, the typed checkpoint)."""
    if not checkpoint or checkpoint == PRETRAINED_NAME:
        from .pretrained import pretrained_path

        checkpoint = str(pretrained_path())
        log.info("using the model shipped with the package (%s); --checkpoint picks another", checkpoint)
    if checkpoint == IDENTITY:
        info = Checkpoint(Path(IDENTITY), 0, UNetConfig(), None, TrainingData(), {})
        settings = options.resolve(info.data)
        return nn.Identity(), settings, info
    model, info = load_model(checkpoint, map_location="cpu")
    if model.config.in_channels != 4 or model.config.out_channels != 4:
        raise CheckpointError(
            f"{checkpoint}: a {model.config.in_channels}-channel model; raw denoising needs a packed-raw (4-channel) checkpoint"
        )
    settings = options.resolve(info.data)
    return settings.runtime.prepare(model).eval(), settings, info
