"""SIDD raw benchmark submission files: the formats, and writing them all-or-nothing.

Formats (docs/sidd.md §8):

* ``SubmitRaw.csv`` (today's Kaggle format, competitions ``sidd-benchmark-raw-psnr``/``-ssim``): header
  ``ID,BLOCK``; one row per block in image-major order, ``ID = 32·i + j``; ``BLOCK`` is the standard base64
  (ASCII) of the block's C-order bytes in **exactly the input dtype** (float32: 262,144 bytes → 349,528
  characters), the block in MATLAB orientation as scipy reads it.
* ``SubmitRaw.mat`` (the older Python format): MAT v5, variable ``SubmitRaw``, 4-D like the input, same
  dtype. We add the MATLAB-era ``TimeMPRaw`` (seconds per 2^20 pixels, measured on this run) and
  ``OptionalData`` (method name, machine), and with ``denoised_blocks_raw`` the 4-D array again under
  ``DenoisedBlocksRaw`` (Blind2Unblind's key; the original MATLAB kit used a 40×32 cell in v7.3).

:func:`write_submission` writes every file under a temporary name, re-reads and compares it with the network
output, and renames them into place only when all of them are verified: a failed or interrupted write
leaves nothing under the final names, and an existing pair is never mixed with a new file.
"""

from __future__ import annotations

import base64
import csv
import os
import platform
import sys
from pathlib import Path

import numpy as np

from .atomic import atomic_write_all
from .errors import N2NError

CSV_NAME, MAT_NAME = "SubmitRaw.csv", "SubmitRaw.mat"
MAT_KEY, MATLAB_KEY = "SubmitRaw", "DenoisedBlocksRaw"
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
        problems.append(
            f"{label}: values range over [{vals.min():.4g}, {vals.max():.4g}], outside [0, 1] (clamp first)"
        )
    return problems


def check_outputs(denoised: np.ndarray, reference: np.ndarray) -> None:
    """Refuse an output that the benchmark would reject: wrong dtype, shape/count, NaN, out of range."""
    if denoised.dtype != reference.dtype:
        hint = (
            " (float64 doubles every BLOCK string and fails the official dtype assert)"
            if denoised.dtype == np.float64
            else ""
        )
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


def submission_targets(out_dir: str | os.PathLike, formats: tuple[str, ...], force: bool) -> list[Path]:
    """The files a submission will write; refused (before any work) for unknown formats or existing files."""
    names = {"csv": CSV_NAME, "mat": MAT_NAME}
    unknown = set(formats) - set(names)
    if unknown or not formats:
        raise SubmissionError(f"unknown or no submission formats {sorted(unknown)}; choose from csv, mat")
    targets = [Path(out_dir) / names[f] for f in formats]
    existing = [str(p) for p in targets if p.exists()]
    if existing and not force:
        raise SubmissionError(f"{', '.join(existing)} already exists; pass --force to overwrite")
    return targets


def write_submission(
    out_dir: str | os.PathLike,
    denoised: np.ndarray,
    reference: np.ndarray,
    formats: tuple[str, ...] = ("csv", "mat"),
    seconds: float | None = None,
    method: str = "Neighbor2Neighbor (n2n_raw)",
    denoised_blocks_raw: bool = False,
    force: bool = False,
) -> list[Path]:
    """Check, write, re-read and verify the submission files, all or nothing; returns their paths.

    ``denoised`` must already be in the dtype and 4-D shape of ``reference`` (the noisy blocks).
    """
    check_outputs(denoised, reference)
    targets = submission_targets(out_dir, formats, force)
    denoised = np.ascontiguousarray(denoised)
    extra = _matlab_fields(denoised, seconds, method, denoised_blocks_raw)

    def write_csv(tmp: str) -> None:
        _write_csv_rows(tmp, denoised)
        verify_csv(tmp, denoised)

    def write_mat(tmp: str) -> None:
        _write_mat(tmp, denoised, extra)
        verify_mat(tmp, denoised)

    writers = {"csv": write_csv, "mat": write_mat}
    return atomic_write_all([(path, writers[fmt]) for fmt, path in zip(formats, targets)])


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
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU threads, {gpu}, torch {torch.__version__}"
    )
