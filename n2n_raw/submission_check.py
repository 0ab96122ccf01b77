"""``n2n-raw check-submission``: verify any SIDD raw submission file (ours or a user's) in plain words.

It reads ``SubmitRaw.csv`` (Kaggle) or a v5 ``SubmitRaw.mat`` and reports every way it differs from what
the benchmark expects (docs/sidd.md §8): the header, the count and order of IDs (ID = 32·image + block),
each BLOCK's base64 length and decoding for the noisy blocks' dtype, NaN/infinite values, values outside
[0, 1], and (with ``--blocks``) blocks identical to the noisy input.
"""

from __future__ import annotations

import argparse
import binascii
import csv
import os
from pathlib import Path

import numpy as np

from .submission_format import MAT_KEY, MATLAB_KEY, SIDD_SHAPE, base64_length, block_count, decode_block, value_problems


def check_submission(path: str | os.PathLike, blocks: str | os.PathLike | None = None) -> list[str]:
    """Plain-words problems with a ``.csv`` or v5 ``.mat`` submission (empty list: it is valid).

    Without ``blocks`` (the noisy ``BenchmarkNoisyBlocksRaw.mat``) SIDD's float32 (40, 32, 256, 256) is assumed.
    """
    path = Path(path)
    if not path.is_file():
        return [f"{path}: file not found"]
    if blocks:
        from .sidd import read_blocks

        noisy = read_blocks(blocks)
        dtype, shape = noisy.dtype, noisy.shape
    else:
        noisy, dtype, shape = None, np.dtype(np.float32), SIDD_SHAPE
    if path.suffix.lower() == ".csv":
        return _check_csv(path, dtype, shape, noisy)
    if path.suffix.lower() == ".mat":
        return _check_mat(path, dtype, shape, noisy)
    return [f"{path}: not a submission file (expected SubmitRaw.csv or SubmitRaw.mat)"]


def _ids(ids: list[int]) -> str:
    return ", ".join(map(str, ids[:8])) + (f" … ({len(ids)} in all)" if len(ids) > 8 else "")


def _readable_rows(rows, path: Path, problems: list[str]):
    """(line, row) pairs from line 2 on; text that is not ASCII CSV ends the reading with one problem."""
    line = 1
    try:
        for line, row in enumerate(rows, start=2):  # noqa: B007 - line is read after the loop
            yield line, row
    except (csv.Error, UnicodeDecodeError) as exc:
        problems.append(f"{path}: unreadable after line {line}: not ASCII CSV text ({type(exc).__name__})")


def _check_csv(path: Path, dtype: np.dtype, shape: tuple, noisy: np.ndarray | None) -> list[str]:
    problems, seen, bad = [], [], {}
    block_shape, n_expected = shape[2:], block_count(shape)
    nbytes = int(np.prod(block_shape)) * dtype.itemsize
    flat_noisy = None if noisy is None else noisy.reshape(-1, *block_shape)
    with open(path, newline="", encoding="ascii") as fh:
        rows = csv.reader(fh)
        try:
            header = next(rows, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            return [f"{path}: not a readable CSV file ({exc})"]
        if header != ["ID", "BLOCK"]:
            problems.append(f"{path}: the first line must be the header ID,BLOCK, found {str(header)[:60]}")
        for line, row in _readable_rows(rows, path, problems):
            if len(row) != 2 or not row[0].strip().lstrip("-").isdigit():
                bad.setdefault("rows that are not 'ID,BLOCK' with an integer ID, at lines", []).append(line)
                continue
            k = int(row[0])
            seen.append(k)
            if len(row[1]) != base64_length(nbytes):
                hint = " (float64 instead of float32?)" if len(row[1]) == base64_length(2 * nbytes) else ""
                what = f"BLOCK strings of the wrong length (expected {base64_length(nbytes):,} characters for {dtype} {block_shape}){hint}, IDs"
                bad.setdefault(what, []).append(k)
                continue
            try:
                block = decode_block(row[1], dtype, block_shape)
            except (binascii.Error, ValueError, UnicodeEncodeError):
                bad.setdefault("BLOCK values that are not valid base64, IDs", []).append(k)
                continue
            if not np.isfinite(block).all():
                bad.setdefault("blocks containing NaN or infinite values, IDs", []).append(k)
            elif block.min() < 0 or block.max() > 1:
                bad.setdefault("blocks with values outside [0, 1], IDs", []).append(k)
            if flat_noisy is not None and 0 <= k < len(flat_noisy) and np.array_equal(block, flat_noisy[k]):
                bad.setdefault("blocks identical to the noisy input (not denoised?), IDs", []).append(k)
    problems += [f"{path}: {len(ids)} {what} {_ids(ids)}" for what, ids in bad.items()]
    if len(seen) != n_expected:
        problems.append(
            f"{path}: {len(seen):,} blocks, expected {n_expected:,} ({shape[0]} images × {shape[1]} blocks)"
        )
    dupes = sorted({k for k in seen if seen.count(k) > 1}) if len(seen) != len(set(seen)) else []
    missing = sorted(set(range(n_expected)) - set(seen))
    if dupes:
        problems.append(f"{path}: duplicated IDs {_ids(dupes)}")
    if missing:
        problems.append(
            f"{path}: missing IDs {_ids(missing)} (IDs run 0…{n_expected - 1}, ID = {shape[1]}·image + block)"
        )
    extra = sorted(k for k in set(seen) if not 0 <= k < n_expected)
    if extra:
        problems.append(f"{path}: IDs outside 0…{n_expected - 1}: {_ids(extra)}")
    if not (dupes or missing or extra) and seen != sorted(seen):
        problems.append(f"{path}: IDs are not in order 0, 1, 2, … (image-major, ID = {shape[1]}·image + block)")
    return problems


def _check_mat(path: Path, dtype: np.dtype, shape: tuple, noisy: np.ndarray | None) -> list[str]:
    import scipy.io

    from .matfile import mat_format

    try:
        if mat_format(path) == "v7.3":
            return [f"{path}: a MATLAB v7.3 (HDF5) file; this checker reads the v5 SubmitRaw.mat of the Python kit "
                    "(scipy.io.savemat) and SubmitRaw.csv"]  # fmt: skip
        contents = scipy.io.loadmat(path)
    except Exception as exc:  # scipy/our reader raise several types for damaged files
        return [f"{path}: not a readable MAT file ({type(exc).__name__}: {exc})"]
    keys = [k for k in contents if not k.startswith("__")]
    key = next((k for k in (MAT_KEY, MATLAB_KEY) if k in contents), None)
    if key is None:
        return [f"{path}: no variable {MAT_KEY} (or {MATLAB_KEY}); found: {', '.join(keys) or 'none'}"]
    value = contents[key]
    problems = []
    if value.dtype != dtype:
        problems.append(f"{path}: {key} is {value.dtype}, expected {dtype} (the noisy blocks' dtype)")
    if value.shape != shape:
        problems.append(
            f"{path}: {key} has shape {value.shape} ({block_count(value.shape)} blocks), expected {shape} ({block_count(shape)} blocks)"
        )
    if np.issubdtype(value.dtype, np.number):
        problems += [f"{path}: {p}" for p in value_problems(value, key)]
        if noisy is not None and value.shape == noisy.shape and np.array_equal(value, noisy):
            problems.append(f"{path}: {key} equals the noisy input (not denoised?)")
    else:
        problems.append(f"{path}: {key} is not a numeric array (a MATLAB cell array?)")
    return problems


def check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="SubmitRaw.csv or SubmitRaw.mat to verify")
    parser.add_argument(
        "--blocks",
        default="",
        help="the noisy BenchmarkNoisyBlocksRaw.mat it answers (default: assume SIDD's float32 40×32×256×256)",
    )


def check_command(args: argparse.Namespace) -> int:
    problems = check_submission(args.file, args.blocks or None)
    if problems:
        print("\n".join(problems))
        print(f"{args.file}: NOT a valid SIDD raw submission ({len(problems)} problem{'s' * (len(problems) > 1)})")
        return 1
    print(f"{args.file}: OK, a valid SIDD raw submission")
    return 0
