"""``n2n-raw export CHECKPOINT``: the network with its packing, padding and crop as one ONNX graph that takes
a normalised Bayer mosaic.

The exported graph maps a ``(1, 1, H, W)`` float32 mosaic (``(raw − black) / (white − black)``; H and W even,
any size) in CFA ``--pattern`` to the denoised mosaic of the same size and pattern: BayerUnify's reflect
padding to the model's CFA target, packing to 4 planes (space-to-depth), reflect padding to a multiple of 32,
the U-Net, and every step back. Height and width are dynamic (torch.export with symbolic sizes). The export
is verified by running the written file with onnxruntime on a test mosaic of an odd number of 32-pixel
blocks, of another size than the one traced, against PyTorch, and the largest difference is reported.
``--format pt2`` saves the same graph as a ``torch.export`` program instead (loaded with
``torch.export.load``, without this package). TorchScript is not offered: ``torch.jit`` is deprecated in
favour of ``torch.export``, and the U-Net's shape-dependent padding does not script.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .bayer import check_pattern, pattern_shift
from .config import add_arguments, arg, check_choices, from_arguments
from .errors import N2NError


class MosaicDenoiser(nn.Module):
    """A U-Net wrapped to take and return ``(1, 1, H, W)`` Bayer mosaics of one CFA pattern."""

    def __init__(self, unet: nn.Module, pattern: str, target: str):
        super().__init__()
        self.unet = unet
        self.dy, self.dx = pattern_shift(check_pattern(pattern), check_pattern(target))

    def forward(self, mosaic: torch.Tensor) -> torch.Tensor:
        dy, dx = self.dy, self.dx
        x = F.pad(mosaic, (dx, dx, dy, dy), mode="reflect") if (dy or dx) else mosaic
        packed = F.pixel_unshuffle(x, 2)  # planes (0,0), (0,1), (1,0), (1,1): n2n_raw.bayer.pack_bayer
        h, w = packed.shape[-2], packed.shape[-1]
        ph, pw = (32 - h % 32) % 32, (32 - w % 32) % 32
        y = self.unet._forward_aligned(F.pad(packed, (0, pw, 0, ph), mode="reflect"))[..., :h, :w]
        out = F.pixel_shuffle(y, 2)
        return out[..., dy : out.shape[-2] - dy, dx : out.shape[-1] - dx] if (dy or dx) else out


@dataclass(frozen=True)
class ExportConfig:
    format: Literal["onnx", "pt2"] = arg(
        "onnx",
        "onnx (onnxruntime and other ONNX runtimes) or pt2 (torch.export's program: torch.export.load, no Python model code needed)",
    )
    out: str = arg("", "output file; empty: the checkpoint's name with .onnx or .pt2, in the current folder")
    pattern: str = arg(
        "auto", "CFA of the mosaics the graph will take: auto (the model's training target) or RGGB, BGGR, GRBG, GBRG"
    )
    test_size: int = arg(
        1056, "height of the test mosaic the export is checked on (width + 960; 1056: 33 × 63 blocks of 32, 2.1 MP)"
    )


def export(checkpoint: str, config: ExportConfig) -> dict:
    """Write the graph, run it on a test mosaic and compare with PyTorch; returns the paths and differences."""
    from .atomic import atomic_write
    from .inference import InferenceOptions, load_network

    check_choices(config)
    model, settings, info = load_network(checkpoint, InferenceOptions(device="cpu", channels_last="off"))
    pattern = settings.cfa_target if config.pattern == "auto" else check_pattern(config.pattern, "--pattern")
    wrapper = MosaicDenoiser(model, pattern, settings.cfa_target).eval()
    out = Path(config.out) if config.out else Path(Path(str(info.path)).stem + f".{config.format}")
    if config.test_size <= 0 or config.test_size % 2:
        raise N2NError(f"--test-size {config.test_size}: must be a positive even number")
    example = torch.rand(1, 1, 256, 320)
    with torch.no_grad():
        atomic_write(out, lambda tmp: (_onnx if config.format == "onnx" else _pt2)(wrapper, example, tmp))
    test = np.random.default_rng(0).random((1, 1, config.test_size, config.test_size + 960), dtype=np.float32)
    with torch.no_grad():
        expected = wrapper(torch.from_numpy(test)).numpy()
    got = _run(out, config.format, test)
    diff = float(np.abs(got - expected).max())
    return {
        "file": str(out),
        "format": config.format,
        "pattern": pattern,
        "test_shape": list(test.shape),
        "max_abs_difference": diff,
    }


def _dynamic_shapes() -> dict:
    h, w = torch.export.Dim("half_height", min=16), torch.export.Dim("half_width", min=16)
    return {"mosaic": {2: 2 * h, 3: 2 * w}}  # any even height and width


def _pt2(wrapper: nn.Module, example: torch.Tensor, path: str) -> None:
    program = torch.export.export(wrapper, (example,), dynamic_shapes=_dynamic_shapes())
    with open(path, "wb") as fh:
        torch.export.save(program, fh)


def _onnx(wrapper: nn.Module, example: torch.Tensor, path: str) -> None:
    try:
        import onnxscript  # noqa: F401 - the exporter needs it
    except ImportError:
        raise N2NError(
            "--format onnx needs onnx and onnxscript (and onnxruntime to check it): pip install -e '.[export]'"
        ) from None
    program = torch.onnx.export(wrapper, (example,), dynamic_shapes=_dynamic_shapes(), dynamo=True,
                                input_names=["mosaic"], output_names=["denoised"])  # fmt: skip
    program.save(path)


def _run(path: Path, fmt: str, mosaic: np.ndarray) -> np.ndarray:
    if fmt == "pt2":
        with torch.no_grad():
            return torch.export.load(str(path)).module()(torch.from_numpy(mosaic)).numpy()
    try:
        import onnxruntime
    except ImportError:
        raise N2NError("checking an ONNX export needs onnxruntime: pip install -e '.[export]'") from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: mosaic})[0]


def export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="a checkpoint, or 'pretrained' for the shipped model")
    add_arguments(parser, ExportConfig)


def export_command(args: argparse.Namespace) -> int:
    result = export(args.checkpoint, from_arguments(ExportConfig, args))
    print(f"written: {result['file']} ({result['format']}, mosaics in {result['pattern']}, height and width dynamic)")
    print(f"checked on a {result['test_shape'][2]}×{result['test_shape'][3]} mosaic: largest difference from PyTorch "
          f"{result['max_abs_difference']:.2e}")  # fmt: skip
    return 0
