"""``n2n-raw prepare-raw PHOTO_OR_FOLDER... --out data/prepared/NAME``: a user's own noisy raw photos as
training crops, in the format ``prepare-sidd`` writes, so that ``n2n-raw train --data`` reads them unchanged.

Any Bayer raw that LibRaw opens (DNG, ARW, NEF, CR2, RW2, ORF, PEF, Bayer RAF, …), cameras mixed freely.
Each photo is read as ``n2n-raw denoise`` reads it (:func:`n2n_raw.rawphoto.read_raw`): black subtracted
and scaled by white − black per CFA position, **not clipped** (values below black keep the read noise
zero-mean; :func:`n2n_raw.rawphoto.normalise` says why; ``denoise`` treats photos the same way), unified to
one CFA pattern by BayerUnify's crop, and cut into ``crop_size`` squares at even offsets, ``stride`` apart.

Files that are not Bayer raw, unreadable or smaller than one crop are reported one line each and
**skipped**; the run fails only if no photo is usable. Each photo's crops are kept in ``parts/`` as soon as
it is done, so an interrupted run resumes with the next photo, and a second run over the same files and
settings does nothing. ``crops.json`` records, per photo, its camera, ISO, exposure, CFA pattern and levels.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_write, atomic_write_text
from .bayer import check_pattern, pattern_shift, unify_cfa
from .config import add_arguments, arg, from_arguments
from .data import PREPARED_ARRAY, PREPARED_INFO
from .errors import DataError
from .prepare import crop_starts

log = logging.getLogger("n2n_raw.prepare_raw")
RAW_SUFFIXES = (".dng", ".arw", ".nef", ".nrw", ".cr2", ".cr3", ".crw", ".rw2", ".orf", ".pef", ".raf", ".srw",
                ".3fr", ".erf", ".kdc", ".mef", ".mos", ".mrw", ".raw", ".rwl", ".iiq", ".x3f", ".sr2", ".srf")  # fmt: skip
PARTS = "parts"


@dataclass(frozen=True)
class PrepareRawConfig:
    out: str = arg("", "output folder (crops.npy, crops.json), e.g. data/prepared/my-camera")
    crop_size: int = arg(512, "crop side in Bayer pixels (as prepare-sidd)")
    stride: int = arg(512, "distance between crop starts (crop size: no overlap)")
    pattern: str = arg("RGGB", "CFA pattern all crops are unified to")

    def __post_init__(self) -> None:
        if not self.out:
            raise DataError("prepare-raw needs --out (a folder for the crops)")
        if self.crop_size <= 0 or self.stride <= 0 or self.crop_size % 2 or self.stride % 2:
            raise DataError(
                f"--crop-size and --stride must be positive and even (CFA phase), got {self.crop_size}, {self.stride}"
            )
        check_pattern(self.pattern, "--pattern")


def find_photos(inputs: list[str]) -> list[Path]:
    """Raw files named or found (recursively, by suffix) under the inputs, sorted, without duplicates."""
    found: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found += sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in RAW_SUFFIXES)
        elif p.is_file():
            found.append(p)
        else:
            log.warning("%s: not found; skipped", p)
    unique = list(dict.fromkeys(q.resolve() for q in found))
    if not unique:
        raise DataError(f"{', '.join(inputs)}: no raw photos found (looked for {', '.join(RAW_SUFFIXES[:8])}, …)")
    return unique


def _photo_info(path: Path, photo) -> dict:
    from .rawphoto import _source_tags

    tags = {t[0]: t[3] for t in _source_tags(path)[0]}
    exposure = tags.get(33434)
    return {"file": str(path), "bytes": path.stat().st_size, "mtime_ns": path.stat().st_mtime_ns,
            "camera": " ".join(str(tags[k]).strip() for k in (271, 272) if k in tags) or "unknown",
            "iso": tags.get(34855), "exposure_s": exposure[0] / exposure[1] if isinstance(exposure, tuple) and exposure[1] else None,
            "pattern": photo.pattern, "black": photo.black.ravel().tolist(), "white": photo.white,
            "size": list(photo.raw.shape)}  # fmt: skip


def cut_photo(path: Path, config: PrepareRawConfig) -> tuple[np.ndarray, dict]:
    """(crops (N, S, S) float32, photo record) of one raw file; DataError if it cannot give any crop."""
    from .rawphoto import normalise, read_raw

    photo = read_raw(path)
    x = normalise(photo)
    x = x[: x.shape[0] - x.shape[0] % 2, : x.shape[1] - x.shape[1] % 2]
    image = unify_cfa(x, photo.pattern, config.pattern, mode="crop")
    rows = crop_starts(image.shape[0], config.crop_size, config.stride)
    cols = crop_starts(image.shape[1], config.crop_size, config.stride)
    if not rows or not cols:
        raise DataError(f"{path}: {x.shape[0]}×{x.shape[1]} is smaller than one {config.crop_size} crop")
    s = config.crop_size
    crops = np.stack([image[r : r + s, c : c + s] for r in rows for c in cols]).astype(np.float32)
    info = _photo_info(path, photo)
    info["shift"] = list(pattern_shift(photo.pattern, config.pattern))
    info["offsets"] = [[r, c] for r in rows for c in cols]
    return crops, info


def _signature(config: PrepareRawConfig, sources: list[dict]) -> dict:
    return {"pattern": config.pattern, "crop_size": config.crop_size, "stride": config.stride, "unify": "crop",
            "kind": "NOISY", "levels": "unclipped", "sources": sources}  # fmt: skip


def prepare_raw(inputs: list[str], config: PrepareRawConfig) -> Path:
    """Write (or resume, or keep) the crops of the photos in ``inputs``; returns the output folder."""
    from tqdm import tqdm

    out = Path(config.out)
    photos = find_photos(inputs)
    sources = [{"file": str(p), "bytes": p.stat().st_size, "mtime_ns": p.stat().st_mtime_ns} for p in photos]
    signature = _signature(config, sources)
    try:
        if {k: v for k, v in json.loads((out / PREPARED_INFO).read_text()).items() if k in signature} == signature:
            log.info("%s: already prepared from the same %d files; nothing to do", out, len(photos))
            return out
    except (OSError, ValueError):
        pass
    parts = out / PARTS
    parts.mkdir(parents=True, exist_ok=True)
    records, skipped = [], []
    for k, path in enumerate(tqdm(photos, desc="prepare-raw", unit="photo")):
        part, meta = parts / f"{k:05d}.npy", parts / f"{k:05d}.json"
        source = sources[k]
        try:
            done = json.loads(meta.read_text())
            if {key: done.get(key) for key in source} == source and part.is_file():
                records.append(done)
                continue
        except (OSError, ValueError):
            pass
        try:
            crops, info = cut_photo(path, config)
        except DataError as exc:
            log.warning("%s; skipped", exc)
            skipped.append(str(path))
            continue
        atomic_write(part, lambda tmp, c=crops: _save_npy(tmp, c))  # np.save(name) would append .npy to the tmp name
        atomic_write_text(meta, json.dumps(info))
        records.append(info)
    if not records:
        raise DataError(f"{', '.join(inputs)}: no usable Bayer raw photo ({len(skipped)} skipped)")
    _assemble(out, records, photos, signature, config)
    shutil.rmtree(parts, ignore_errors=True)
    log.info("%s: %d crops of %d² from %d photos (%d skipped)", out, sum(len(r["offsets"]) for r in records),
             config.crop_size, len(records), len(skipped))  # fmt: skip
    return out


def _save_npy(tmp: str, array: np.ndarray) -> None:
    with open(tmp, "wb") as fh:
        np.save(fh, array)


def _assemble(out: Path, records: list[dict], photos: list[Path], signature: dict, config: PrepareRawConfig) -> None:
    """One memory-mappable crops.npy from the parts, then crops.json (the description comes last)."""
    index = {str(p): k for k, p in enumerate(photos)}
    n = sum(len(r["offsets"]) for r in records)
    s = config.crop_size

    def write(tmp: str) -> None:
        array = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, s, s))
        k = 0
        for r in records:
            part = np.load(out / PARTS / f"{index[r['file']]:05d}.npy", mmap_mode="r")
            array[k : k + len(part)] = part
            k += len(part)
        array.flush()
        del array

    (out / PREPARED_INFO).unlink(missing_ok=True)  # the old description must not pair with the new array
    atomic_write(out / PREPARED_ARRAY, write)
    crops = [{"photo": i, "instance": None, "camera": r["camera"], "iso": r["iso"], "cfa": r["pattern"],
              "offset": off, "shift": r["shift"]} for i, r in enumerate(records) for off in r["offsets"]]  # fmt: skip
    photo_list = [{k: v for k, v in r.items() if k != "offsets"} | {"crops": len(r["offsets"])} for r in records]
    atomic_write_text(out / PREPARED_INFO, json.dumps({**signature, "photos": photo_list, "crops": crops}))


def prepare_raw_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", help="raw photos and/or folders of raw photos")
    add_arguments(parser, PrepareRawConfig)


def prepare_raw_command(args: argparse.Namespace) -> int:
    prepare_raw(args.inputs, from_arguments(PrepareRawConfig, args))
    return 0
