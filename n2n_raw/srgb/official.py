"""Loading the released official weights (``model_gauss25_b4e100r02.pth`` and siblings).

The official ``arch_unet.py`` names its layers ``enc_conv0`` … ``enc_conv6`` (plain ``Conv2d``),
``up5.deconv`` … ``up1.deconv`` (``ConvTranspose2d`` with bias), ``dec_conv5a/b`` … ``dec_conv1a/b`` and the
head ``nin_a``, ``nin_b``, ``nin_c``; weights saved from ``--parallel`` runs carry a ``module.`` prefix
(docs/method.md pitfall 13). Its ``enc_conv0`` and ``enc_conv1`` run back to back before the first pooling, exactly
as our ``enc_conv0`` and ``enc_convs[0]``; ``conv_func`` without blind spot is a plain call. The mapping below
is one-to-one: every official tensor lands on a parameter of the same shape, none is left over, and
``tests/test_srgb_protocol.py`` checks that the official forward pass (re-implemented there from
``arch_unet.py``) gives our output.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from ..errors import CheckpointError
from ..model import UNet, UNetConfig


def official_key_map() -> dict[str, str]:
    """Official parameter name → :class:`n2n_raw.model.UNet` parameter name (weights and biases)."""
    layers = {"enc_conv0": "enc_conv0.0", "enc_conv6": "enc_conv6.0"}
    for k in range(1, 6):
        layers[f"enc_conv{k}"] = f"enc_convs.{k - 1}.0"
    for k in range(1, 6):
        layers[f"up{k}.deconv"] = f"up{k}.up"
        layers[f"dec_conv{k}a"] = f"up{k}.conv_a.0"
        layers[f"dec_conv{k}b"] = f"up{k}.conv_b.0"
    layers.update({"nin_a": "head.0", "nin_b": "head.2", "nin_c": "head.4"})
    return {f"{src}.{t}": f"{dst}.{t}" for src, dst in layers.items() for t in ("weight", "bias")}


def convert_official_state_dict(official: dict[str, torch.Tensor], config: UNetConfig) -> dict[str, torch.Tensor]:
    """Rename an official state dict for ``UNet(config)``; raises CheckpointError naming any mismatch."""
    official = {k.removeprefix("module."): v for k, v in official.items()}
    mapping = official_key_map()
    unknown = sorted(set(official) - set(mapping))
    missing = sorted(set(mapping) - set(official))
    if unknown or missing:
        raise CheckpointError(
            f"not an official arch_unet.py state dict (unknown keys {unknown[:4]}, missing {missing[:4]})"
        )
    target = UNet(config).state_dict()
    converted = {}
    for src, dst in mapping.items():
        if tuple(official[src].shape) != tuple(target[dst].shape):
            raise CheckpointError(
                f"{src}: shape {tuple(official[src].shape)} does not fit {dst} {tuple(target[dst].shape)}"
            )
        converted[dst] = official[src]
    return converted


def load_official_weights(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> UNet:
    """A 3→3 (or 4→4, from the tensors' shapes) :class:`UNet` with the weights of an official ``.pth`` file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: weights file not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt files
        raise CheckpointError(
            f"{path}: not a readable weights file ({str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__})"
        ) from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    first = state.get("enc_conv0.weight", state.get("module.enc_conv0.weight")) if isinstance(state, dict) else None
    last = state.get("nin_c.weight", state.get("module.nin_c.weight")) if isinstance(state, dict) else None
    if first is None or last is None:
        raise CheckpointError(f"{path}: not an official arch_unet.py state dict (no enc_conv0/nin_c weights)")
    config = UNetConfig(in_channels=int(first.shape[1]), out_channels=int(last.shape[0]))
    try:
        model = UNet(config)
        model.load_state_dict(convert_official_state_dict(state, config))
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    return model
