"""``n2n-raw make-demo-data``: "SIDD-mini", a small synthetic data set in SIDD's exact layout and formats.

Real SIDD cannot ship with the package, yet ``make train-sidd`` must run on a fresh machine and exercise the
very code that reads SIDD. This module turns real photographs shipped inside scikit-image into linear raw
mosaics by unprocessing (:mod:`n2n_raw.unprocess`), gives each capture the name of a real SIDD-Medium scene
instance (phone, ISO) and adds noise with that capture's measured noise level function. It writes::

    <out>/
      SIDD_Medium_Raw/
        Data/<scene-instance>/<iiii>_{NOISY,GT,METADATA}_RAW_{010,011}.MAT   (training photos only)
        Scene_Instances.txt, noise_level_functions.csv
      ValidationNoisyBlocksRaw.mat, ValidationGtBlocksRaw.mat                (held-out photos)
      BenchmarkNoisyBlocksRaw.mat, BenchmarkGtBlocksRaw_DEMO_ONLY.mat        (other held-out photos)
      blocks_info.json, README.txt, MANIFEST.json

Photos are split into training / validation / benchmark by photo, never shared. Everything is a pure
function of the configuration (seed included); a second run with the same configuration does nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import sidd
from .bayer import cfa_colours
from .config import add_arguments, arg, from_arguments
from .errors import DataError
from .matfile import write_mat73
from .unprocess import LEVELS, CameraParams, add_sidd_noise, mosaic, random_camera, unprocess

log = logging.getLogger("n2n_raw.demo_data")

# Photos of scikit-image's data module, by split (grey ones become neutral-coloured scenes).
# stereo_motorcycle's two views show one scene, so both stay in one split.
PHOTOS = {
    "train": (
        "astronaut",
        "hubble_deep_field",
        "immunohistochemistry",
        "retina",
        "colorwheel",
        "camera",
        "brick",
        "gravel",
    ),
    "validation": ("rocket", "stereo_motorcycle_left", "stereo_motorcycle_right"),
    "benchmark": ("coffee", "chelsea", "grass"),
}
MANIFEST = "MANIFEST.json"
FORMAT_VERSION = 1
MAKES = {
    "GP": ("Google", "Pixel"),
    "IP": ("Apple", "iPhone 7"),
    "S6": ("samsung", "SM-G925I"),
    "N6": ("motorola", "Nexus 6"),
    "G4": ("LGE", "LG-H815"),
}


@dataclass(frozen=True)
class DemoConfig:
    """Size and seed of the demo set (the defaults: about 250 MB, well under a minute on 2 cores)."""

    out: str = arg("data/sidd-mini", "output folder (the parent of SIDD_Medium_Raw, holding the block files)")
    seed: int = arg(0, "seed of every random choice (instances, camera, noise, block positions)")
    train_captures: int = arg(12, "training scene instances (2 noisy frames each) in SIDD_Medium_Raw/Data")
    validation_images: int = arg(5, "images in the validation block files")
    benchmark_images: int = arg(5, "images in the benchmark block files")
    min_iso: int = arg(1600, "draw captures at ISO >= this (a phone with fewer: its noisiest); 0 = any ISO")
    blocks_per_image: int = arg(32, "blocks per image (SIDD: 32)")
    block_size: int = arg(256, "block side in Bayer pixels (SIDD: 256)")
    short_side: int = arg(640, "photos are resized to this short side (Bayer pixels)")
    max_side: int = arg(1024, "... and at most this long side")
    force: bool = arg(False, "replace an existing output folder made with other settings")

    def __post_init__(self) -> None:
        if self.block_size % 2 or self.short_side < self.block_size or self.max_side < self.short_side:
            raise DataError(f"demo sizes must satisfy block_size even <= short_side <= max_side, got {self}")
        if min(self.train_captures, self.validation_images, self.benchmark_images, self.blocks_per_image) < 1:
            raise DataError("demo counts (captures, images, blocks) must be at least 1")

    def recipe(self) -> dict:
        """What determines the files (everything but where they go)."""
        return {k: v for k, v in asdict(self).items() if k not in ("out", "force")} | {"format": FORMAT_VERSION}


def load_photo(name: str, short_side: int, max_side: int) -> np.ndarray:
    """A scikit-image photo as float (H, W, 3) in [0, 1], resized to the requested sides (both even)."""
    import skimage.data
    import skimage.transform

    if name.startswith("stereo_motorcycle"):
        image = skimage.data.stereo_motorcycle()[0 if name.endswith("left") else 1]
    else:
        image = getattr(skimage.data, name)()
    image = image.astype(np.float64) / 255.0
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    h, w = image.shape[:2]
    scale = min(short_side / min(h, w), max_side / max(h, w))
    size = (2 * round(h * scale / 2), 2 * round(w * scale / 2))
    return np.clip(skimage.transform.resize(image[..., :3], size, order=1, anti_aliasing=scale < 1), 0.0, 1.0)


def assign_instances(config: DemoConfig) -> dict[str, list[str]]:
    """A distinct real SIDD-Medium instance (hence phone, ISO and NLF) per capture, phones taken in turn.

    Only captures at ISO >= ``min_iso`` are drawn (for a phone with fewer, its noisiest ones): a network
    trained for a few CPU minutes cannot improve on the cleanest, low-ISO captures, whose noisy PSNR is
    already above what it reaches (README.md). ``min_iso=0`` draws from every instance.
    """
    rng = np.random.default_rng((config.seed, 1))
    nlf = sidd.noise_level_functions()
    names = sorted(nlf)
    phones = list(rng.permutation(list(sidd.PHONES)))
    counts = {
        "train": config.train_captures,
        "validation": config.validation_images,
        "benchmark": config.benchmark_images,
    }
    order = [(split, phones[k % len(phones)]) for k, split in enumerate(s for s, c in counts.items() for _ in range(c))]
    pools = {}
    for phone in sidd.PHONES:
        mine = [n for n in names if n[9:11] == phone]
        need = sum(1 for _, p in order if p == phone)
        pool = [n for n in mine if sidd.SceneInstance.parse(n).iso >= config.min_iso]
        if len(pool) < need:  # e.g. G4 stops at ISO 800: take the phone's noisiest captures instead
            pool = sorted(sorted(mine, key=lambda n: -nlf[n]["g"][0])[:need])
        pools[phone] = pool
    out: dict[str, list[str]] = {split: [] for split in counts}
    for split, phone in order:
        pool = pools[phone]
        out[split].append(pool.pop(int(rng.integers(len(pool)))))
    return out


def metadata_struct(instance: sidd.SceneInstance, nlf: dict, camera: CameraParams, shape: tuple[int, int]) -> dict:
    """MATLAB ``imfinfo``-like metadata as SIDD stores it; iPhone files keep the raw tags under ``SubIFDs``."""
    tags = np.zeros((8, 1), dtype=[("ID", object), ("Offset", object), ("Value", object)])
    ids = [33421, 33422, 37398, 50964, 50965, 51009, 51022, 51041]
    if instance.phone == "IP":  # NoiseProfile second to last on the iPhone (docs/sidd.md §3.3)
        ids[-2:] = ids[-1], ids[-2]
    values = {
        33421: np.array([[2, 2]], np.uint16),
        33422: cfa_colours(instance.cfa).reshape(1, 4),
        51041: np.array([[v for c in "rgb" for v in nlf[c]]]),
    }
    for k, tag in enumerate(ids):
        tags[k, 0] = (np.array([[float(tag)]]), np.array([[float(4096 + 64 * k)]]), values.get(tag, np.zeros((1, 0))))
    iso = np.array([[instance.iso]], np.uint8 if instance.iso < 256 else np.uint16)
    exposure = np.array([[1.0 / instance.shutter]])
    raw = {
        "Width": np.array([[float(shape[1])]]), "Height": np.array([[float(shape[0])]]), "BitDepth": np.array([[16.0]]),
        "BlackLevel": np.zeros((1, 4)), "WhiteLevel": np.array([[float(LEVELS)]]), "UnknownTags": tags,
    }  # fmt: skip
    make, model = MAKES[instance.phone]
    top = {
        "Filename": f"D:\\_New_Dataset\\{instance.name}\\DNG\\DEMO.DNG", "Make": make, "Model": model,
        "Software": "n2n_raw make-demo-data (synthetic)", "AsShotNeutral": np.array([camera.as_shot_neutral]),
    }  # fmt: skip
    if instance.phone == "IP":
        sub = np.empty((1, 1), dtype=object)
        sub[0, 0] = raw
        top |= {
            "BitDepth": np.array([[8.0]]),
            "SubIFDs": sub,
            "DigitalCamera": {"ISOSpeedRatings": iso, "ExposureTime": exposure},
        }
    else:
        top |= {"ISOSpeedRatings": iso, "ExposureTime": exposure, **raw}
    return top


def make_capture(name: str, photo: np.ndarray, nlf: dict, rng: np.random.Generator, frames: int):
    """(clean mosaic, [noisy frames], camera) of one capture, in the phone's native CFA."""
    instance = sidd.SceneInstance.parse(name)
    camera = random_camera(rng)
    clean = mosaic(unprocess(photo, camera), instance.cfa).astype(np.float32)
    return clean, [add_sidd_noise(clean, instance.cfa, nlf, rng) for _ in range(frames)], camera


def write_demo(config: DemoConfig) -> Path:
    """Write the demo set to ``config.out`` (no-op when an identical one is already there)."""
    out = Path(config.out)
    manifest = out / MANIFEST
    if manifest.is_file():
        try:
            recipe = json.loads(manifest.read_text()).get("recipe")
        except ValueError:
            recipe = None
        if recipe == config.recipe():
            log.warning("%s: the SYNTHETIC SIDD-mini demo set (not real SIDD) is already there; nothing to do", out)
            return out
        if not config.force:
            raise DataError(f"{out}: holds a demo set made with other settings; pass --force to replace it")
    elif out.exists() and any(out.iterdir()) and not config.force:
        raise DataError(f"{out}: exists and is not a demo set made by make-demo-data; choose another --out or --force")
    start = time.time()
    log.warning("writing SIDD-mini to %s: SYNTHETIC demo data from scikit-image photos, not the real SIDD", out)
    tmp = out.with_name(f"{out.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _write_all(config, tmp)
        files = {str(p.relative_to(tmp)): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()}
        (tmp / MANIFEST).write_text(json.dumps({"recipe": config.recipe(), "files": files}, indent=1))
        if out.exists():  # --force: swap in the new set, then delete the old one
            old = out.with_name(f"{out.name}.old-{os.getpid()}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    size = sum(files.values()) / 2**20
    log.info("SIDD-mini written to %s in %.1f s (%.0f MB)", out, time.time() - start, size)
    return out


def _write_all(config: DemoConfig, root: Path) -> None:
    import scipy.io
    from tqdm import tqdm

    nlfs = sidd.noise_level_functions()
    instances = assign_instances(config)
    medium = root / "SIDD_Medium_Raw"
    data = medium / "Data"
    data.mkdir(parents=True)
    photos: dict[str, np.ndarray] = {}

    def photo(split: str, k: int) -> tuple[str, np.ndarray]:
        name = PHOTOS[split][k % len(PHOTOS[split])]
        if name not in photos:
            photos[name] = load_photo(name, config.short_side, config.max_side)
        return name, photos[name]

    sources: dict[str, str] = {}
    jobs = [(s, k, n) for s in ("train", "validation", "benchmark") for k, n in enumerate(instances[s])]
    blocks: dict[str, tuple[list, list, list]] = {"validation": ([], [], []), "benchmark": ([], [], [])}
    for split, k, name in tqdm(jobs, desc="SIDD-mini", unit="capture"):
        rng = np.random.default_rng((config.seed, 2, ("train", "validation", "benchmark").index(split), k))
        photo_name, image = photo(split, k)
        sources[name] = photo_name
        clean, noisy, camera = make_capture(name, image, nlfs[name], rng, frames=2 if split == "train" else 1)
        if split == "train":
            folder = data / name
            folder.mkdir()
            meta = metadata_struct(sidd.SceneInstance.parse(name), nlfs[name], camera, clean.shape)
            for frame, noisy_frame in zip(("010", "011"), noisy):
                write_mat73(folder / f"{name[:4]}_NOISY_RAW_{frame}.MAT", {"x": noisy_frame})
                write_mat73(folder / f"{name[:4]}_GT_RAW_{frame}.MAT", {"x": clean})
                scipy.io.savemat(
                    folder / f"{name[:4]}_METADATA_RAW_{frame}.MAT", {"metadata": meta}, do_compression=True
                )
            continue
        b, (h, w) = config.block_size, clean.shape
        # Even 0-based starts keep each block in its image's native CFA phase, as SIDD's blocks do.
        starts = [
            (2 * int(rng.integers((h - b) // 2 + 1)), 2 * int(rng.integers((w - b) // 2 + 1)))
            for _ in range(config.blocks_per_image)
        ]
        noisy_list, clean_list, positions = blocks[split]
        noisy_list.append(np.stack([noisy[0][r : r + b, c : c + b] for r, c in starts]))
        clean_list.append(np.stack([clean[r : r + b, c : c + b] for r, c in starts]))
        positions.append(starts)

    for split, (noisy_name, clean_name) in sidd.SPLITS.items():
        noisy_list, clean_list, _ = blocks[split]
        scipy.io.savemat(root / noisy_name, {Path(noisy_name).stem: np.stack(noisy_list)})
        scipy.io.savemat(root / clean_name, {Path(clean_name).stem: np.stack(clean_list)})
    info = {
        "validation": instances["validation"],
        "benchmark": instances["benchmark"],
        "block_positions": {s: blocks[s][2] for s in blocks},  # 0-based (row, col) starts
        "photos": sources,
        "note": "SIDD-mini demo set: synthetic captures from scikit-image photos with real SIDD noise levels",
    }
    (root / sidd.BLOCKS_INFO).write_text(json.dumps(info, indent=1))
    (medium / "Scene_Instances.txt").write_text("\n".join(sorted(instances["train"])) + "\n")
    with (medium / "noise_level_functions.csv").open("wb") as fh:
        fh.write((Path(sidd.__file__).parent / "resources" / "sidd_noise_level_functions.csv").read_bytes())
    (root / "README.txt").write_text(README.format(config=json.dumps(config.recipe())))


README = """SIDD-mini: a SYNTHETIC demo data set in the layout and file formats of SIDD (raw-RGB), written by
`n2n-raw make-demo-data`. It is not the Smartphone Image Denoising Dataset and its numbers are not
comparable with SIDD results. See data/README.md of n2n_raw for how it is made.

Clean images: photos shipped with scikit-image, unprocessed to linear raw (Brooks et al., CVPR 2019).
Noise: each capture is named after a real SIDD-Medium scene instance and gets that instance's measured noise
level function (variance beta1*x + beta2, shot noise as scaled Poisson plus Gaussian read noise), quantised
to 1/1023 and clipped to [0, 1]. blocks_info.json names the instance of every block image, and
BenchmarkGtBlocksRaw_DEMO_ONLY.mat exists only here (SIDD keeps its benchmark ground truth private).

Settings: {config}
"""


def demo_arguments(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser, DemoConfig)


def demo_command(args: argparse.Namespace) -> int:
    write_demo(from_arguments(DemoConfig, args))
    return 0
