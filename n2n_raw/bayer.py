"""Bayer mosaics: packing to 4 channels, CFA unification and pattern-keeping augmentation.

Conventions (used everywhere in n2n_raw):

* A mosaic is an array or tensor ``(..., H, W)`` with even H and W, in *sensor* (MATLAB) orientation.
* A CFA pattern is named by its top-left 2×2 tile read row-major: ``"RGGB"`` means R at (0, 0),
  G at (0, 1), G at (1, 0), B at (1, 1).
* Packing (space-to-depth, block 2) orders the four planes (0,0), (0,1), (1,0), (1,1) of each 2×2 cell,
  so an RGGB mosaic packs to R, Gr, Gb, B. This is the order of Blind2Unblind's packing and of
  ``torch.nn.functional.pixel_unshuffle``.

Unification and augmentation follow BayerUnify/BayerAug (Liu et al., "Learning Raw Image Denoising with
Bayer Pattern Unification and Bayer Preserving Augmentation", CVPRW 2019): a pattern is turned into another
by dropping (``crop``) or reflect-padding (``pad``) one row and/or column at *both* ends, which keeps the
image centred. Works on NumPy arrays and torch tensors alike.
"""

from __future__ import annotations

from typing import Literal, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InputError

PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")
Array = TypeVar("Array", np.ndarray, torch.Tensor)


def check_pattern(pattern: str, flag: str = "") -> str:
    """Return the canonical upper-case name of ``pattern`` or raise ``InputError`` (a ``ValueError``), naming
    the command-line ``flag`` it came from when there is one."""
    name = str(pattern).upper()
    if name not in PATTERNS:
        where = f"{flag} {pattern}: " if flag else ""
        raise InputError(f"{where}unknown CFA pattern {pattern!r}; expected one of {', '.join(PATTERNS)}")
    return name


COLOURS = "RGB"  # colour codes 0 = R, 1 = G, 2 = B (DNG tag 33422, SIDD's metadata)


def cfa_colours(pattern: str) -> np.ndarray:
    """The (2, 2) colour codes (0 = R, 1 = G, 2 = B) of a CFA ``pattern``, row-major: the one map from a CFA
    name to colour planes that every module uses.

    >>> cfa_colours("GRBG").tolist()
    [[1, 0], [2, 1]]
    """
    return np.array([COLOURS.index(c) for c in check_pattern(pattern)], dtype=np.uint8).reshape(2, 2)


def pattern_from_tile(tile) -> str:
    """CFA name from a 2×2 tile of colour codes 0 = R, 1 = G, 2 = B (DNG tag 33422, row-major).

    >>> pattern_from_tile([[1, 0], [2, 1]])
    'GRBG'
    """
    codes = np.asarray(tile).reshape(-1).tolist()
    if len(codes) != 4:
        raise InputError(f"a CFA tile needs 4 entries, got {len(codes)}: {codes}")
    try:
        name = "".join(COLOURS[int(c)] if int(c) >= 0 else "?" for c in codes)
    except IndexError:
        raise InputError(f"CFA tile {codes} has codes outside 0 (R), 1 (G), 2 (B)") from None
    return check_pattern(name)


def _check_even(x: Array) -> None:
    if x.ndim < 2 or x.shape[-1] % 2 or x.shape[-2] % 2:
        raise ValueError(f"a Bayer mosaic needs even height and width, got shape {tuple(x.shape)}")


def pack_bayer(raw: Array) -> Array:
    """(..., H, W) mosaic → (..., 4, H/2, W/2) planes in order (0,0), (0,1), (1,0), (1,1)."""
    _check_even(raw)
    *lead, h, w = raw.shape
    cells = raw.reshape(*lead, h // 2, 2, w // 2, 2)
    if isinstance(raw, torch.Tensor):
        nd = cells.ndim
        return cells.permute(*range(nd - 4), nd - 3, nd - 1, nd - 4, nd - 2).reshape(*lead, 4, h // 2, w // 2)
    return np.moveaxis(cells, (-3, -1), (-4, -3)).reshape(*lead, 4, h // 2, w // 2)


def unpack_bayer(packed: Array) -> Array:
    """Exact inverse of :func:`pack_bayer`: (..., 4, h, w) → (..., 2h, 2w)."""
    if packed.ndim < 3 or packed.shape[-3] != 4:
        raise ValueError(f"packed Bayer data needs 4 planes in dim -3, got shape {tuple(packed.shape)}")
    *lead, _, h, w = packed.shape
    planes = packed.reshape(*lead, 2, 2, h, w)  # (dy, dx, i, j)
    if isinstance(packed, torch.Tensor):
        nd = planes.ndim
        return planes.permute(*range(nd - 4), nd - 2, nd - 4, nd - 1, nd - 3).reshape(*lead, 2 * h, 2 * w)
    return np.moveaxis(planes, (-4, -3), (-3, -1)).reshape(*lead, 2 * h, 2 * w)


def pattern_shift(pattern: str, target: str) -> tuple[int, int]:
    """(row, col) offset at which ``target`` starts inside a mosaic of ``pattern``."""
    pattern, target = check_pattern(pattern), check_pattern(target)
    for dy in (0, 1):
        for dx in (0, 1):
            # The tile seen from (dy, dx) is the pattern with rows/cols rolled.
            rows = [pattern[0:2], pattern[2:4]]
            rows = rows[dy:] + rows[:dy]
            rows = [r[dx:] + r[:dx] for r in rows]
            if "".join(rows) == target:
                return dy, dx
    raise ValueError(f"CFA {pattern} cannot be turned into {target} by shifting")


def _reflect_pad(x: Array, dy: int, dx: int) -> Array:
    if isinstance(x, torch.Tensor):
        flat = x.reshape(-1, 1, *x.shape[-2:])
        out = F.pad(flat, (dx, dx, dy, dy), mode="reflect")
        return out.reshape(*x.shape[:-2], *out.shape[-2:])
    widths = [(0, 0)] * (x.ndim - 2) + [(dy, dy), (dx, dx)]
    return np.pad(x, widths, mode="reflect")


def unify_cfa(raw: Array, pattern: str, target: str = "RGGB", mode: Literal["crop", "pad"] = "crop") -> Array:
    """Turn a mosaic of ``pattern`` into one of ``target`` (BayerUnify).

    ``crop`` drops one row and/or column at both ends (size − 2, for training data); ``pad`` reflect-pads
    one at both ends (size + 2, for inference; undo with :func:`uncrop_unified`). Reflect padding by one
    pixel mirrors about the border pixel, so a padded pixel is a real pixel of the *same* colour.
    """
    _check_even(raw)
    dy, dx = pattern_shift(pattern, target)
    if mode == "crop":
        h, w = raw.shape[-2:]
        return raw[..., dy : h - dy, dx : w - dx]
    if mode == "pad":
        return _reflect_pad(raw, dy, dx) if (dy or dx) else raw
    raise ValueError(f"unify_cfa mode must be 'crop' or 'pad', got {mode!r}")


def uncrop_unified(raw: Array, pattern: str, target: str = "RGGB") -> Array:
    """Inverse of ``unify_cfa(..., mode="pad")``: strip the padding, back to ``pattern``."""
    dy, dx = pattern_shift(pattern, target)
    h, w = raw.shape[-2:]
    return raw[..., dy : h - dy, dx : w - dx]


def _flip(x: Array, axis: int) -> Array:
    if isinstance(x, torch.Tensor):
        return torch.flip(x, dims=(axis,))
    return np.flip(x, axis=axis)


def _transpose(x: Array) -> Array:
    return x.transpose(-1, -2) if isinstance(x, torch.Tensor) else np.swapaxes(x, -1, -2)


def flipped_pattern(pattern: str, flip_v: bool = False, flip_h: bool = False, transpose: bool = False) -> str:
    """The CFA name after the given flips (applied first) and transpose, before any re-unification."""
    p = check_pattern(pattern)
    tile = [[p[0], p[1]], [p[2], p[3]]]
    if flip_v:
        tile = tile[::-1]
    if flip_h:
        tile = [row[::-1] for row in tile]
    if transpose:
        tile = [[tile[0][0], tile[1][0]], [tile[0][1], tile[1][1]]]
    return "".join(tile[0] + tile[1])


def bayer_aug(raw: Array, pattern: str, flip_v: bool = False, flip_h: bool = False, transpose: bool = False) -> Array:
    """Flip and/or transpose a mosaic and keep its CFA pattern (BayerAug).

    A flip along an axis moves every colour to the other phase; the result is re-unified to ``pattern``
    by cropping one pixel at both ends of that axis, so the output may be 2 rows/columns smaller. It is a
    true mirror image of the input, not a flip of the 2×2 cells.
    """
    pattern = check_pattern(pattern)
    _check_even(raw)
    out = raw
    if flip_v:
        out = _flip(out, -2)
    if flip_h:
        out = _flip(out, -1)
    if transpose:
        out = _transpose(out)
    return unify_cfa(out, flipped_pattern(pattern, flip_v, flip_h, transpose), pattern, mode="crop")
