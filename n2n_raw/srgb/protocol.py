"""The official sRGB evaluation protocol (docs/method.md §6) and ``n2n-raw evaluate-srgb``.

One table drives it (:data:`BENCHMARKS`): Kodak (24 images, 10 repeats), BSD300 ``test`` (100, 3), Set14
(the 12 RGB images, 20). Before each evaluation a NumPy ``RandomState(101)`` is created — the same stream as
the official ``np.random.seed(101)`` — and consumed Kodak → BSD300 → Set14, repeat by repeat, image by
image in sorted file order (the official loops). Each noisy image is reflect-padded at the bottom and right
to a square of side ceil(max(H, W)/32)·32 (Kodak 768², BSD300 512²), denoised in one pass, cropped back,
clamped to [0, 1] and quantised (×255, +0.5, uint8); PSNR (peak 255) and SSIM are computed per image on
uint8 against the uint8 ground truth and averaged over all (image, repeat) pairs.

Folders (decoded with Pillow, no gamma correction — docs/method.md pitfall 10)::

    <root>/Kodak/kodim01.png … kodim24.png
    <root>/BSD300/test/*.png|jpg          (or BSD300/images/test, or the test images directly)
    <root>/Set14/*.png                    (single-channel images such as bridge and man are skipped)

With no folder at all, the embedded scikit-image validation photos (chelsea, coffee, astronaut; never used
for training) form one set, ``skimage``, with 1 repeat: a smoke test of the pipeline, not a paper number.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..atomic import atomic_write, atomic_write_text
from ..config import add_arguments, arg, from_arguments
from ..errors import DataError, N2NError
from .data import IMAGE_SUFFIXES, embedded_photos
from .metrics import psnr_uint8, quantize, ssim_uint8
from .noise import NoiseSpec, add_validation_noise, parse_noise

log = logging.getLogger("n2n_raw.srgb.protocol")

VALIDATION_SEED = 101
# name: (repeats, expected image count, folder aliases under a root)
BENCHMARKS: dict[str, tuple[int, int, tuple[str, ...]]] = {
    "Kodak": (10, 24, ("Kodak", "kodak", "Kodak24", "kodak24")),
    "BSD300": (3, 100, ("BSD300", "bsd300", "BSDS300")),
    "Set14": (20, 12, ("Set14", "set14")),
}
EMBEDDED_SET = "skimage"


@dataclass
class ValidationSet:
    """Images of one benchmark (uint8 RGB, sorted by file name) and how often each is repeated."""

    name: str
    repeats: int
    images: list[tuple[str, np.ndarray]] = field(default_factory=list)


def benchmark_files(name: str, folder: Path) -> list[Path]:
    """The image files of a benchmark folder, sorted as the official ``glob(...).sort()``."""
    if name == "BSD300":
        for sub in (folder / "test", folder / "images" / "test"):
            if sub.is_dir():
                folder = sub
                break
    if not folder.is_dir():
        raise DataError(f"{folder}: {name} folder not found")
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=str)
    if not files:
        raise DataError(f"{folder}: no {name} images found")
    return files


def read_rgb(path: Path) -> np.ndarray | None:
    """uint8 (H, W, 3) with Pillow; None for a single-channel image (not part of the RGB protocol)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.mode in ("1", "L", "LA", "I", "I;16", "F"):
                return None
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{path}: unreadable image ({exc})") from None


def load_benchmark(name: str, folder: str | os.PathLike, limit: int = 0) -> ValidationSet:
    """One benchmark from its folder; ``limit`` keeps the first N images (0: all)."""
    repeats, expected, _ = BENCHMARKS[name]
    images = []
    for path in benchmark_files(name, Path(folder)):
        image = read_rgb(path)
        if image is None:
            log.info("%s: single-channel, skipped (the protocol uses RGB images only)", path)
            continue
        images.append((path.name, image))
    if len(images) != expected:
        log.warning("%s: %d RGB images in %s; the paper's protocol has %d", name, len(images), folder, expected)
    return ValidationSet(name, repeats, images[:limit] if limit else images)


def find_benchmarks(root: str = "", kodak: str = "", bsd300: str = "", set14: str = "") -> dict[str, Path]:
    """Benchmark folders, in protocol order, from explicit folders and/or the subfolders of ``root``."""
    explicit = {"Kodak": kodak, "BSD300": bsd300, "Set14": set14}
    found: dict[str, Path] = {}
    for name, (_, _, aliases) in BENCHMARKS.items():
        if explicit[name]:
            found[name] = Path(explicit[name])
        elif root:
            hit = next((Path(root) / a for a in aliases if (Path(root) / a).is_dir()), None)
            if hit is not None:
                found[name] = hit
    if root and not found:
        raise DataError(f"{root}: no Kodak, BSD300 or Set14 subfolder found")
    return found


def load_validation_sets(
    root: str = "", kodak: str = "", bsd300: str = "", set14: str = "", limit: int = 0
) -> list[ValidationSet]:
    """The benchmark sets found, or the embedded photos when no folder is given at all."""
    folders = find_benchmarks(root, kodak, bsd300, set14)
    if not folders:
        images = embedded_photos("validation")
        return [ValidationSet(EMBEDDED_SET, 1, images[:limit] if limit else images)]
    return [load_benchmark(name, folder, limit) for name, folder in folders.items()]


def square_side(height: int, width: int, multiple: int = 32) -> int:
    """Side of the official square padding: ceil(max(H, W) / 32) · 32."""
    return (max(height, width) + multiple - 1) // multiple * multiple


def denoise_square(model: torch.nn.Module, noisy: np.ndarray, device: torch.device) -> np.ndarray:
    """Official forward: reflect-pad (H, W, 3) bottom/right to a square multiple of 32, run, crop, clamp."""
    h, w, _ = noisy.shape
    side = square_side(h, w)
    # NumPy's reflect (as the official code) also handles pads longer than the image.
    padded = np.pad(noisy, ((0, side - h), (0, side - w), (0, 0)), mode="reflect")
    x = torch.from_numpy(np.ascontiguousarray(padded)).permute(2, 0, 1)[None].to(device)
    with torch.no_grad():
        y = model(x)[:, :, :h, :w].float()
    return y.clamp(0, 1)[0].permute(1, 2, 0).cpu().numpy()


def run_protocol(model: torch.nn.Module, device: torch.device, sets: list[ValidationSet], spec: NoiseSpec,
                 seed: int = VALIDATION_SEED, denoise: Callable | None = None) -> dict:  # fmt: skip
    """Evaluate ``model`` on ``sets`` with the official protocol; returns per-set summaries and samples.

    ``denoise(model, noisy, device) -> [0, 1] float (H, W, 3)`` defaults to :func:`denoise_square`.
    Result: ``{"noise": …, "seed": …, "sets": {name: {psnr, ssim, noisy_psnr, images, repeats,
    evaluations, per_image}}}`` plus ``samples`` (clean, noisy, denoised uint8 of each set's first image).
    """
    denoise = denoise or denoise_square
    rng = np.random.RandomState(seed)  # the official np.random.seed(101) stream, without the global state
    was_training = model.training
    model.eval()
    result: dict = {"seed": seed, "sets": {}, "samples": {}}
    try:
        for vset in sets:
            scores = {n: {"psnr": [], "ssim": [], "noisy_psnr": []} for n, _ in vset.images}
            for _ in range(vset.repeats):
                for name, clean8 in vset.images:
                    clean = clean8.astype(np.float32) / 255.0
                    noisy = add_validation_noise(clean, spec, rng)
                    denoised8 = quantize(denoise(model, noisy, device))
                    noisy8 = quantize(noisy)
                    scores[name]["psnr"].append(psnr_uint8(clean8, denoised8))
                    scores[name]["ssim"].append(ssim_uint8(clean8, denoised8))
                    scores[name]["noisy_psnr"].append(psnr_uint8(clean8, noisy8))
                    if vset.name not in result["samples"]:
                        result["samples"][vset.name] = (clean8, noisy8, denoised8)
            every = {k: [v for s in scores.values() for v in s[k]] for k in ("psnr", "ssim", "noisy_psnr")}
            result["sets"][vset.name] = {
                **{k: float(np.mean(v)) for k, v in every.items()},
                "images": len(vset.images), "repeats": vset.repeats, "evaluations": len(every["psnr"]),
                "per_image": {n: {k: float(np.mean(v)) for k, v in s.items()} for n, s in scores.items()},
            }  # fmt: skip
    finally:
        model.train(was_training)
    return result


def markdown_report(result: dict, title: str = "sRGB validation") -> str:
    """A summary table (one row per data set) and a per-image table (mean over repeats) for each set."""
    lines = [f"# {title}", "", f"Noise `{result.get('noise', '?')}`, NumPy seed {result['seed']}; PSNR (dB) and SSIM on uint8, "
             "mean over all (image, repeat) pairs. Noisy PSNR: the noisy input clamped and quantised the same way.", "",
             "| Data set | Images × repeats | Noisy PSNR | PSNR | SSIM | Gain (dB) |", "|---|---|---|---|---|---|"]  # fmt: skip
    for name, s in result["sets"].items():
        lines.append(f"| {name} | {s['images']} × {s['repeats']} | {s['noisy_psnr']:.2f} | {s['psnr']:.2f} | "
                     f"{s['ssim']:.4f} | {s['psnr'] - s['noisy_psnr']:+.2f} |")  # fmt: skip
    for name, s in result["sets"].items():
        lines += ["", f"## {name}", "", "| Image | Noisy PSNR | PSNR | SSIM |", "|---|---|---|---|"]
        for image, v in s["per_image"].items():
            lines.append(f"| {image} | {v['noisy_psnr']:.2f} | {v['psnr']:.2f} | {v['ssim']:.4f} |")
    return "\n".join(lines) + "\n"


def summary_table(result: dict) -> str:
    """Just the summary rows of :func:`markdown_report`."""
    return "\n".join(markdown_report(result).splitlines()[4 : 6 + len(result["sets"])])


def contact_sheet(samples: dict, tile: int = 256) -> np.ndarray:
    """One row per data set: centre crops of clean | noisy | denoised (uint8, (rows·tile, 3·tile, 3))."""
    rows = []
    for clean8, noisy8, denoised8 in samples.values():
        h, w, _ = clean8.shape
        t = min(tile, h, w)
        y0, x0 = (h - t) // 2, (w - t) // 2
        crops = [
            np.pad(im[y0 : y0 + t, x0 : x0 + t], ((0, tile - t), (0, tile - t), (0, 0)))
            for im in (clean8, noisy8, denoised8)
        ]
        rows.append(np.concatenate(crops, axis=1))
    return np.concatenate(rows, axis=0)


def write_report(
    result: dict, out: str | os.PathLike, stem: str = "results", title: str = "sRGB validation"
) -> dict[str, Path]:
    """``<stem>.json``, ``<stem>.md`` and ``<stem>_contact_sheet.png`` in ``out`` (each written atomically)."""
    from PIL import Image

    out = Path(out)
    public = {k: v for k, v in result.items() if k != "samples"}
    paths = {"json": atomic_write_text(out / f"{stem}.json", json.dumps(public, indent=2)),
             "markdown": atomic_write_text(out / f"{stem}.md", markdown_report(result, title))}  # fmt: skip
    if result.get("samples"):
        sheet = contact_sheet(result["samples"])
        paths["contact_sheet"] = atomic_write(
            out / f"{stem}_contact_sheet.png", lambda tmp: Image.fromarray(sheet).save(tmp, format="PNG")
        )
    return paths


def flat_metrics(result: dict) -> dict[str, float]:
    """``{"Kodak_psnr": …, "Kodak_ssim": …, "Kodak_noisy_psnr": …, …}`` for the training log."""
    return {f"{name}_{k}": s[k] for name, s in result["sets"].items() for k in ("psnr", "ssim", "noisy_psnr")}


def make_srgb_validator(validation_dir: str = "", limit: int = 0, noise: str = "gauss25", out_dir: str = ""):
    """The per-epoch validation of the training loop: ``(model, device) -> {"<set>_psnr": …}``.

    ``validation_dir`` is a root with Kodak/BSD300/Set14 subfolders; empty: the embedded photos. ``limit``
    keeps the first N images of each set (repeats unchanged). With ``out_dir`` every call rewrites
    ``validation.json``, ``validation.md`` and ``validation_contact_sheet.png`` there, and prints the table.
    """
    from tqdm import tqdm

    sets = load_validation_sets(root=validation_dir, limit=limit)
    spec = parse_noise(noise)

    def validate(model: torch.nn.Module, device: torch.device) -> dict[str, float]:
        result = {"noise": noise, **run_protocol(model, device, sets, spec)}
        if out_dir:
            write_report(result, out_dir, stem="validation")
        tqdm.write(summary_table(result))
        return flat_metrics(result)

    return validate


# ---------------------------------------------------------------------------------------------------------
# n2n-raw evaluate-srgb
# ---------------------------------------------------------------------------------------------------------


@dataclass
class SRGBEvalConfig:
    """``n2n-raw evaluate-srgb``: the paper's Kodak/BSD300/Set14 protocol for one model."""

    checkpoint: str = arg("", "an n2n_raw checkpoint (sRGB track)")
    official_weights: str = arg("", "instead of --checkpoint: an official model_*_b4e100r02.pth state dict")
    root: str = arg("", "folder holding Kodak/, BSD300/ and Set14/ (the official validation/ folder)")
    kodak: str = arg("", "Kodak folder (overrides <root>/Kodak)")
    bsd300: str = arg("", "BSD300 folder, or its test/ subfolder (overrides <root>/BSD300)")
    set14: str = arg("", "Set14 folder (overrides <root>/Set14)")
    noise: str = arg("", "noise model; empty: the checkpoint's training noise (gauss25 for official weights)")
    limit: int = arg(0, "use only the first N images of each set (0: all, as the paper)")
    out: str = arg("runs/eval-srgb", "output folder: results.json, results.md, results_contact_sheet.png")
    device: str = arg("auto", "auto (cuda if available), cpu, cuda, cuda:N")


def evaluate_srgb(config: SRGBEvalConfig) -> dict:
    """Load the model, run the protocol, write the report; returns the result (without samples)."""
    from ..checkpoint import load_model
    from ..device import pick_device
    from .official import load_official_weights

    if bool(config.checkpoint) == bool(config.official_weights):
        raise N2NError("give exactly one of --checkpoint and --official-weights")
    device = pick_device(config.device)
    noise = config.noise
    if config.checkpoint:
        model, checkpoint = load_model(config.checkpoint, map_location="cpu")
        noise = noise or (checkpoint.train_config.noise if checkpoint.train_config else "gauss25")
    else:
        model = load_official_weights(config.official_weights)
        noise = noise or "gauss25"
    if model.config.in_channels != 3:
        raise N2NError(
            f"{config.checkpoint or config.official_weights}: a {model.config.in_channels}-channel model; the sRGB protocol needs 3"
        )
    model = model.to(device)
    sets = load_validation_sets(config.root, config.kodak, config.bsd300, config.set14, config.limit)
    result = {"noise": noise, "model": config.checkpoint or config.official_weights,
              **run_protocol(model, device, sets, parse_noise(noise))}  # fmt: skip
    paths = write_report(result, config.out, stem="results", title=f"sRGB evaluation of {result['model']}")
    print(summary_table(result))
    print("\n".join(f"{k}: {v}" for k, v in paths.items()))
    return {k: v for k, v in result.items() if k != "samples"}


def evaluate_srgb_arguments(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser, SRGBEvalConfig)


def evaluate_srgb_command(args: argparse.Namespace) -> int:
    evaluate_srgb(from_arguments(SRGBEvalConfig, args))
    return 0
