"""Raw photos in and out: reading any Bayer raw LibRaw opens, its levels, and writing a faithful DNG.

* :func:`read_raw`: the visible raw image, the per-position black levels, the white level, the CFA from
  ``raw_colors_visible`` (the colour of every visible pixel, so the pattern is the visible area's own), and
  the tags a raw editor needs. Anything that is not a 2×2 R/G/B Bayer mosaic is refused with a one-line
  error: X-Trans (6×6), Foveon or already-demosaiced/linear DNGs (stacked channels), other colour filters
  (CMYG), unreadable or truncated files.
* :func:`normalise` / :func:`denormalise`: ``(raw − black) / (white − black)`` per CFA position and back,
  values below black and above white kept (``normalise`` says why).
* :func:`write_dng`: the same size, CFA, black and white levels, the values in the original units (uint16),
  and the camera and colour tags (Make, Model, orientation, exposure, ColorMatrix, AsShotNeutral, …) copied
  from a DNG or TIFF-based raw, or built from LibRaw's camera matrix and white balance otherwise. The file is
  re-opened with rawpy and checked before it is given its final name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_write
from .bayer import cfa_colours, check_pattern
from .errors import DataError, N2NError

# What a raw editor needs from the source, copied into the written DNG: Make, Model, Orientation, ExposureTime,
# FNumber, ISOSpeedRatings, DateTimeOriginal, UniqueCameraModel, DefaultCropOrigin/Size, ColorMatrix1/2,
# CameraCalibration1/2, AnalogBalance, AsShotNeutral, AsShotWhiteXY, BaselineExposure, BaselineNoise,
# BaselineSharpness, CalibrationIlluminant1/2, ForwardMatrix1/2.
COLOUR_TAGS = (271, 272, 274, 33434, 33437, 34855, 36867, 50708, 50719, 50720, 50721, 50722, 50723, 50724,
               50727, 50728, 50729, 50730, 50731, 50732, 50778, 50779, 50964, 50965)  # fmt: skip
# From the EXIF IFD of a TIFF-based camera raw (ARW, NEF, CR2, PEF, …): exposure, aperture, ISO, date.
EXIF_TAGS = {"ExposureTime": 33434, "FNumber": 33437, "ISOSpeedRatings": 34855, "DateTimeOriginal": 36867}
# XYZ (D65) → linear sRGB, the ColorMatrix1 of last resort when neither the file nor LibRaw has one.
XYZ_TO_SRGB = ((3.2406, -1.5372, -0.4986), (-0.9689, 1.8758, 0.0415), (0.0557, -0.2040, 1.0570))


@dataclass
class RawPhoto:
    """A Bayer photo as read: ``raw`` (H, W) in sensor units, levels per 2×2 CFA position (row-major)."""

    raw: np.ndarray
    pattern: str
    black: np.ndarray  # (2, 2) black level of each CFA position
    white: float
    colour_tags: list[tuple]


def _read_bayer(path: Path, rp) -> tuple:
    """(pattern, black per 2×2 position, white, raw uint16, colour tags) of an open rawpy file."""
    import rawpy

    if rp.raw_type != rawpy.RawType.Flat or rp.raw_pattern is None:
        raise DataError(
            f"{path}: not a Bayer mosaic (stacked colour channels: Foveon, or an already demosaiced/linear DNG)"
        )
    colours = rp.raw_colors_visible
    if rp.raw_pattern.shape != (2, 2):
        kind = "X-Trans (6×6)" if rp.raw_pattern.shape == (6, 6) else "×".join(map(str, rp.raw_pattern.shape))
        raise DataError(
            f"{path}: {kind} colour filter array, not a 2×2 Bayer pattern; this model denoises Bayer raw only"
        )
    tile = colours[:2, :2]
    desc = rp.color_desc.decode("ascii", "replace")
    name = "".join(desc[int(c)] for c in tile.flat)
    try:
        pattern = check_pattern(name)
    except ValueError:
        raise DataError(f"{path}: colour filter {name} ({desc}) is not an R/G/B Bayer pattern") from None
    h, w = colours.shape
    if min(h, w) < 2 or not np.array_equal(colours, np.tile(tile, ((h + 1) // 2, (w + 1) // 2))[:h, :w]):
        raise DataError(f"{path}: the colour filter does not repeat every 2×2 pixels; not a Bayer mosaic")
    black = np.array(rp.black_level_per_channel, dtype=np.float64)[tile]  # per colour index → per position
    raw = np.array(rp.raw_image_visible, dtype=np.uint16, copy=True)  # copy: rawpy frees its buffer
    return pattern, black, float(rp.white_level), raw, _colour_tags(path, rp)


def read_raw(path: str | os.PathLike) -> RawPhoto:
    """Read a Bayer raw file with rawpy; DataError naming the file for anything else."""
    import rawpy

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with rawpy.imread(str(path)) as rp:
            pattern, black, white, raw, colour_tags = _read_bayer(path, rp)
    except (rawpy.LibRawError, OSError) as exc:  # LibRaw reads lazily: a truncated file fails while unpacking
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise DataError(f"{path}: not a raw photo rawpy/LibRaw can read ({type(exc).__name__}: {reason})") from None
    if white <= black.max():
        raise DataError(f"{path}: white level {white:g} is not above the black levels {black.ravel().tolist()}")
    return RawPhoto(raw, pattern, black, white, colour_tags)


def _source_tags(path: Path) -> tuple[list[tuple], bool]:
    """(tags of ``path``'s first IFD and EXIF worth copying, whether it is a DNG); nothing for non-TIFF files."""
    try:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            tags = [(t.code, int(t.dtype), t.count, t.value, True) for t in page.tags if t.code in COLOUR_TAGS]
            exif = page.tags.get(34665)  # the EXIF IFD, as a dict of names
            if exif is not None and isinstance(exif.value, dict):
                have = {t[0] for t in tags}
                tags += [_exif_tag(code, exif.value[name]) for name, code in EXIF_TAGS.items()
                         if name in exif.value and code not in have]  # fmt: skip
            return [t for t in tags if t is not None], 50706 in page.tags  # DNGVersion
    except Exception:  # noqa: BLE001 - not a TIFF-based file (CR3, RAF, RW2, …): LibRaw's values only
        return [], False


def _exif_tag(code: int, value) -> tuple | None:
    """A tifffile extratag for one EXIF value (rationals as (num, den) pairs)."""
    if code in (33434, 33437):  # RATIONAL
        num, den = value if isinstance(value, tuple) else (value, 1)
        return (code, 5, 1, (int(num), int(den)), True)
    if code == 34855:
        return (code, 3, 1, int(value[0] if isinstance(value, tuple) else value), True)
    if code == 36867:
        return (code, 2, 0, str(value), True)
    return None


def _colour_tags(path: Path, rp) -> list[tuple]:
    """tifffile ``extratags`` describing the photo: copied from a DNG; for other TIFF-based raws the camera,
    orientation and exposure tags of the file plus LibRaw's colour matrix and white balance."""
    tags, is_dng = _source_tags(path)
    if is_dng:
        return tags
    matrix = np.asarray(rp.rgb_xyz_matrix, dtype=np.float64)[:3]
    if not np.any(matrix):
        matrix = np.asarray(XYZ_TO_SRGB)
    tags += [(50721, 10, 9, _srational(matrix.ravel()), True), (50778, 3, 1, 21, True)]  # D65
    wb = np.asarray(rp.camera_whitebalance, dtype=np.float64)[:3]
    if np.all(wb > 0):
        tags.append((50728, 5, 3, _srational(wb[1] / wb), True))  # AsShotNeutral = 1 / gains
    return tags


def _srational(values, denominator: int = 1_000_000) -> list[int]:
    out: list[int] = []
    for v in values:
        out += [int(round(float(v) * denominator)), denominator]
    return out


def normalise(photo: RawPhoto) -> np.ndarray:
    """(H, W) float32: ``(raw − black) / (white − black)`` per CFA position, **not clipped**.

    Values below black (negative) and above white (over 1) are kept, in training crops (``prepare-raw``) and
    in denoising alike. Read noise is zero-mean around the black level: clipping it at 0 raises the mean of
    every dark pixel (for a level μ under Gaussian noise σ, E[max(0, μ + n)] = σ·φ(μ/σ) + μ·Φ(μ/σ); at
    μ = 0.2σ that is 2.5 μ), which a network then learns as signal and reproduces as a colour shift in the
    dark planes. Unclipped, the mean of the noise is the signal's. SIDD's own files are clipped at
    [0, 1] by SIDD (docs/sidd.md §2.2); that protocol is kept for SIDD data.
    """
    x = np.empty(photo.raw.shape, dtype=np.float32)
    for (dy, dx), black in np.ndenumerate(photo.black):  # strided views: no per-pixel level array
        x[dy::2, dx::2] = (photo.raw[dy::2, dx::2] - np.float32(black)) / np.float32(photo.white - black)
    return x


def denormalise(x: np.ndarray, photo: RawPhoto) -> np.ndarray:
    """Inverse of :func:`normalise`, rounded to uint16 sensor units; only the uint16 range bounds it, so
    values below black and above white come back as they were."""
    raw = np.empty(x.shape, dtype=np.uint16)
    for (dy, dx), black in np.ndenumerate(photo.black):
        level = np.round(np.float64(black) + x[dy::2, dx::2].astype(np.float64) * np.float64(photo.white - black))
        raw[dy::2, dx::2] = np.clip(level, 0, np.iinfo(np.uint16).max)
    return raw


def write_dng(path: str | os.PathLike, raw: np.ndarray, photo: RawPhoto) -> Path:
    """Write ``raw`` (uint16, the photo's size) as a Bayer DNG with its CFA, levels and colour tags."""
    import tifffile

    codes = cfa_colours(photo.pattern).ravel().tolist()
    integral = np.all(photo.black == np.round(photo.black))
    black_tag = (50714, 4, 4, tuple(int(b) for b in photo.black.ravel()), True) if integral else \
        (50714, 5, 4, _srational(photo.black.ravel(), 1000), True)  # fmt: skip
    tags = [
        (33421, 3, 2, (2, 2), True), (33422, 1, 4, tuple(codes), True),  # CFARepeatPatternDim, CFAPattern
        (50706, 1, 4, (1, 4, 0, 0), True), (50707, 1, 4, (1, 1, 0, 0), True),  # DNGVersion, DNGBackwardVersion
        (50713, 3, 2, (2, 2), True), black_tag, (50717, 4, 1, int(photo.white), True),  # BlackLevel(RepeatDim), WhiteLevel
    ]  # fmt: skip
    tags += [t for t in photo.colour_tags if t[0] not in {t2[0] for t2 in tags}]
    if not any(t[0] == 50708 for t in tags):
        tags.append((50708, 2, 0, "n2n_raw denoised raw", True))  # UniqueCameraModel is required by DNG

    def write(tmp: str) -> None:
        tifffile.imwrite(tmp, raw, photometric=32803, compression=None, subfiletype=0, metadata=None,
                         software="n2n_raw denoise", extratags=tags)  # fmt: skip
        _verify_dng(tmp, raw, photo)

    return atomic_write(path, write)


def _verify_dng(path: str, raw: np.ndarray, photo: RawPhoto) -> None:
    back = read_raw(path)
    if back.raw.shape != raw.shape or back.pattern != photo.pattern or not np.array_equal(back.raw, raw):
        raise N2NError(
            f"{path}: the written DNG reads back as {back.pattern} {back.raw.shape}, not {photo.pattern} {raw.shape}"
        )
    if not np.allclose(back.black, photo.black) or back.white != photo.white:
        raise N2NError(f"{path}: the written DNG reads back with other black/white levels")


def write_preview(dng: str | os.PathLike, png: str | os.PathLike, half_size: bool = True) -> Path:
    """rawpy's default rendering (camera white balance, sRGB, 8 bits) of a DNG, as PNG."""
    import rawpy
    from PIL import Image

    with rawpy.imread(str(dng)) as rp:
        rgb = rp.postprocess(use_camera_wb=True, half_size=half_size, output_bps=8)
    return atomic_write(png, lambda tmp: Image.fromarray(rgb).save(tmp, format="PNG"))
