"""``n2n-raw denoise photo.dng``: denoise a user's own Bayer raw photo and write a DNG plus an sRGB preview.

1. **Read** with rawpy (LibRaw: DNG and most camera raw formats): the visible raw image, the per-channel
   black levels, the white level and the CFA from ``raw_colors_visible`` (the colour of every visible
   pixel, so the pattern is the visible area's own). Anything that is not a 2×2 R/G/B Bayer mosaic is
   refused with a one-line error: X-Trans (6×6), Foveon or already-demosaiced/linear DNGs (stacked
   channels), other colour filters (CMYG), unreadable files.
2. **Normalise**: ``(raw − black) / (white − black)`` per CFA position, values below black and above
   white kept (:func:`normalise` says why).
3. **Denoise** tile by tile (:func:`n2n_raw.inference.denoise_mosaic_tiled`), CFA unified per tile; an
   odd last row/column is passed through unchanged.
4. **Write** ``<stem>_denoised.dng`` with tifffile: the same size, CFA, black and white levels, the
   denoised values in the original units (uint16), and the colour tags (ColorMatrix, AsShotNeutral, …)
   copied from the input DNG, or built from LibRaw's camera matrix and white balance for other formats.
   The file is re-opened with rawpy and checked before it is given its final name.
5. **Preview** ``<stem>_denoised.png``: rawpy's ``postprocess`` of the written DNG (camera white balance).

A model trained on SIDD is calibrated to the noise of SIDD's five phone sensors; other cameras' noise (and
other ISOs) may be under- or over-smoothed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_write, atomic_write_text
from .bayer import cfa_colours, check_pattern
from .config import add_arguments, arg, from_arguments
from .errors import DataError, N2NError
from .fidelity import plane_fidelity, summary_line, worst
from .inference import InferenceOptions, denoise_mosaic_tiled, load_network

# DNG colour tags copied from an input DNG's IFD0 (NoiseProfile 51041 is left out: it no longer applies).
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


# Tiles of 1024 read with 64 pixels of context: the reads start on multiples of 64 Bayer pixels (32 packed,
# the U-Net's five poolings), so every tile sees the pooling grid of a whole-image pass, and the result equals
# one whole-image pass to float rounding; 512/32 (the earlier default) is off by up to 0.01 at seams and
# computes as many pixels (1.21×) in more, smaller calls. Measured: benchmarks/README.md, "Tiles".
TILE, OVERLAP = 1024, 64


@dataclass(frozen=True)
class DenoiseConfig(InferenceOptions):
    """``n2n-raw denoise`` options (network options are inherited from InferenceOptions)."""

    checkpoint: str = arg(
        "",
        "checkpoint to use (the model is rebuilt from its stored configuration); empty or 'pretrained': the model shipped with the package; 'identity': no denoising",
    )
    batch_size: int = arg(1, "tiles per network call (memory grows with it; on a CPU batching gains nothing)")
    out: str = arg("", "denoised DNG to write; empty: <input stem>_denoised.dng beside the input")
    preview: bool = arg(True, "also write an sRGB preview PNG (rawpy postprocess) beside the DNG")
    preview_half_size: bool = arg(True, "render the preview at half size (faster, 4× less memory)")
    tile: int = arg(TILE, "tile side in Bayer pixels (a multiple of 64 keeps the tiles on the U-Net's pooling grid)")
    overlap: int = arg(
        OVERLAP,
        "context pixels read around each tile and discarded (a multiple of 64: tiles equal one whole-image pass)",
    )
    force: bool = arg(False, "overwrite existing outputs")
    adapt: int = arg(0, "first fine-tune the model on this photo's own crops for this many steps (0: off)")
    adapt_lr: float = arg(1e-4, "learning rate of --adapt")
    side_by_side: bool = arg(
        True, "also write <stem>_denoised_crops.png: noisy | denoised at 100 %, busiest and darkest regions"
    )

    def __post_init__(self) -> None:
        if self.tile <= 0 or self.tile % 2:
            raise N2NError(f"--tile {self.tile}: must be a positive even number of Bayer pixels")
        if self.overlap < 0 or self.overlap % 2:
            raise N2NError(f"--overlap {self.overlap}: must be an even number ≥ 0")


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


def denoise_photo(input_path: str | os.PathLike, config: DenoiseConfig, network: tuple | None = None) -> dict:
    """Denoise one raw photo; returns the report (paths written, what was read, colour fidelity).

    ``network`` is an already loaded ``(model, settings, checkpoint)`` (:class:`n2n_raw.api.Denoiser`).
    """
    input_path = Path(input_path)
    out = Path(config.out) if config.out else input_path.with_name(f"{input_path.stem}_denoised.dng")
    preview = out.with_suffix(".png") if config.preview else None
    if out.resolve() == input_path.resolve():
        raise N2NError(f"{out}: the output would overwrite the input photo")
    side = out.with_name(f"{out.stem}_crops.png") if config.side_by_side else None
    existing = [str(p) for p in (out, preview, out.with_suffix(".json"), side) if p is not None and p.exists()]
    if existing and not config.force:
        raise N2NError(f"{', '.join(existing)} already exists; pass --force to overwrite")
    photo = read_raw(input_path)
    if config.adapt > 0:
        from .adapt import adapt_to_photo, adaptation_dir

        with adaptation_dir(out) as work:
            base = str(load_network(config.checkpoint, config)[2].path)
            adaptation = adapt_to_photo(input_path, base, config.adapt, config.adapt_lr, Path(work))
            model, settings, _ = load_network(adaptation.checkpoint, config)
    else:
        adaptation = None
        model, settings, _ = network or load_network(config.checkpoint, config)
    x = normalise(photo)
    h, w = x.shape
    he, we = h - h % 2, w - w % 2
    # Not clamped to [0, 1]: levels below black and above white stay what they are (see normalise).
    denoised = denoise_mosaic_tiled(
        model, x[:he, :we], photo.pattern, settings, tile=config.tile, overlap=config.overlap, clamp=False
    )
    fidelity = plane_fidelity(x[:he, :we], denoised, photo.pattern)
    if (he, we) != (h, w):  # an odd last row/column keeps its noisy values
        x[:he, :we] = denoised
        denoised = x
    del x
    written = [write_dng(out, denormalise(denoised, photo), photo)]
    if preview is not None:
        written.append(write_preview(out, preview, config.preview_half_size))
    if config.side_by_side:
        written.append(
            write_side_by_side(out.with_name(f"{out.stem}_crops.png"), normalise(photo), denoised, photo.pattern)
        )
    report = {"input": str(input_path), "checkpoint": str(config.checkpoint), "files": [str(p) for p in written],
              "size": [h, w], "pattern": photo.pattern, "black": photo.black.ravel().tolist(), "white": photo.white,
              "fidelity": fidelity, "fidelity_worst": worst([fidelity]),
              "adapt": None if adaptation is None else {k: v for k, v in vars(adaptation).items() if k != "checkpoint"}}  # fmt: skip
    written.append(atomic_write_text(out.with_suffix(".json"), json.dumps(report, indent=1) + "\n"))
    report["files"] = [str(p) for p in written]
    return report


def pick_regions(mosaic: np.ndarray, side: int) -> dict[str, tuple[int, int]]:
    """Top-left corners (even) of the busiest (most local variance) and darkest ``side`` squares."""
    h, w = mosaic.shape
    side = min(side, h - h % 2, w - w % 2)
    rows, cols = range(0, h - side + 1, max(2, side // 2)), range(0, w - side + 1, max(2, side // 2))
    cells = [(r, c) for r in rows for c in cols]
    means = [float(mosaic[r : r + side, c : c + side].mean()) for r, c in cells]
    detail = [float(np.abs(np.diff(mosaic[r : r + side : 2, c : c + side : 2], axis=1)).mean()) for r, c in cells]
    return {"busiest": cells[int(np.argmax(detail))], "darkest": cells[int(np.argmin(means))]}


def write_side_by_side(path: Path, noisy: np.ndarray, denoised: np.ndarray, pattern: str, side: int = 256) -> Path:
    """A PNG of noisy | denoised at 100 % for the busiest and the darkest region (one rendering per row)."""
    from .isp import contact_sheet, demosaic_bilinear, exposure_gain, grey_world_gains, render_srgb, save_png

    h, w = denoised.shape
    noisy = noisy[:h, :w]
    side = min(side, h - h % 2, w - w % 2)
    rows = []
    for r, c in pick_regions(noisy, side).values():
        a, b = noisy[r : r + side, c : c + side], denoised[r : r + side, c : c + side]
        gains = grey_world_gains(np.clip(b, 0, 1), pattern)  # one white balance and exposure per row
        gain = exposure_gain(demosaic_bilinear(np.clip(b, 0.0, 1.0), pattern) * gains)
        rows.append([render_srgb(x, pattern, gains, gain) for x in (a, b)])
    save_png(contact_sheet(rows, labels=("noisy (100 %)", "denoised")), path)
    return path


def denoise_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "input", nargs="+", help="raw photos (DNG or any Bayer raw LibRaw opens) and/or folders of them"
    )
    add_arguments(parser, DenoiseConfig)


def _inputs(items: list[str]) -> list[Path]:
    """The photos named, and those in named folders (outputs of earlier runs, ``*_denoised.dng``, left out)."""
    from .prepare_raw import RAW_SUFFIXES

    photos = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            photos += sorted(
                q for q in p.iterdir() if q.suffix.lower() in RAW_SUFFIXES and not q.stem.endswith("_denoised")
            )
        else:
            photos.append(p)
    return photos


def _print_report(path: Path, result: dict) -> None:
    h, w = result["size"]
    print(f"{path}: {w}×{h} {result['pattern']}, black {result['black']}, white {result['white']:g}")
    print(f"plane means and low frequencies, denoised against input: {summary_line(result['fidelity'])}")
    if result["adapt"]:
        a = result["adapt"]
        print(f"adapted to the photo: {a['steps']} steps on {a['crops']} crops in {a['seconds']:.0f} s; held-out "
              f"Neighbor2Neighbor loss {a['holdout_before']:.4g} → {a['holdout_after']:.4g}")  # fmt: skip
    for written in result["files"]:
        print(f"written: {written}")


def denoise_command(args: argparse.Namespace) -> int:
    from .api import load

    config = from_arguments(DenoiseConfig, args)
    photos = _inputs(args.input)
    if config.out and len(photos) != 1:
        raise N2NError(f"--out names one output file, but {len(photos)} photos were given")
    options = {f: getattr(config, f) for f in InferenceOptions.__dataclass_fields__}
    rest = {k: v for k, v in vars(config).items() if k not in options and k not in ("checkpoint", "out")}
    denoiser = None if config.adapt else load(config.checkpoint, **options)  # loaded once for all photos
    failed = 0
    for path in photos:
        try:  # the command is the Python interface's denoise_file; a bad photo does not stop the others
            result = denoise_photo(path, config) if config.adapt else denoiser.denoise_file(path, config.out, **rest)
        except N2NError as exc:
            if len(photos) == 1:
                raise
            print(f"n2n-raw: error: {exc}", file=sys.stderr)
            failed += 1
            continue
        _print_report(path, result)
    if failed:
        print(f"n2n-raw: {failed} of {len(photos)} photos failed (see above)", file=sys.stderr)
    return 2 if failed else 0
