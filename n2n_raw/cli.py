"""``n2n-raw`` command line: one sub-command per job.

Each sub-command lives in its own module, imported only when it runs (so ``n2n-raw train`` never imports
rawpy or scikit-image). A module named in :data:`COMMANDS` provides ``add_arguments(parser)`` and
``run(args) -> int`` under the names given there. User errors (:class:`n2n_raw.errors.N2NError`) print as
one line ``n2n-raw: error: …`` and exit with status 2.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from .errors import N2NError

# name: (module, function prefix, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "train": ("n2n_raw.train_cli", "train", "train Neighbor2Neighbor (raw or sRGB track)"),
    "make-demo-data": ("n2n_raw.demo_data", "demo", "write the embedded SIDD-mini demo set in SIDD's layout"),
    "prepare-sidd": ("n2n_raw.prepare", "prepare", "cut SIDD-Medium noisy raw images into training crops"),
    "evaluate": ("n2n_raw.evaluate", "evaluate", "raw validation PSNR/SSIM of a checkpoint on SIDD blocks"),
    "submit": ("n2n_raw.submission", "submit", "write SIDD benchmark submission files"),
    "check-submission": ("n2n_raw.submission", "check", "verify a SIDD raw submission file"),
    "denoise": ("n2n_raw.denoise", "denoise", "denoise a raw photo (DNG or any Bayer raw rawpy opens)"),
    "prepare-images": ("n2n_raw.srgb.data", "prepare_images", "store a folder of clean images for sRGB training"),
    "evaluate-srgb": ("n2n_raw.srgb.protocol", "evaluate_srgb", "the paper's Kodak/BSD300/Set14 evaluation"),
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="n2n-raw", description="Neighbor2Neighbor denoising for SIDD raw and sRGB.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # Only the chosen command's module is imported; the others are listed with their help alone.
    chosen = next((a for a in argv if a in COMMANDS), None)
    for name, (module, prefix, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            getattr(importlib.import_module(module), f"{prefix}_arguments")(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    module, prefix, _ = COMMANDS[args.command]
    try:
        return int(getattr(importlib.import_module(module), f"{prefix}_command")(args) or 0)
    except N2NError as exc:
        print(f"n2n-raw: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("n2n-raw: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
