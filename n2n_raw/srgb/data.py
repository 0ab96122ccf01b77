"""sRGB training data: ``prepare-images`` and the random-crop training set (docs/method.md §5).

The paper trains on the 44,328 ImageNet-validation images whose sides both lie in [256, 512], converted to
RGB. ``n2n-raw prepare-images --input-dir … --out …`` filters a folder of images the same way and packs them
for fast loading::

    <out>/
        images.bin     every kept image, uint8 RGB, H×W×3 row-major, one after the other (memory-mapped)
        images.json    format tag, filter, source fingerprint, and per image: name, byte offset, height, width

``images.json`` is renamed into place last, after ``images.bin``: a folder with a matching ``images.json``
is complete, and a rerun over an unchanged input folder returns at once.

The training set takes one random ``crop × crop`` window per image per epoch, no flips (as the official
``DataLoader_Imagenet_val``): offsets are drawn from ``[0, side − crop)`` — the official upper bound is
exclusive, so offset ``side − crop`` never occurs — and a side equal to ``crop`` is used whole. The offsets
come from ``item_rng(seed, epoch, index)``, so the stream does not depend on loader workers and resumes
exactly. Items are ``{"clean": (3, crop, crop) float32 in [0, 1]}``; the training loop adds fresh noise on
its device. With ``--fixed-noise`` items are ``{"noisy": …}`` instead: one noisy realisation per image,
drawn once from ``(seed, index)`` over the whole image and cropped like the clean one, the same in every
epoch (the strict single-noisy-image setting of docs/method.md pitfall 3).

With no ``--data`` the set is the embedded photos shipped inside scikit-image (:data:`TRAIN_PHOTOS`),
disjoint from the embedded validation photos (:data:`VALIDATION_PHOTOS`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..atomic import atomic_write, atomic_write_text
from ..config import add_arguments, arg, from_arguments
from ..data import derive_seed, item_rng
from ..errors import DataError
from .noise import NoiseSpec, add_noise, parse_noise

log = logging.getLogger("n2n_raw.srgb.data")

PACKED_IMAGES = "images.bin"
PACKED_INDEX = "images.json"
FORMAT = "n2n_raw.images/1"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".jpe", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".jfif")
FIXED_NOISE_KEY = 0x5EED  # separates the fixed-noise seeds from every other derived seed

# Real colour photos inside scikit-image's wheel (no download). `cat` is the same picture as `chelsea` and is
# left out; the two stereo views stay on the same side. Grayscale photos (camera, brick, …) are left out too:
# with half the set gray, a short run learned to output gray images.
TRAIN_PHOTOS = (
    "rocket", "stereo_motorcycle:0", "stereo_motorcycle:1", "immunohistochemistry", "hubble_deep_field",
    "retina", "colorwheel",
)  # fmt: skip
VALIDATION_PHOTOS = ("chelsea", "coffee", "astronaut")  # smallest first: `--validation-limit 1` is quick


def embedded_photo(name: str) -> np.ndarray:
    """One scikit-image photo as uint8 RGB (H, W, 3); grayscale is replicated, as ``convert('RGB')`` does."""
    from skimage import data as skdata  # heavy; only the embedded set needs it

    base, _, part = name.partition(":")
    image = getattr(skdata, base)()
    if part:
        image = image[int(part)]
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3], dtype=np.uint8)


def embedded_photos(split: str) -> list[tuple[str, np.ndarray]]:
    """``split`` "train" or "validation": (name, uint8 RGB image) pairs, disjoint between the splits."""
    names = {"train": TRAIN_PHOTOS, "validation": VALIDATION_PHOTOS}[split]
    return [(n, embedded_photo(n)) for n in names]


# ---------------------------------------------------------------------------------------------------------
# prepare-images
# ---------------------------------------------------------------------------------------------------------


@dataclass
class PrepareImagesConfig:
    """``n2n-raw prepare-images``: filter a folder of clean images by size and pack them as uint8 RGB."""

    input_dir: str = arg("", "folder of clean images (searched recursively), e.g. ImageNet's validation set")
    out: str = arg("data/images", "output folder (images.bin + images.json)")
    min_size: int = arg(256, "keep images whose height and width are both >= this")
    max_size: int = arg(512, "keep images whose height and width are both <= this")
    workers: int = arg(0, "decoding processes (0: in this process)")
    force: bool = arg(False, "rebuild even if the output matches the input")


def list_images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _fingerprint(folder: Path, files: Sequence[Path], config: PrepareImagesConfig) -> str:
    digest = hashlib.sha256(f"{config.min_size},{config.max_size}".encode())
    for p in files:
        st = p.stat()
        digest.update(f"{p.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _decode(job: tuple[str, int, int]) -> tuple[np.ndarray | None, str]:
    """(uint8 RGB image or None, reason); the size is checked from the header before decoding."""
    from PIL import Image

    path, lo, hi = job
    try:
        with Image.open(path) as im:
            w, h = im.size
            if not (lo <= w <= hi and lo <= h <= hi):
                return None, "size"
            # Pillow applies no gamma correction (docs/method.md pitfall 10); grayscale/CMYK/palette become RGB.
            return np.asarray(im.convert("RGB"), dtype=np.uint8), ""
    except (OSError, ValueError, SyntaxError) as exc:
        return None, f"unreadable ({exc})"


def prepare_images(config: PrepareImagesConfig) -> Path:
    """Write ``images.bin`` + ``images.json`` under ``config.out``; returns the index path."""
    from tqdm import tqdm

    folder, out = Path(config.input_dir), Path(config.out)
    if not folder.is_dir():
        raise DataError(f"{folder}: input folder not found")
    files = list_images(folder)
    if not files:
        raise DataError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) found")
    fingerprint = _fingerprint(folder, files, config)
    index_path = out / PACKED_INDEX
    if not config.force and index_path.is_file():
        try:
            if json.loads(index_path.read_text()).get("fingerprint") == fingerprint:
                log.info("%s is up to date (%d input files)", index_path, len(files))
                return index_path
        except ValueError:
            pass
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(str(p), config.min_size, config.max_size) for p in files]
    items, skipped, offset = [], {"size": 0, "unreadable": 0}, 0

    def write(tmp: str) -> None:
        nonlocal offset
        pool = None
        if config.workers > 0:
            from concurrent.futures import ProcessPoolExecutor

            pool = ProcessPoolExecutor(config.workers)
        results = pool.map(_decode, jobs, chunksize=32) if pool else map(_decode, jobs)
        try:
            with open(tmp, "wb") as fh:
                for path, (image, reason) in tqdm(
                    zip(files, results), total=len(files), desc="prepare-images", unit="img"
                ):
                    if image is None:
                        skipped["size" if reason == "size" else "unreadable"] += 1
                        if reason != "size":
                            log.warning("%s: skipped, %s", path, reason)
                        continue
                    h, w, _ = image.shape
                    fh.write(image.tobytes())
                    items.append({"name": str(path.relative_to(folder)), "offset": offset, "height": h, "width": w})
                    offset += image.nbytes
        finally:
            if pool:
                pool.shutdown()
        if not items:  # raised inside the write: the temporary file is removed, nothing is left behind
            raise DataError(f"{folder}: no image has both sides in [{config.min_size}, {config.max_size}]")

    atomic_write(out / PACKED_IMAGES, write)
    index = {"format": FORMAT, "source": str(folder.resolve()), "fingerprint": fingerprint,
             "min_size": config.min_size, "max_size": config.max_size, "count": len(items),
             "skipped_size": skipped["size"], "skipped_unreadable": skipped["unreadable"],
             "bytes": offset, "items": items}  # fmt: skip
    atomic_write_text(index_path, json.dumps(index))
    log.info("kept %d of %d images (%d outside the size range, %d unreadable) in %s",
             len(items), len(files), skipped["size"], skipped["unreadable"], out)  # fmt: skip
    return index_path


def load_packed_images(folder: str | os.PathLike) -> list[np.ndarray]:
    """Memory-mapped uint8 (H, W, 3) views of a ``prepare-images`` folder."""
    folder = Path(folder)
    index_path, data_path = folder / PACKED_INDEX, folder / PACKED_IMAGES
    if not index_path.is_file() or not data_path.is_file():
        raise DataError(
            f"{folder}: not a prepared image folder (needs {PACKED_INDEX} and {PACKED_IMAGES}); run `n2n-raw prepare-images --input-dir … --out {folder}`"
        )
    try:
        index = json.loads(index_path.read_text())
    except ValueError as exc:
        raise DataError(f"{index_path}: unreadable index ({exc})") from None
    if index.get("format") != FORMAT:
        raise DataError(f"{index_path}: not a {FORMAT} index")
    blob = np.memmap(data_path, dtype=np.uint8, mode="r")
    if blob.size != index["bytes"]:
        raise DataError(f"{data_path}: {blob.size} bytes, index says {index['bytes']}; rerun prepare-images --force")
    return [blob[it["offset"] : it["offset"] + it["height"] * it["width"] * 3].reshape(it["height"], it["width"], 3)
            for it in index["items"]]  # fmt: skip


def prepare_images_arguments(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser, PrepareImagesConfig)


def prepare_images_command(args: argparse.Namespace) -> int:
    config = from_arguments(PrepareImagesConfig, args)
    if not config.input_dir:
        raise DataError("prepare-images needs --input-dir")
    print(prepare_images(config))
    return 0


# ---------------------------------------------------------------------------------------------------------
# Training set
# ---------------------------------------------------------------------------------------------------------


def crop_offset(rng: np.random.Generator, side: int, crop: int) -> int:
    """The official offset: uniform in ``[0, side − crop)`` (upper bound exclusive); 0 when side == crop."""
    return int(rng.integers(0, side - crop)) if side > crop else 0


class RandomImageCrops(Dataset):
    """One random ``crop × crop`` window of each uint8 RGB image per epoch, no flips, keyed by (epoch, index).

    Returns ``{"clean": (3, crop, crop) float32 in [0, 1]}``, or ``{"noisy": …}`` when ``fixed_noise`` is a
    :class:`NoiseSpec`: then the whole image is noised once, from a generator seeded by ``(seed, index)``, and
    the same window of that fixed noisy copy is returned.
    """

    def __init__(
        self, images: Sequence[np.ndarray], crop: int = 256, seed: int = 0, fixed_noise: NoiseSpec | None = None
    ):
        if crop % 2:
            raise ValueError(f"crop size must be even (the sampler uses 2×2 cells), got {crop}")
        for k, im in enumerate(images):
            if im.ndim != 3 or im.shape[2] != 3 or min(im.shape[:2]) < crop:
                raise DataError(f"image {k} has shape {tuple(im.shape)}; need (H, W, 3) with sides >= {crop}")
        self.images, self.crop, self.seed, self.fixed_noise = images, crop, seed, fixed_noise

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, torch.Tensor]:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        rng = item_rng(self.seed, epoch, index)
        image = self.images[index]
        h, w, _ = image.shape
        y0 = crop_offset(rng, h, self.crop)  # rows first, as the official loader
        x0 = crop_offset(rng, w, self.crop)
        window = (slice(y0, y0 + self.crop), slice(x0, x0 + self.crop))
        if self.fixed_noise is None:
            clean = torch.from_numpy(np.array(image[window], dtype=np.float32) / 255.0)
            return {"clean": clean.permute(2, 0, 1).contiguous()}
        return {"noisy": self.fixed_noisy(index)[:, window[0], window[1]].contiguous()}

    def fixed_noisy(self, index: int) -> torch.Tensor:
        """The one noisy copy of image ``index``, (3, H, W) float32, a pure function of (seed, index)."""
        clean = torch.from_numpy(np.array(self.images[index], dtype=np.float32) / 255.0).permute(2, 0, 1)
        generator = torch.Generator().manual_seed(derive_seed(self.seed, FIXED_NOISE_KEY, index))
        return add_noise(clean[None], self.fixed_noise, generator)[0]


def srgb_training_set(config) -> RandomImageCrops:
    """The training set of a :class:`n2n_raw.train_config.TrainConfig`: ``config.data`` prepared, or embedded photos."""
    if config.data:
        images = load_packed_images(config.data)
    else:
        images = [image for _, image in embedded_photos("train")]
    fixed = parse_noise(config.noise) if config.fixed_noise else None
    return RandomImageCrops(images, crop=config.crop, seed=config.seed, fixed_noise=fixed)
