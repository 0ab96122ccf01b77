"""Reading the Smartphone Image Denoising Dataset (SIDD), raw-RGB part.

Expected layout (``SIDD_ROOT`` is the ``SIDD_Medium_Raw`` folder; the block files sit in its parent)::

    <parent>/
      ValidationNoisyBlocksRaw.mat      v5, variable = stem, (I, 32, 256, 256) float32, MATLAB orientation
      ValidationGtBlocksRaw.mat         v5, same shape (clean counterpart)
      BenchmarkNoisyBlocksRaw.mat       v5, same shape, no public clean counterpart
      blocks_info.json                  optional (the demo set writes it): instance name of each block image
      SIDD_Medium_Raw/
        Scene_Instances.txt
        noise_level_functions.csv       (optional)
        Data/<iiii>_<sss>_<PP>_<ISO>_<shutter>_<temperature>_<L|N|H>/
          <iiii>_NOISY_RAW_010.MAT      v7.3 (HDF5), variable x, (H, W) float32 in [0, 1]; also _011
          <iiii>_GT_RAW_010.MAT         same, clean estimate
          <iiii>_METADATA_RAW_010.MAT   v5, variable metadata = MATLAB imfinfo of the DNG

Un-prefixed names (``NOISY_RAW_010.MAT``) are accepted too, and ``.MAT`` matches case-insensitively.

Conventions (see ``docs/sidd.md``): every array is returned in **MATLAB orientation** (H × W, the sensor
raster, landscape); h5py's transposed view of v7.3 files is undone in :mod:`n2n_raw.matfile`. CFA names are
the top-left 2×2 read row-major in that orientation (S6 is GRBG; its h5py view would read GBRG). Images and
blocks are sanitised on load: NaN → 0, values clipped to [0, 1], with one warning per file counting them.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .bayer import check_pattern
from .errors import DataError
from .matfile import mat_format, read_mat
from .sidd_metadata import TAG_CFA_PATTERN, TAG_NOISE_PROFILE, RawMetadata, read_metadata  # noqa: F401 - part of this module's interface

log = logging.getLogger("n2n_raw.sidd")

PHONES = {
    "GP": "Google Pixel",
    "IP": "iPhone 7",
    "S6": "Samsung Galaxy S6 Edge",
    "N6": "Motorola Nexus 6",
    "G4": "LG G4",
}
VALIDATION_NOISY = "ValidationNoisyBlocksRaw.mat"
VALIDATION_CLEAN = "ValidationGtBlocksRaw.mat"
BENCHMARK_NOISY = "BenchmarkNoisyBlocksRaw.mat"
BENCHMARK_CLEAN_DEMO = "BenchmarkGtBlocksRaw_DEMO_ONLY.mat"  # exists only in the generated demo set
BLOCKS_INFO = "blocks_info.json"
SPLITS = {"validation": (VALIDATION_NOISY, VALIDATION_CLEAN), "benchmark": (BENCHMARK_NOISY, BENCHMARK_CLEAN_DEMO)}
_FILE_NAME = re.compile(r"^(?:(\d{4})_)?(NOISY|GT|METADATA)_RAW_(\d{3})\.mat$", re.IGNORECASE)
_INSTANCE_NAME = re.compile(r"^(\d{4})_(\d{3})_([A-Z0-9]{2})_(\d{5})_(\d{5})_(\d{4})_([LNH])$")


# Packaged tables (copied unchanged from the SIDD website; see n2n_raw/resources/README.md)


def _resource_rows(name: str) -> list[dict[str, str]]:
    text = resources.files("n2n_raw.resources").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def bayer_patterns() -> dict[str, str]:
    """Phone code → CFA pattern in MATLAB orientation (``bayer_patterns.csv``)."""
    return {
        r["camera_id"].strip(): check_pattern(r["bayer_pattern"].strip())
        for r in _resource_rows("sidd_bayer_patterns.csv")
    }


def noise_level_functions() -> dict[str, dict[str, tuple[float, float]]]:
    """Scene instance → {"r"|"g"|"b": (beta1, beta2)}: noise *variance* = beta1·x + beta2."""
    rows = _resource_rows("sidd_noise_level_functions.csv")
    return {r["scene_instance_id"]: {c: (float(r[f"beta1_{c}"]), float(r[f"beta2_{c}"])) for c in "rgb"} for r in rows}


def benchmark_instances() -> list[str]:
    """The 40 benchmark scene instances in sorted order: image i of the benchmark block file is entry i."""
    return [
        r["scene_instance_id"]
        for r in sorted(_resource_rows("sidd_benchmark_instances.csv"), key=lambda r: int(r["index"]))
    ]


# Scene instances and Medium files


@dataclass(frozen=True)
class SceneInstance:
    """A parsed scene-instance name ``<instance>_<scene>_<phone>_<ISO>_<shutter>_<temperature>_<brightness>``.

    ``shutter`` is the exposure-time denominator (``00060`` = 1/60 s); ``brightness`` is L, N or H.
    """

    name: str
    instance: int
    scene: int
    phone: str
    iso: int
    shutter: int
    temperature: int
    brightness: str

    @classmethod
    def parse(cls, name: str) -> SceneInstance:
        match = _INSTANCE_NAME.match(str(name))
        if not match:
            raise DataError(f"{name}: not a SIDD scene-instance name (expected e.g. 0052_002_S6_01600_01000_5500_N)")
        inst, scene, phone, iso, shutter, temp, bright = match.groups()
        if phone not in PHONES:
            raise DataError(f"{name}: unknown phone code {phone!r} (known: {', '.join(PHONES)})")
        return cls(name, int(inst), int(scene), phone, int(iso), int(shutter), int(temp), bright)

    @property
    def cfa(self) -> str:
        """The phone's CFA pattern, MATLAB orientation, from the packaged ``bayer_patterns.csv``."""
        return bayer_patterns()[self.phone]


@dataclass(frozen=True)
class MediumImage:
    """One SIDD-Medium raw file: ``kind`` is NOISY, GT or METADATA; ``frame`` the 3-digit frame ("010")."""

    path: Path
    instance: SceneInstance
    kind: str
    frame: str


def data_folder(root: str | os.PathLike) -> Path:
    """``root/Data`` when ``root`` is ``SIDD_Medium_Raw``; ``root`` itself when it already is ``Data``."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: SIDD folder not found")
    return root / "Data" if (root / "Data").is_dir() else root


def find_medium_images(
    root: str | os.PathLike, kind: str = "NOISY", frames: tuple[str, ...] | None = None
) -> list[MediumImage]:
    """All ``kind`` files under ``root`` (``SIDD_Medium_Raw`` or its ``Data``), sorted by instance and frame."""
    kind = kind.upper()
    data = data_folder(root)
    found = []
    for folder in sorted(p for p in data.iterdir() if p.is_dir()):
        files = [(p, _FILE_NAME.match(p.name)) for p in sorted(folder.iterdir()) if p.is_file()]
        files = [(p, m) for p, m in files if m and m.group(2).upper() == kind and (not frames or m.group(3) in frames)]
        if not files:
            continue
        try:
            instance = SceneInstance.parse(folder.name)
        except DataError as exc:
            raise DataError(f"{folder.parent}/{exc}") from None  # the message starts with the folder name
        for path, match in files:
            prefix = match.group(1)
            if prefix is not None and int(prefix) != instance.instance:
                raise DataError(
                    f"{path}: file number {prefix} does not match its folder's instance {instance.instance:04d}"
                )
            found.append(MediumImage(path, instance, kind, match.group(3)))
    if not found:
        raise DataError(f"{data}: no SIDD {kind}_RAW_<frame>.MAT files found (expected Data/<scene-instance>/...)")
    return found


def companion(image: MediumImage, kind: str) -> Path | None:
    """The file of another ``kind`` for the same instance and frame (prefixed or not), or None."""
    for path in sorted(image.path.parent.iterdir()):
        match = _FILE_NAME.match(path.name)
        if match and match.group(2).upper() == kind.upper() and match.group(3) == image.frame:
            return path
    return None


# Arrays: full images and block files


_warned: set[str] = set()


def sanitise(array: np.ndarray, source: str | os.PathLike) -> np.ndarray:
    """NaN → 0 and clip to [0, 1] (in the array's dtype); warn once per ``source`` with the counts.

    Integer data are refused: SIDD's raw files hold black-subtracted floats in [0, 1] (docs/sidd.md §2.2), and
    integer sensor counts read as such would score or train at a scale thousands of times off.
    """
    if not np.issubdtype(array.dtype, np.floating):
        raise DataError(
            f"{source}: values are {array.dtype}; SIDD raw data are floats in [0, 1] "
            "(subtract the black level and divide by white − black first)"
        )
    nan = np.isnan(array)
    n_nan = int(nan.sum())
    n_out = int(np.count_nonzero((array < 0) | (array > 1)))
    if n_nan or n_out:
        array = np.clip(np.where(nan, array.dtype.type(0), array), 0, 1).astype(array.dtype, copy=False)
        if str(source) not in _warned:
            _warned.add(str(source))
            log.warning("%s: replaced %d NaN values by 0 and clipped %d values to [0, 1]", source, n_nan, n_out)
    return array


def read_image(path: str | os.PathLike) -> np.ndarray:
    """A full SIDD raw image (variable ``x``), sanitised, MATLAB orientation (H, W), in the file's dtype."""
    path = Path(path)
    x = read_mat(path, "x")
    if x.ndim != 2 or x.shape[0] % 2 or x.shape[1] % 2 or min(x.shape) < 2:
        raise DataError(f"{path}: expected a 2-D Bayer mosaic with even sides, got shape {x.shape}")
    return sanitise(x, path)


def image_shape(path: str | os.PathLike) -> tuple[int, int]:
    """(H, W) of a full image in MATLAB orientation, read from the v7.3 header without loading pixels."""
    import h5py

    path = Path(path)
    if mat_format(path) == "v5":
        return read_image(path).shape  # type: ignore[return-value]
    try:
        with h5py.File(path, "r") as fh:
            shape = fh["x"].shape if "x" in fh else None
    except OSError as exc:
        raise DataError(f"{path}: unreadable HDF5/MAT v7.3 file ({exc})") from None
    if shape is None or len(shape) != 2:
        raise DataError(f"{path}: expected a 2-D variable 'x', found {shape}")
    return shape[1], shape[0]  # h5py sees MATLAB's column-major (H, W) as (W, H)


def read_blocks(path: str | os.PathLike) -> np.ndarray:
    """A SIDD block file: the variable named like the file stem, 4-D (images, blocks, H, W), sanitised."""
    path = Path(path)
    blocks = read_mat(path, path.stem)
    if blocks.ndim != 4:
        raise DataError(f"{path}: expected 4-D (images, blocks, height, width) blocks, got shape {blocks.shape}")
    if blocks.shape[2] % 2 or blocks.shape[3] % 2 or min(blocks.shape) < 1:
        raise DataError(f"{path}: blocks of {blocks.shape[2]}×{blocks.shape[3]} pixels; Bayer blocks need even sides")
    return sanitise(blocks, path)


@dataclass
class BlockSet:
    """Validation or benchmark blocks: ``noisy`` (I, B, H, W) in the file's dtype, MATLAB orientation."""

    noisy: np.ndarray
    clean: np.ndarray | None
    patterns: list[str]
    instances: list[SceneInstance | None]
    noisy_path: Path
    clean_path: Path | None


def load_block_set(
    blocks_dir: str | os.PathLike,
    split: str = "validation",
    patterns: list[str] | None = None,
    require_clean: bool = False,
) -> BlockSet:
    """The ``split`` ("validation" or "benchmark") blocks of ``blocks_dir`` with each image's CFA.

    Image order: ``patterns`` (explicit, one per image) overrides everything; else ``blocks_info.json`` names
    the instance of each image (the demo set writes it); else the 40 benchmark instances in sorted order
    (docs/sidd.md Appendix A) — official for the benchmark file, an assumption for the validation file.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    blocks_dir = Path(blocks_dir)
    noisy_name, clean_name = SPLITS[split]
    noisy_path = blocks_dir / noisy_name
    if not noisy_path.is_file():
        raise DataError(f"{noisy_path}: {split} block file not found")
    noisy = read_blocks(noisy_path)
    clean_path = blocks_dir / clean_name if (blocks_dir / clean_name).is_file() else None
    if clean_path is None and require_clean:
        raise DataError(f"{blocks_dir / clean_name}: clean {split} blocks not found")
    clean = read_blocks(clean_path) if clean_path is not None else None
    if clean is not None and clean.shape != noisy.shape:
        raise DataError(f"{clean_path}: shape {clean.shape} differs from {noisy_path.name} {noisy.shape}")
    n = noisy.shape[0]
    instances = _block_instances(blocks_dir, split, n, noisy_path, explicit=patterns is not None)
    if patterns is not None:
        if len(patterns) != n:
            raise DataError(f"{noisy_path}: {n} images but {len(patterns)} CFA patterns were given")
        pats = [check_pattern(p, "--patterns") for p in patterns]
    else:
        pats = [inst.cfa for inst in instances]  # type: ignore[union-attr]
    return BlockSet(noisy, clean, pats, instances, noisy_path, clean_path)


def _block_instances(
    blocks_dir: Path, split: str, n: int, noisy_path: Path, explicit: bool
) -> list[SceneInstance | None]:
    info_path = blocks_dir / BLOCKS_INFO
    if info_path.is_file():
        try:
            names = json.loads(info_path.read_text())[split]
        except (ValueError, KeyError, TypeError) as exc:
            raise DataError(f"{info_path}: no list of {split} instances ({type(exc).__name__}: {exc})") from None
        if len(names) != n:
            raise DataError(f"{info_path}: lists {len(names)} {split} instances but {noisy_path.name} has {n} images")
        try:
            return [SceneInstance.parse(str(name)) for name in names]
        except DataError as exc:
            raise DataError(f"{info_path}: {exc}") from None
    if n != 40:
        if explicit:
            return [None] * n
        raise DataError(
            f"{noisy_path}: {n} images, not SIDD's 40, and no {BLOCKS_INFO}: give the CFA of each image explicitly"
        )
    if split == "validation" and not explicit:
        log.info("%s: assuming validation image i is benchmark instance i in sorted order (unconfirmed)", noisy_path)
    return [SceneInstance.parse(name) for name in benchmark_instances()]


def image_cfa(image: MediumImage) -> str:
    """CFA of a Medium image: from its metadata file (tag 33422), else the phone table (logged)."""
    meta_path = companion(image, "METADATA")
    table = image.instance.cfa
    if meta_path is None:
        log.info("%s: no metadata file; CFA %s from the per-phone table (%s)", image.path, table, image.instance.phone)
        return table
    cfa = read_metadata(meta_path).cfa
    if cfa is None:
        raise DataError(f"{meta_path}: no CFAPattern tag (33422) in the metadata or its SubIFDs")
    if cfa != table:
        log.warning(
            "%s: metadata CFA %s differs from the %s table's %s; using the metadata",
            meta_path,
            cfa,
            image.instance.phone,
            table,
        )
    return cfa
