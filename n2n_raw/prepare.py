"""``n2n-raw prepare-sidd``: cut SIDD-Medium NOISY raw images into training crops.

GT is never read unless asked for (``--kind GT``: clean crops, for training with synthetic SIDD noise).


Recipe of Neighbor2Neighbor's ``dataset_tool_raw.py`` (docs/method.md §7.2): square crops of ``crop_size`` (512)
at stride ``stride`` (256), plus a last crop flush with the bottom/right border, from every
``*_NOISY_RAW_*.MAT`` under ``Data/``. Unlike that tool, each image is first read in MATLAB orientation and
its CFA (metadata tag 33422, else the phone table) is unified to one pattern (RGGB) by BayerUnify's crop
mode (one row and/or column dropped at both ends); crops are cut from the unified image at even offsets, so
every crop starts with the unified pattern. Offsets in ``crops.json`` are relative to the unified image:
add the per-crop ``shift`` (rows, columns dropped at the top/left) for the original image.

Output (read by :func:`n2n_raw.data.bayer_training_set`, memory-mapped)::

    <out>/crops.npy     (N, S, S) float32
    <out>/crops.json    {"pattern", "crop_size", "stride", "crops": [{instance, phone, iso, cfa, frame,
                         offset, shift}, ...], "sources": [{file, bytes, mtime_ns}, ...]}

Running it again with the same sources and settings does nothing; an interrupted run resumes from the last
finished image (``crops.partial.npy`` + ``progress.json``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from . import sidd
from .bayer import check_pattern, pattern_shift, unify_cfa
from .config import add_arguments, arg, check_choices, from_arguments
from .data import PREPARED_ARRAY, PREPARED_INFO
from .errors import DataError

log = logging.getLogger("n2n_raw.prepare")
PARTIAL_ARRAY, PROGRESS = "crops.partial.npy", "progress.json"


@dataclass(frozen=True)
class PrepareConfig:
    sidd_root: str = arg("", "the SIDD_Medium_Raw folder (or its Data folder)")
    out: str = arg("data/prepared", "output folder for crops.npy and crops.json")
    crop_size: int = arg(512, "crop side in Bayer pixels (the official tool: 512)")
    stride: int = arg(256, "distance between crop starts (the official tool: 256)")
    pattern: str = arg("RGGB", "CFA pattern all crops are unified to")
    kind: Literal["NOISY", "GT"] = arg(
        "NOISY",
        "which images to cut: NOISY (self-supervised training) or GT (clean, for training with --synthetic-noise sidd)",
    )
    frames: tuple[str, ...] = arg((), "frames to use, e.g. 010 011 (default: all found)")
    make_demo_if_missing: bool = arg(False, "write the SIDD-mini demo set first when --sidd-root does not exist")

    def __post_init__(self) -> None:
        if not self.sidd_root:
            raise DataError("prepare-sidd needs --sidd-root (the SIDD_Medium_Raw folder)")
        if self.crop_size % 2 or self.stride % 2 or self.crop_size <= 0 or self.stride <= 0:
            raise DataError(
                f"--crop-size and --stride must be positive and even (CFA phase), got {self.crop_size}, {self.stride}"
            )
        check_pattern(self.pattern, "--pattern")
        check_choices(self)


def crop_starts(size: int, crop: int, stride: int) -> list[int]:
    """Starts 0, stride, 2·stride, … plus one flush with the end (all even when the inputs are)."""
    starts = list(range(0, size - crop + 1, stride))
    if starts and starts[-1] != size - crop:
        starts.append(size - crop)
    return starts


def plan(config: PrepareConfig) -> tuple[list[dict], list[dict]]:
    """(per-image jobs, per-crop provenance) without reading any pixels."""
    root = Path(config.sidd_root)
    images = sidd.find_medium_images(root, config.kind, frames=config.frames or None)
    jobs, crops = [], []
    for image in images:
        h, w = sidd.image_shape(image.path)
        if h % 2 or w % 2 or min(h, w) < 2:
            raise DataError(f"{image.path}: a {h}×{w} image; SIDD raw images are Bayer mosaics with even sides")
        cfa = sidd.image_cfa(image)
        dy, dx = pattern_shift(cfa, config.pattern)
        hu, wu = h - 2 * dy, w - 2 * dx  # unified by cropping: one row/column at both ends
        rows, cols = crop_starts(hu, config.crop_size, config.stride), crop_starts(wu, config.crop_size, config.stride)
        if not rows or not cols:
            log.warning("%s: %d×%d is smaller than one %d crop; skipped", image.path, h, w, config.crop_size)
            continue
        st = image.path.stat()
        jobs.append({"file": str(image.path.relative_to(root)), "bytes": st.st_size, "mtime_ns": st.st_mtime_ns,
                     "cfa": cfa, "offsets": [(r, c) for r in rows for c in cols]})  # fmt: skip
        inst = image.instance
        crops += [{"instance": inst.name, "phone": inst.phone, "iso": inst.iso, "cfa": cfa, "frame": image.frame,
                   "offset": [r, c], "shift": [dy, dx]} for r in rows for c in cols]  # fmt: skip
    if not jobs:
        raise DataError(f"{root}: no {config.kind} image is large enough for a {config.crop_size} crop")
    return jobs, crops


def prepare(config: PrepareConfig) -> Path:
    """Write (or resume, or keep) the crops of ``config.sidd_root`` in ``config.out``."""
    from tqdm import tqdm

    root, out = Path(config.sidd_root), Path(config.out)
    if not root.exists() and config.make_demo_if_missing:
        if root.name != "SIDD_Medium_Raw":
            raise DataError(f"{root}: --make-demo-if-missing needs a path ending in SIDD_Medium_Raw")
        from .demo_data import DemoConfig, write_demo

        log.warning(
            "%s not found: generating the SYNTHETIC SIDD-mini demo set (not real SIDD) in %s", root, root.parent
        )
        write_demo(DemoConfig(out=str(root.parent)))
    jobs, crops = plan(config)
    sources = [{k: j[k] for k in ("file", "bytes", "mtime_ns")} for j in jobs]
    signature = {"pattern": check_pattern(config.pattern), "crop_size": config.crop_size, "stride": config.stride,
                 "unify": "crop", "kind": config.kind, "sources": sources}  # fmt: skip
    n, s = len(crops), config.crop_size
    if _is_done(out, signature, n):
        log.info("%s: %d crops already prepared from the same %d images; nothing to do", out, n, len(jobs))
        return out
    out.mkdir(parents=True, exist_ok=True)
    done = _resume_point(out, signature, n)
    if done == 0:
        need = n * s * s * 4
        if shutil.disk_usage(out).free < need:
            raise DataError(f"{out}: {n} crops need {need / 2**30:.1f} GiB, more than the free disk space")
        array = np.lib.format.open_memmap(out / PARTIAL_ARRAY, mode="w+", dtype=np.float32, shape=(n, s, s))
    else:
        log.info("%s: resuming after %d of %d images", out, done, len(jobs))
        array = np.load(out / PARTIAL_ARRAY, mmap_mode="r+")
    k = sum(len(j["offsets"]) for j in jobs[:done])
    for index in tqdm(range(done, len(jobs)), desc="prepare-sidd", unit="image", initial=done, total=len(jobs)):
        job = jobs[index]
        image = unify_cfa(sidd.read_image(root / job["file"]), job["cfa"], config.pattern, mode="crop")
        for r, c in job["offsets"]:
            array[k] = image[r : r + s, c : c + s]
            k += 1
        array.flush()  # the progress file below must never claim crops that are not on disk
        _write_json(out / PROGRESS, {"signature": signature, "done": index + 1})
    del array
    (out / PREPARED_INFO).unlink(missing_ok=True)  # the old description must not pair with the new array
    os.replace(out / PARTIAL_ARRAY, out / PREPARED_ARRAY)
    _write_json(out / PREPARED_INFO, {**signature, "crops": crops, "sidd_root": str(root.resolve())})
    (out / PROGRESS).unlink(missing_ok=True)
    log.info("%s: %d crops of %d×%d (CFA %s) from %d images", out, n, s, s, config.pattern, len(jobs))
    return out


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _is_done(out: Path, signature: dict, n: int) -> bool:
    try:
        info = json.loads((out / PREPARED_INFO).read_text())
        shape = np.load(out / PREPARED_ARRAY, mmap_mode="r").shape
    except (OSError, ValueError):
        return False
    return all(info.get(k) == v for k, v in signature.items()) and shape[0] == n


def _resume_point(out: Path, signature: dict, n: int) -> int:
    try:
        progress = json.loads((out / PROGRESS).read_text())
        shape = np.load(out / PARTIAL_ARRAY, mmap_mode="r").shape
    except (OSError, ValueError):
        return 0
    return int(progress["done"]) if progress.get("signature") == signature and shape[0] == n else 0


def prepare_arguments(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser, PrepareConfig)


def prepare_command(args: argparse.Namespace) -> int:
    prepare(from_arguments(PrepareConfig, args))
    return 0
