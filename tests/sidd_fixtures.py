"""Writers of tiny files in SIDD's real formats, for tests (docs/sidd.md §12).

Written independently of the demo-set generator (``n2n_raw.demo_data``), so that a bug shared by the
package's writer and reader cannot hide: full images are MAT v7.3 stored column-major (h5py sees the
transpose), metadata are v5 structs shaped like MATLAB's ``imfinfo`` of a DNG with an (8, 1) ``UnknownTags``
struct array in the real tag order, block files are v5 with the variable named like the file stem.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import scipy.io

# UnknownTags IDs in the order of the official S6 sample (docs/sidd.md §3.2).
TAG_ORDER = (33421, 33422, 37398, 50964, 50965, 51009, 51022, 51041)
CODES = {"R": 0, "G": 1, "B": 2}


def write_v73_image(path: Path, image_hw: np.ndarray, key: str = "x", header: bool = True) -> Path:
    """A MATLAB v7.3 file as MATLAB writes it: the (H, W) array stored transposed, MATLAB_class single.

    ``header=False`` leaves out MATLAB's 128-byte user-block header (a plain HDF5 file).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=512) as fh:
        ds = fh.create_dataset(key, data=np.asarray(image_hw, np.float32).T)  # column-major on disk
        if header:
            ds.attrs["MATLAB_class"] = np.bytes_(b"single")
    if header:
        text = b"MATLAB 7.3 MAT-file, Platform: PCWIN64, Created on: Mon Jan 01 00:00:00 2018 HDF5 schema 1.00 ."
        with open(path, "r+b") as fh:
            fh.write(text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM")
    return path


def unknown_tags(cfa: str, noise_profile: tuple[float, ...], iphone: bool = False) -> np.ndarray:
    """(8, 1) struct array ID/Offset/Value like imfinfo's ``UnknownTags`` (iPhone: NoiseProfile second to last)."""
    ids = list(TAG_ORDER)
    if iphone:  # iPhone files have NoiseProfile second to last (docs/sidd.md §3.3)
        ids[-2], ids[-1] = ids[-1], ids[-2]
    tags = np.zeros((8, 1), dtype=[("ID", object), ("Offset", object), ("Value", object)])
    for k, tag in enumerate(ids):
        value: np.ndarray = np.zeros((1, 0))
        if tag == 33421:
            value = np.array([[2, 2]], np.uint16)
        elif tag == 33422:
            value = np.array([[CODES[c] for c in cfa]], np.uint8)
        elif tag == 51041:
            value = np.array([noise_profile], np.float64)
        tags[k, 0] = (np.array([[tag]], np.float64), np.array([[1000.0 + 16 * k]]), value)
    return tags


def write_metadata(
    path: Path,
    cfa: str,
    noise_profile: tuple[float, ...] = (4.7946e-4, 0.0) * 3,
    iso: int = 100,
    exposure: float = 1 / 60,
    black: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0),
    white: float = 1023.0,
    iphone: bool = False,
) -> Path:
    """A v5 ``metadata`` struct. ``iphone=True``: the top level is an 8-bit preview (BitDepth 8) and the CFA,
    levels and NoiseProfile exist only in ``SubIFDs`` (a cell holding one struct); ISO/exposure in ``DigitalCamera``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    iso_value = np.array([[iso]], np.uint8 if iso < 256 else np.uint16)  # small ints stored narrow, as real files
    raw = {
        "BitDepth": np.array([[16.0]]),
        "BlackLevel": np.array([black], np.float64),
        "WhiteLevel": np.array([[white]]),
        "UnknownTags": unknown_tags(cfa, noise_profile, iphone),
    }
    if iphone:
        preview = {
            "BitDepth": np.array([[8.0]]),
            "UnknownTags": np.zeros((1, 1), dtype=[("ID", object), ("Offset", object), ("Value", object)]),
        }
        preview["UnknownTags"][0, 0] = (np.array([[37398.0]]), np.array([[10.0]]), np.zeros((1, 0)))
        sub = np.empty((1, 1), dtype=object)
        sub[0, 0] = raw
        top = {
            "Filename": "D:\\_New_Dataset\\x\\DNG\\IMG.DNG",
            "Make": "Apple",
            **preview,
            "SubIFDs": sub,
            "DigitalCamera": {"ISOSpeedRatings": iso_value, "ExposureTime": np.array([[exposure]])},
        }
    else:
        top = {
            "Filename": "D:\\_New_Dataset\\x\\DNG\\DSC.DNG",
            "Make": "samsung",
            "ISOSpeedRatings": iso_value,
            "ExposureTime": np.array([[exposure]]),
            "Width": np.array([[5328.0]]),
            "Height": np.array([[3000.0]]),
            **raw,
        }
    scipy.io.savemat(path, {"metadata": top}, do_compression=True)
    return path


def write_blocks(path: Path, blocks: np.ndarray, key: str | None = None) -> Path:
    """A v5 block file, variable named like the file stem (or ``key``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(path, {key or path.stem: blocks})
    return path


def mosaic_of(pattern: str, h: int, w: int, values: dict[str, float] | None = None) -> np.ndarray:
    """A flat mosaic with one value per colour (default R 0.2, G 0.5, B 0.8) laid out in ``pattern``."""
    values = values or {"R": 0.2, "G": 0.5, "B": 0.8}
    tile = np.array([[values[pattern[0]], values[pattern[1]]], [values[pattern[2]], values[pattern[3]]]], np.float32)
    return np.tile(tile, (h // 2, w // 2))


def write_medium_instance(
    data_dir: Path,
    name: str,
    image_hw: np.ndarray,
    frames: tuple[str, ...] = ("010",),
    prefixed: bool = True,
    metadata_cfa: str | None = None,
    iphone: bool = False,
) -> Path:
    """``data_dir/<name>/`` with NOISY (and METADATA, when ``metadata_cfa`` is given) files per frame."""
    folder = Path(data_dir) / name
    prefix = name[:4] + "_" if prefixed else ""
    for frame in frames:
        write_v73_image(folder / f"{prefix}NOISY_RAW_{frame}.MAT", image_hw)
        if metadata_cfa:
            write_metadata(folder / f"{prefix}METADATA_RAW_{frame}.MAT", metadata_cfa, iphone=iphone)
    return folder
