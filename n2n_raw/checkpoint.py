"""Checkpoints: step-numbered, atomic, self-describing.

``<run>/checkpoints/step_0001234.pt`` holds the model weights, optimizer, learning-rate schedule state,
step, epoch, position in the epoch, and the model and training configurations; a readable
``step_0001234.json`` sidecar repeats everything but the tensors. ``latest.pt``/``latest.json`` are the most
recent ones. Every file is written to a temporary name in the same folder and renamed, so an interruption
never leaves a partial checkpoint. Loading uses ``weights_only=True``.

:func:`read_checkpoint` gives the stored state back typed (:class:`Checkpoint`): the :class:`UNetConfig`,
the :class:`TrainConfig` and :class:`TrainingData`, the CFA the training crops were unified to, which
inference must reproduce.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_write, atomic_write_text
from .config import from_dict, to_dict
from .errors import CheckpointError, N2NError
from .model import UNet, UNetConfig
from .train_config import CfaPhase, TrainConfig

FORMAT = "n2n_raw.checkpoint/1"


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module under DistributedDataParallel / DataParallel / torch.compile wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, torch.nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


@dataclass(frozen=True)
class TrainingData:
    """What the network saw in training, as inference must reproduce it.

    ``cfa_target``: the CFA pattern every training crop was unified to (``prepare-sidd --pattern``; RGGB for
    plain mosaic folders); blocks are padded to it before packing. ``cfa_phase``: ``random`` for a
    pattern-agnostic model (blocks are then packed in their own phase).
    """

    cfa_target: str = "RGGB"
    cfa_phase: CfaPhase = "unified"

    def to_dict(self) -> dict:
        return to_dict(self)


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint's configuration, typed; ``state`` holds the raw dictionary with the tensors."""

    path: Path
    step: int
    model_config: UNetConfig
    train_config: TrainConfig | None
    data: TrainingData
    state: dict = field(repr=False, compare=False)


def checkpoint_state(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    data: TrainingData,
    model_config: UNetConfig,
    step: int,
    epoch: int,
    batch_in_epoch: int,
) -> dict[str, Any]:
    """The dictionary :func:`save_checkpoint` writes: weights, optimiser, position, typed configurations."""
    return {
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "epoch": epoch,
        "batch_in_epoch": batch_in_epoch,
        "model_config": model_config.to_dict(),
        "train_config": to_dict(config),
        "data": data.to_dict(),
    }


def save_checkpoint(directory: str | os.PathLike, state: dict[str, Any], keep_last: int = 3) -> Path:
    """Write ``step_NNNNNNN.pt`` (+ JSON sidecar) and ``latest.pt`` atomically; keep the last ``keep_last``."""
    directory = Path(directory)
    state = {"format": FORMAT, **state}
    name = f"step_{int(state['step']):07d}"
    meta = {k: v for k, v in state.items() if k not in ("model", "ema_model", "optimizer", "rng")}
    text = json.dumps(meta, indent=2, sort_keys=True)
    path = atomic_write(directory / f"{name}.pt", lambda tmp: torch.save(state, tmp))
    atomic_write_text(directory / f"{name}.json", text)
    atomic_write(directory / "latest.pt", lambda tmp: torch.save(state, tmp))
    atomic_write_text(directory / "latest.json", text)
    if keep_last > 0:
        old = sorted(directory.glob("step_*.pt"))[:-keep_last]
        for p in old:
            p.unlink(missing_ok=True)
            p.with_suffix(".json").unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint`; any problem is a one-line CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    with open(path, "rb") as fh:
        head = fh.read(4)
    # torch.save writes a zip archive (or, in its legacy format, a pickle); anything else is another kind of file,
    # which torch would report as a refused "weights only" load, as if it held code.
    if not (head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"):
        kind = "an empty file" if not head else f"it starts with {head!r}"
        raise CheckpointError(f"{path}: not a checkpoint (not a PyTorch file: {kind})")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for truncated/corrupt files
        text = str(exc).strip()
        if "Weights only load failed" in text or "weights_only" in text:
            # Never repeat torch's advice to retry with weights_only=False: that would run the file's code.
            raise CheckpointError(
                f"{path}: refused: it holds Python objects besides tensors (it could run code when loaded); "
                "n2n_raw reads checkpoints with weights_only=True only"
            ) from None
        first = text.splitlines()[0] if text else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({first[:200]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an n2n_raw checkpoint (no '{FORMAT}' format tag)")
    for key in ("model", "model_config", "step"):
        if key not in state:
            raise CheckpointError(f"{path}: checkpoint lacks '{key}'")
    return state


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> Checkpoint:
    """:func:`load_checkpoint`, with the configurations as typed objects.

    Checkpoints written before the training data were recorded say nothing of their CFA target: their
    crops were unified to RGGB, the only target of those versions.
    """
    state = load_checkpoint(path, map_location)
    try:
        model_config = UNetConfig(**state["model_config"])
        train_config = from_dict(TrainConfig, state["train_config"]) if state.get("train_config") else None
        phase = train_config.cfa_phase if train_config else "unified"
        data = from_dict(TrainingData, {"cfa_phase": phase, **state.get("data", {})})
    except (TypeError, ValueError, N2NError) as exc:
        raise CheckpointError(f"{path}: stored configuration is not valid here ({exc})") from None
    return Checkpoint(Path(path), int(state["step"]), model_config, train_config, data, state)


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[UNet, Checkpoint]:
    """Rebuild the U-Net from the configuration stored in a checkpoint and load its weights."""
    checkpoint = read_checkpoint(path, map_location)
    try:
        model = UNet(checkpoint.model_config)
    except ValueError as exc:  # a stored configuration no network can have, e.g. keep_local_means 3
        raise CheckpointError(f"{path}: {exc}") from None
    try:
        # The weight average, where training kept one, is the model that was validated and is used.
        model.load_state_dict(checkpoint.state.get("ema_model", checkpoint.state["model"]))
    except RuntimeError as exc:
        lines = [s.strip() for s in str(exc).splitlines() if s.strip()]
        raise CheckpointError(f"{path}: weights do not fit the stored model configuration ({lines[0][:160]})") from None
    return model, checkpoint
