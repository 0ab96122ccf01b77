"""``n2n-raw denoise PHOTO_OR_FOLDER...``: the command, on top of the Python interface (:mod:`n2n_raw.api`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import add_arguments, from_arguments
from .denoise import DenoiseConfig, denoise_photo
from .errors import N2NError
from .fidelity import summary_line
from .inference import InferenceOptions


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
