"""Checkpoints: step-numbered, atomic, self-describing.

``<run>/checkpoints/step_0001234.pt`` holds the model weights, optimizer, learning-rate schedule state,
step, epoch, position in the epoch, and the model and training configurations; a readable
``step_0001234.json`` sidecar repeats everything but the tensors. ``latest.pt``/``latest.json`` are the most
recent ones. Every file is written to a temporary name in the same folder and renamed, so an interruption
never leaves a partial checkpoint. Loading uses ``weights_only=True``.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from .errors import CheckpointError
from .model import UNet, UNetConfig

FORMAT = "n2n_raw.checkpoint/1"


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` then rename to ``path``; the temporary file is removed on failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    def write(tmp: str) -> None:
        Path(tmp).write_text(text)

    return atomic_write(path, write)


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module under DistributedDataParallel / DataParallel / torch.compile wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, torch.nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def save_checkpoint(directory: str | os.PathLike, state: dict[str, Any], keep_last: int = 3) -> Path:
    """Write ``step_NNNNNNN.pt`` (+ JSON sidecar) and ``latest.pt`` atomically; keep the last ``keep_last``."""
    directory = Path(directory)
    state = {"format": FORMAT, **state}
    name = f"step_{int(state['step']):07d}"
    meta = {k: v for k, v in state.items() if k not in ("model", "optimizer", "rng")}
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
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for truncated/corrupt files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({first[:200]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an n2n_raw checkpoint (no '{FORMAT}' format tag)")
    for key in ("model", "model_config", "step"):
        if key not in state:
            raise CheckpointError(f"{path}: checkpoint lacks '{key}'")
    return state


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[UNet, dict]:
    """Rebuild the U-Net from the configuration stored in a checkpoint and load its weights."""
    state = load_checkpoint(path, map_location)
    try:
        model = UNet(UNetConfig(**state["model_config"]))
        model.load_state_dict(state["model"])
    except (TypeError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: weights do not fit the stored model configuration ({exc})") from None
    return model, state
