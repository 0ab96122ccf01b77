"""SIDD raw benchmark submissions: write, verify and check ``SubmitRaw.csv`` and ``SubmitRaw.mat``.

Formats (docs/sidd.md §8):

* ``SubmitRaw.csv`` (today's Kaggle format, competitions ``sidd-benchmark-raw-psnr``/``-ssim``): header
  ``ID,BLOCK``; one row per block in image-major order, ``ID = 32·i + j``; ``BLOCK`` is the standard base64
  (ASCII) of the block's C-order bytes in **exactly the input dtype** (float32: 262,144 bytes → 349,528
  characters), the block in MATLAB orientation as scipy reads it.
* ``SubmitRaw.mat`` (the older Python format): MAT v5, variable ``SubmitRaw``, 4-D like the input, same
  dtype. We add the MATLAB-era ``TimeMPRaw`` (seconds per 2^20 pixels, measured on this run) and
  ``OptionalData`` (method name, machine), and with ``--denoised-blocks-raw`` the 4-D array again under
  ``DenoisedBlocksRaw`` (Blind2Unblind's key; the original MATLAB kit used a 40×32 cell in v7.3).

Every file is written under a temporary name, re-read and compared with the network output, and only then
renamed into place: a failed or interrupted write leaves nothing under the final name.
"""
from __future__ import annotations

import argparse
import base64
import csv
import itertools
import json
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .checkpoint import atomic_write, atomic_write_text
from .config import add_arguments, arg, from_arguments
from .errors import N2NError
from .inference import InferenceOptions, denoise_blocks, load_network

CSV_NAME, MAT_NAME = "SubmitRaw.csv", "SubmitRaw.mat"
MAT_KEY, MATLAB_KEY = "SubmitRaw", "DenoisedBlocksRaw"
BLOCKS_PER_IMAGE = 32
SIDD_SHAPE = (40, 32, 256, 256)
# One base64 field is ~350 k characters, above the csv module's default field limit (131,072).
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class SubmissionError(N2NError):
    """A submission would be (or is) wrong: dtype, count, shape, values, or an existing file."""


def encode_block(block: np.ndarray) -> str:
    """Standard base64 of the C-order bytes (``tobytes()`` is C order whatever the memory layout)."""
    return base64.b64encode(np.asarray(block).tobytes(order="C")).decode("ascii")


def decode_block(text: str, dtype: np.dtype | str, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`encode_block` (the official ``base64string_to_array``); raises ValueError."""
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    dtype = np.dtype(dtype)
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(f"decodes to {len(raw):,} bytes, expected {expected:,} ({dtype} {shape})")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def base64_length(nbytes: int) -> int:
    return 4 * ((nbytes + 2) // 3)


def value_problems(denoised: np.ndarray, label: str = "blocks") -> list[str]:
    """Plain-words problems with the values: NaN/inf, outside [0, 1]."""
    problems = []
    finite = np.isfinite(denoised)
    if not finite.all():
        bad = int((~finite).sum())
        problems.append(f"{label}: {bad:,} values are NaN or infinite (every value must be a number in [0, 1])")
    vals = denoised[finite]
    if vals.size and (vals.min() < 0 or vals.max() > 1):
        problems.append(f"{label}: values range over [{vals.min():.4g}, {vals.max():.4g}], outside [0, 1] (clamp first)")
    return problems


def check_outputs(denoised: np.ndarray, reference: np.ndarray) -> None:
    """Refuse an output that the benchmark would reject: wrong dtype, shape/count, NaN, out of range."""
    if denoised.dtype != reference.dtype:
        hint = " (float64 doubles every BLOCK string and fails the official dtype assert)" if denoised.dtype == np.float64 else ""
        raise SubmissionError(f"output dtype is {denoised.dtype} but the noisy blocks are {reference.dtype}{hint}")
    if denoised.shape != reference.shape:
        raise SubmissionError(
            f"output has shape {denoised.shape} ({block_count(denoised.shape)} blocks) but the noisy blocks have {reference.shape} "
            f"({block_count(reference.shape)} blocks)"
        )
    problems = value_problems(denoised, "output")
    if problems:
        raise SubmissionError("; ".join(problems))


def block_count(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape[:2])) if len(shape) == 4 else 0


# --------------------------------------------------------------------------------------------------------
# Writing (temporary file → re-read and compare → rename)


def _write_csv_rows(path: str, denoised: np.ndarray) -> None:
    flat = denoised.reshape(-1, *denoised.shape[2:])  # image-major: index 32·i + j
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["ID", "BLOCK"])
        for k, block in enumerate(flat):
            writer.writerow([k, encode_block(block)])


def verify_csv(path: str | os.PathLike, denoised: np.ndarray) -> None:
    """Re-read a CSV and require IDs 0…N−1 in order and every block bit-equal to ``denoised``."""
    flat = denoised.reshape(-1, *denoised.shape[2:])
    with open(path, newline="") as fh:
        rows = csv.reader(fh)
        if next(rows, None) != ["ID", "BLOCK"]:
            raise SubmissionError(f"{path}: re-read header is not ID,BLOCK")
        n = 0
        for n, row in enumerate(rows, start=1):
            k = n - 1
            if k >= len(flat) or row[0] != str(k):
                raise SubmissionError(f"{path}: re-read row {n} has ID {row[0]!r}, expected {k}")
            if decode_block(row[1], flat.dtype, flat.shape[1:]).tobytes() != flat[k].tobytes():
                raise SubmissionError(f"{path}: re-read block ID {k} differs from the network output")
    if n != len(flat):
        raise SubmissionError(f"{path}: re-read {n} blocks, expected {len(flat)}")


def _write_mat(path: str, denoised: np.ndarray, extra: dict) -> None:
    import scipy.io

    scipy.io.savemat(path, {MAT_KEY: denoised, **extra}, format="5", do_compression=False)


def verify_mat(path: str | os.PathLike, denoised: np.ndarray) -> None:
    """Re-read a ``.mat`` and require ``SubmitRaw`` with the same shape, dtype and values."""
    import scipy.io

    back = scipy.io.loadmat(path, variable_names=[MAT_KEY]).get(MAT_KEY)
    if back is None or back.shape != denoised.shape or back.dtype != denoised.dtype:
        got = "missing" if back is None else f"{back.dtype} {back.shape}"
        raise SubmissionError(f"{path}: re-read {MAT_KEY} is {got}, expected {denoised.dtype} {denoised.shape}")
    if not np.array_equal(back, denoised):
        raise SubmissionError(f"{path}: re-read {MAT_KEY} differs from the network output")


def write_submission(
    out_dir: str | os.PathLike, denoised: np.ndarray, reference: np.ndarray, formats: tuple[str, ...] = ("csv", "mat"),
    seconds: float | None = None, method: str = "Neighbor2Neighbor (n2n_raw)", denoised_blocks_raw: bool = False,
    force: bool = False,
) -> list[Path]:
    """Check, write, re-read and verify the submission files; returns their paths.

    ``denoised`` must already be in the dtype and 4-D shape of ``reference`` (the noisy blocks).
    """
    check_outputs(denoised, reference)
    out_dir = Path(out_dir)
    names = {"csv": CSV_NAME, "mat": MAT_NAME}
    unknown = set(formats) - set(names)
    if unknown or not formats:
        raise SubmissionError(f"unknown or no submission formats {sorted(unknown)}; choose from csv, mat")
    targets = [out_dir / names[f] for f in formats]
    existing = [str(p) for p in targets if p.exists()]
    if existing and not force:
        raise SubmissionError(f"{', '.join(existing)} already exists; pass --force to overwrite")
    denoised = np.ascontiguousarray(denoised)
    written = []
    for fmt, path in zip(formats, targets):
        if fmt == "csv":
            def write(tmp: str) -> None:
                _write_csv_rows(tmp, denoised)
                verify_csv(tmp, denoised)
        else:
            extra = _matlab_fields(denoised, seconds, method, denoised_blocks_raw)

            def write(tmp: str) -> None:
                _write_mat(tmp, denoised, extra)
                verify_mat(tmp, denoised)
        written.append(atomic_write(path, write))
    return written


def _matlab_fields(denoised: np.ndarray, seconds: float | None, method: str, with_blocks: bool) -> dict:
    extra: dict = {"OptionalData": {"MethodName": method, "MachineSpecs": machine_description()}}
    if seconds is not None:
        # SIDD_Denoise.m: total seconds × 1024·1024 / number of pixels denoised.
        extra["TimeMPRaw"] = np.float64(seconds * 2**20 / denoised.size)
    if with_blocks:
        extra[MATLAB_KEY] = denoised
    return extra


def machine_description() -> str:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU threads, {gpu}, torch {torch.__version__}"


# --------------------------------------------------------------------------------------------------------
# Commands


@dataclass(frozen=True)
class SubmitConfig(InferenceOptions):
    """``n2n-raw submit`` options (network options are inherited from InferenceOptions)."""

    checkpoint: str = arg("", "checkpoint to use; the model is rebuilt from the configuration stored in it")
    blocks_dir: str = arg("", "folder holding BenchmarkNoisyBlocksRaw.mat; empty: the checkpoint's validation folder, else data/sidd-mini")
    patterns: tuple[str, ...] = arg((), "CFA of each block image, when the folder has neither blocks_info.json nor 40 images")
    out: str = arg("submit", "folder for SubmitRaw.csv / SubmitRaw.mat")
    formats: tuple[str, ...] = arg(("csv", "mat"), "files to write: csv (Kaggle), mat (v5, SubmitRaw)")
    method_name: str = arg("Neighbor2Neighbor (n2n_raw)", "OptionalData.MethodName in SubmitRaw.mat")
    denoised_blocks_raw: bool = arg(False, "also store the array under DenoisedBlocksRaw in SubmitRaw.mat (doubles its size)")
    force: bool = arg(False, "overwrite existing submission files")


def submit(config: SubmitConfig) -> dict:
    """Denoise the benchmark blocks, write and verify the files; on the demo set also score them."""
    from .evaluate import default_blocks_dir
    from .sidd import load_block_set

    model, kwargs, state = load_network(config.checkpoint, config)
    blocks_dir = default_blocks_dir(config.blocks_dir, state)
    block_set = load_block_set(blocks_dir, "benchmark", list(config.patterns) or None)
    noisy = block_set.noisy
    if not np.issubdtype(noisy.dtype, np.floating):
        raise SubmissionError(f"{block_set.noisy_path}: blocks are {noisy.dtype}; expected floats in [0, 1]")
    n_img, n_blk = noisy.shape[:2]
    patterns = [block_set.patterns[k // n_blk] for k in range(n_img * n_blk)]
    start = time.perf_counter()
    denoised = denoise_blocks(model, noisy.reshape(-1, *noisy.shape[2:]), patterns, progress=True, **kwargs)
    seconds = time.perf_counter() - start
    denoised = denoised.reshape(noisy.shape).astype(noisy.dtype)  # exactly the input dtype (float32 for SIDD)
    paths = write_submission(
        config.out, denoised, noisy, tuple(config.formats), seconds, config.method_name, config.denoised_blocks_raw, config.force
    )
    result = {"files": [str(p) for p in paths], "blocks": n_img * n_blk, "seconds": seconds,
              "time_mp_raw": seconds * 2**20 / noisy.size, "blocks_dir": str(blocks_dir)}  # fmt: skip
    if block_set.clean is not None:
        result["demo_score"] = score_files(paths, block_set.clean, noisy)
        atomic_write_text(Path(config.out) / "score_DEMO_ONLY.json", json.dumps(result, indent=1) + "\n")
    return result


def score_files(paths: list[Path], clean: np.ndarray, noisy: np.ndarray) -> dict:
    """Score what the written files *contain* (decoded again) against clean blocks: the end-to-end check."""
    import scipy.io

    from .metrics import block_metrics

    flat_clean = clean.reshape(-1, *clean.shape[2:]).astype(np.float32)
    scores = {"noisy_input": _mean_scores(block_metrics(noisy.reshape(flat_clean.shape).astype(np.float32), flat_clean))}
    for path in paths:
        if path.suffix == ".csv":
            blocks = np.empty(flat_clean.shape, noisy.dtype)
            with open(path, newline="") as fh:
                for row in itertools.islice(csv.reader(fh), 1, None):  # rows stream: the file is ~0.45 GB
                    blocks[int(row[0])] = decode_block(row[1], noisy.dtype, noisy.shape[2:])
        else:
            blocks = scipy.io.loadmat(path, variable_names=[MAT_KEY])[MAT_KEY].reshape(flat_clean.shape)
        scores[path.name] = _mean_scores(block_metrics(blocks.astype(np.float32), flat_clean))
    return scores


def _mean_scores(m: dict) -> dict:
    return {"psnr": float(m["psnr"].mean()), "ssim": float(m["ssim"].mean())}


def submit_arguments(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser, SubmitConfig)


def submit_command(args: argparse.Namespace) -> int:
    result = submit(from_arguments(SubmitConfig, args))
    for path in result["files"]:
        print(f"written and verified: {path} ({Path(path).stat().st_size / 2**20:.1f} MiB)")
    print(f"{result['blocks']} blocks in {result['seconds']:.1f} s (TimeMPRaw {result['time_mp_raw']:.4f} s per 2^20 pixels)")
    for name, s in result.get("demo_score", {}).items():
        print(f"demo benchmark score, {name}: PSNR {s['psnr']:.2f} dB, SSIM {s['ssim']:.4f}")
    return 0


def check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="SubmitRaw.csv or SubmitRaw.mat to verify")
    parser.add_argument("--blocks", default="", help="the noisy BenchmarkNoisyBlocksRaw.mat it answers (default: assume SIDD's float32 40×32×256×256)")


def check_command(args: argparse.Namespace) -> int:
    from .submission_check import check_submission

    problems = check_submission(args.file, args.blocks or None)
    if problems:
        print("\n".join(problems))
        print(f"{args.file}: NOT a valid SIDD raw submission ({len(problems)} problem{'s' * (len(problems) > 1)})")
        return 1
    print(f"{args.file}: OK, a valid SIDD raw submission")
    return 0
