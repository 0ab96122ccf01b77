"""Atomic file writing: a file appears under its final name complete, or not at all.

Every writer of the package goes through :func:`atomic_write`: the content is written to a temporary file
in the destination folder (``.NAME.XXXX.tmp``), flushed to disk, then renamed over the final name. An
interruption (an error, Ctrl-C, a full disk, ``kill -9``) therefore never leaves a partial file under the
final name; at worst a hidden ``.tmp`` file that :func:`remove_stale_temporaries` clears.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

TEMP_SUFFIX = ".tmp"


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)`` then rename to ``path``; the temporary file is removed on failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def atomic_write_all(writes: list[tuple[str | os.PathLike, Callable[[str], None]]]) -> list[Path]:
    """Several files, all or nothing: every ``write(tmp)`` runs first, and only when all succeeded are they
    renamed into place (renames within a folder do not fail for want of space). On any failure every
    temporary file is removed and no final name is touched, so an old set of files stays as it was.
    """
    done: list[tuple[str, Path]] = []
    try:
        for path, write in writes:
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
            os.close(fd)
            done.append((tmp, path))
            write(tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
    except BaseException:
        for tmp, _ in done:
            if os.path.exists(tmp):
                os.remove(tmp)
        raise
    for tmp, path in done:
        os.replace(tmp, path)
    return [path for _, path in done]


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""

    def write(tmp: str) -> None:
        Path(tmp).write_text(text)

    return atomic_write(path, write)


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the ``.NAME.XXXX.tmp`` files that killed writers left in ``folder``; returns what was removed.

    Call it only while holding the folder (e.g. a training run's lock): a live writer's file looks the same.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    stale = [p for p in folder.glob(f".*{TEMP_SUFFIX}") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
