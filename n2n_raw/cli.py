"""``n2n-raw`` command line: one sub-command per job.

:data:`COMMANDS` names, for every sub-command, the function that adds its flags and the function that runs
it (``module:function``). Only the chosen command's module is imported, so ``n2n-raw train`` never imports
rawpy or scikit-image. User errors (:class:`n2n_raw.errors.N2NError`) and operating-system errors (a
missing, unreadable or unwritable file, a full disk) print as one line ``n2n-raw: error: …`` and exit with
status 2; ``-v`` shows the traceback too. Anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass

from .errors import N2NError


@dataclass(frozen=True)
class Command:
    """A sub-command: its one-line help, ``module:function`` adding its flags, ``module:function`` running it."""

    help: str
    arguments: str
    run: str


COMMANDS: dict[str, Command] = {
    "train": Command("train Neighbor2Neighbor (raw or sRGB track)",
                     "n2n_raw.train_cli:train_arguments", "n2n_raw.train_cli:train_command"),
    "make-demo-data": Command("write the embedded SIDD-mini demo set in SIDD's layout",
                              "n2n_raw.demo_data:demo_arguments", "n2n_raw.demo_data:demo_command"),
    "prepare-sidd": Command("cut SIDD-Medium noisy raw images into training crops",
                            "n2n_raw.prepare:prepare_arguments", "n2n_raw.prepare:prepare_command"),
    "prepare-raw": Command("cut your own noisy raw photos into training crops",
                           "n2n_raw.prepare_raw:prepare_raw_arguments", "n2n_raw.prepare_raw:prepare_raw_command"),
    "evaluate": Command("raw validation PSNR/SSIM of a checkpoint on SIDD blocks",
                        "n2n_raw.evaluate:evaluate_arguments", "n2n_raw.evaluate:evaluate_command"),
    "submit": Command("write SIDD benchmark submission files",
                      "n2n_raw.submission:submit_arguments", "n2n_raw.submission:submit_command"),
    "check-submission": Command("verify a SIDD raw submission file",
                                "n2n_raw.submission_check:check_arguments", "n2n_raw.submission_check:check_command"),
    "denoise": Command("denoise a raw photo (DNG or any Bayer raw rawpy opens)",
                       "n2n_raw.denoise_cli:denoise_arguments", "n2n_raw.denoise_cli:denoise_command"),
    "export": Command("export a model as one ONNX graph, packing and padding included",
                      "n2n_raw.export:export_arguments", "n2n_raw.export:export_command"),
    "prepare-images": Command("store a folder of clean images for sRGB training",
                              "n2n_raw.srgb.data:prepare_images_arguments", "n2n_raw.srgb.data:prepare_images_command"),
    "evaluate-srgb": Command("the paper's Kodak/BSD300/Set14 evaluation",
                             "n2n_raw.srgb.protocol:evaluate_srgb_arguments", "n2n_raw.srgb.protocol:evaluate_srgb_command"),
}  # fmt: skip


def resolve(reference: str) -> Callable:
    """The function named ``module:function``."""
    module, _, name = reference.partition(":")
    return getattr(importlib.import_module(module), name)


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="n2n-raw", description="Neighbor2Neighbor denoising for SIDD raw and sRGB.", allow_abbrev=False
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging, and tracebacks with errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # Only the chosen command's module is imported; the others are listed with their help alone.
    chosen = next((a for a in argv if a in COMMANDS), None)
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.help, description=command.help, allow_abbrev=False)
        if name == chosen:
            resolve(command.arguments)(p)
            p.add_argument(
                "--config",
                default="",
                help="a TOML, YAML or JSON file of this command's options (flags override it; a run's config.json repeats the run)",
            )
            _apply_config_file(p, argv[argv.index(name) + 1 :])
    return parser


def _apply_config_file(parser: argparse.ArgumentParser, argv: list[str]) -> None:
    """Make the values of ``--config FILE`` the parser's defaults, so that flags given as well win."""
    path = next((argv[k + 1] for k, a in enumerate(argv[:-1]) if a == "--config"), None)
    path = path or next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), None)
    if not path:
        return
    from .config import read_config_file

    values = read_config_file(path)
    dests = {a.dest: a for a in parser._actions if a.dest not in ("help", "config")}
    unknown = sorted(k for k in values if k.replace("-", "_") not in dests)
    if unknown:
        raise N2NError(f"{path}: unknown option{'s' * (len(unknown) > 1)} {', '.join(unknown)} for this command")
    defaults = {dests[k.replace("-", "_")].dest: v for k, v in values.items()}
    parser.set_defaults(**defaults)
    for action in parser._actions:  # a positional given in the file is no longer required on the command line
        if action.dest in defaults and not action.option_strings:
            action.nargs = "*" if action.nargs in ("+", "*") else "?"


def _os_error_line(exc: OSError) -> str:
    where = exc.filename or ""
    what = exc.strerror or str(exc)
    return f"{where}: {what}" if where else what


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser = build_parser(argv)
    except N2NError as exc:
        print(f"n2n-raw: error: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(resolve(COMMANDS[args.command].run)(args) or 0)
    except (N2NError, OSError) as exc:
        if args.verbose:
            logging.getLogger("n2n_raw").exception("error")
        line = _os_error_line(exc) if isinstance(exc, OSError) else str(exc)
        print(f"n2n-raw: error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("n2n-raw: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
