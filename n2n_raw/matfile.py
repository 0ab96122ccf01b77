"""MATLAB .mat files, both kinds SIDD uses.

* v7.3 (HDF5; SIDD's full raw images): read with h5py. MATLAB stores column-major, so h5py sees every
  array transposed; :func:`read_mat` transposes back and returns arrays in **MATLAB orientation**.
* v5/v7 (SIDD's metadata, validation/benchmark blocks, ``BenchmarkBlocks32.mat``): read with scipy, which
  already returns MATLAB orientation.

:func:`write_mat73` writes genuine v7.3 files (512-byte user block with MATLAB's 128-byte header, datasets
stored transposed, ``MATLAB_class`` attributes), so ``scipy.io.loadmat`` refuses them exactly as it refuses
real SIDD images.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import DataError

_MATLAB_CLASS = {
    np.dtype("float32"): b"single", np.dtype("float64"): b"double", np.dtype("uint8"): b"uint8",
    np.dtype("uint16"): b"uint16", np.dtype("int32"): b"int32", np.dtype("bool"): b"logical",
}  # fmt: skip


def mat_format(path: str | os.PathLike) -> str:
    """'v7.3' (HDF5), 'v5' (classic MAT) or raise DataError naming the file and what was found."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    with open(path, "rb") as fh:
        header = fh.read(128)
    if h5py.is_hdf5(path):
        return "v7.3"
    if header[:6] == b"MATLAB":
        return "v5"
    if len(header) < 128:
        raise DataError(f"{path}: not a MAT file (only {len(header)} bytes; truncated?)")
    raise DataError(f"{path}: not a MAT file (header starts {header[:20]!r})")


def _pick_key(path: Path, keys: list[str], key: str | None, kind: str) -> str:
    """``key`` if the file has it, or the file's only variable when ``key`` is None."""
    if key is None:
        if len(keys) != 1:
            raise DataError(f"{path}: expected one variable, found {keys}")
        return keys[0]
    if key not in keys:
        raise DataError(f"{path}: {kind} file has no variable '{key}' (has: {', '.join(keys) or 'none'})")
    return key


def _read_v73(path: Path, key: str | None) -> np.ndarray:
    import h5py

    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise DataError(f"{path}: unreadable HDF5/MAT v7.3 file ({exc})") from None
    with fh:
        key = _pick_key(path, [k for k in fh.keys() if not k.startswith("#")], key, "MAT v7.3")
        ds = fh[key]
        if not isinstance(ds, h5py.Dataset):
            raise DataError(f"{path}: variable '{key}' is not a numeric array")
        if "MATLAB_class" not in ds.attrs and "MATLAB_class" not in fh.attrs and not _has_matlab_userblock(path):
            raise DataError(f"{path}: HDF5 file but not a MATLAB v7.3 file (no MATLAB header or MATLAB_class)")
        try:
            data = ds[()]
        except OSError as exc:
            raise DataError(f"{path}: variable '{key}' cannot be read (truncated file?): {exc}") from None
    return np.ascontiguousarray(data.T)  # h5py sees MATLAB's column-major array transposed


def _has_matlab_userblock(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(19) == b"MATLAB 7.3 MAT-file"


def _read_v5(path: Path, key: str | None) -> np.ndarray:
    import scipy.io

    try:
        contents = scipy.io.loadmat(path)
    except Exception as exc:  # scipy raises ValueError/TypeError/OSError on damaged files
        raise DataError(f"{path}: unreadable MAT v5 file ({type(exc).__name__}: {exc})") from None
    return contents[_pick_key(path, [k for k in contents if not k.startswith("__")], key, "MAT v5")]


def read_mat(path: str | os.PathLike, key: str | None = None) -> np.ndarray:
    """Variable ``key`` (or the only variable) of a v5 or v7.3 MAT file, in MATLAB orientation."""
    path = Path(path)
    fmt = mat_format(path)
    return _read_v73(path, key) if fmt == "v7.3" else _read_v5(path, key)


def write_mat73(path: str | os.PathLike, variables: dict[str, np.ndarray]) -> None:
    """Write numeric arrays as a MATLAB v7.3 file, laid out as MATLAB itself writes them."""
    import h5py

    path = Path(path)
    with h5py.File(path, "w", userblock_size=512) as fh:
        for name, value in variables.items():
            value = np.asarray(value)
            ds = fh.create_dataset(name, data=value.T)  # column-major: h5py sees the transpose
            ds.attrs["MATLAB_class"] = np.bytes_(_MATLAB_CLASS.get(value.dtype, b"double"))
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Jan  1 00:00:00 1970 HDF5 schema 1.00 ."
    header = text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as fh:
        fh.write(header)
