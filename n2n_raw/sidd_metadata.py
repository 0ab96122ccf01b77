"""SIDD ``METADATA_RAW`` files: MATLAB's ``imfinfo`` of the original DNG, saved as a v5 struct.

What n2n_raw reads from them (docs/sidd.md §3): the CFA pattern (tag 33422), black and white levels, ISO,
exposure time and the NoiseProfile, each ``None`` where the file lacks it. The iPhone keeps its tags under
``SubIFDs``, as real iPhone files do, so every IFD is searched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .bayer import pattern_from_tile
from .errors import DataError
from .matfile import read_mat

TAG_CFA_PATTERN, TAG_NOISE_PROFILE = 33422, 51041


@dataclass(frozen=True)
class RawMetadata:
    """What n2n_raw uses from a ``METADATA_RAW`` file; fields are None where the file lacks them."""

    cfa: str | None
    black_level: tuple[float, ...] | None
    white_level: float | None
    iso: int | None
    exposure_time: float | None
    noise_profile: tuple[float, ...] | None  # (S, O) per plane: variance = S·x + O


def _fields(struct) -> dict:
    """A v5 struct (numpy.void record, a 1-element struct array or a cell holding one) as a dict."""
    if isinstance(struct, np.ndarray) and struct.size >= 1 and (struct.dtype.names or struct.dtype == object):
        return _fields(struct.reshape(-1)[0])
    if isinstance(struct, np.void) and struct.dtype.names:
        return {name: struct[name] for name in struct.dtype.names}
    return {}


def _elements(value) -> list:
    """The struct records of a struct array or of a cell array of structs (SubIFDs, UnknownTags)."""
    if not isinstance(value, np.ndarray):
        return [value] if isinstance(value, np.void) and value.dtype.names else []
    if value.dtype.names:
        return list(value.reshape(-1))
    if value.dtype == object:
        return [rec for item in value.reshape(-1) for rec in _elements(item)]
    return []


def _ifds(top: dict) -> list[dict]:
    """The top-level IFD, then every ``SubIFDs`` element, depth-first."""
    out = [top]
    for sub in _elements(top.get("SubIFDs")):
        out.extend(_ifds(_fields(sub)))
    return out


def _tag(ifd: dict, tag_id: int):
    for entry in _elements(ifd.get("UnknownTags")):
        f = _fields(entry)
        if "ID" in f and np.asarray(f["ID"]).size and int(np.asarray(f["ID"]).reshape(-1)[0]) == tag_id:
            return np.asarray(f.get("Value")).reshape(-1)
    return None


def _number(value) -> float | None:
    arr = np.asarray(value) if value is not None else np.zeros(0)
    return float(arr.reshape(-1)[0]) if arr.size and np.issubdtype(arr.dtype, np.number) else None


def read_metadata(path: str | os.PathLike) -> RawMetadata:
    """Read a SIDD ``METADATA_RAW`` file; tags are found by ID in the top level and all ``SubIFDs``."""
    path = Path(path)
    top = _fields(read_mat(path, "metadata"))
    if not top:
        raise DataError(f"{path}: variable 'metadata' is not a struct")
    ifds = _ifds(top)
    # The raw IFD is the one carrying the CFA tag (the top level, or a SubIFD for the iPhone).
    raw_ifd, cfa = top, None
    for ifd in ifds:
        tile = _tag(ifd, TAG_CFA_PATTERN)
        if tile is not None:
            try:
                cfa = pattern_from_tile(tile)
            except ValueError as exc:
                raise DataError(f"{path}: bad CFAPattern tag 33422: {exc}") from None
            raw_ifd = ifd
            break
    noise = next((v for v in (_tag(i, TAG_NOISE_PROFILE) for i in [raw_ifd, *ifds]) if v is not None), None)

    def first(name: str, *places: dict):
        for place in places:
            if name in place and np.asarray(place[name]).size:
                return place[name]
        return None

    camera = _fields(top.get("DigitalCamera")) if "DigitalCamera" in top else {}
    black = first("BlackLevel", raw_ifd, top)
    return RawMetadata(
        cfa=cfa,
        black_level=tuple(float(v) for v in np.asarray(black).reshape(-1)) if black is not None else None,
        white_level=_number(first("WhiteLevel", raw_ifd, top)),
        iso=None if (iso := _number(first("ISOSpeedRatings", top, camera, raw_ifd))) is None else int(iso),
        exposure_time=_number(first("ExposureTime", top, camera, raw_ifd)),
        noise_profile=tuple(float(v) for v in noise) if noise is not None else None,
    )
