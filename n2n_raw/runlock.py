"""One writer per run folder: an advisory lock on ``<run>/.lock``.

The lock is an ``flock`` held for the life of the process, so the operating system releases it when the
process ends in any way, ``kill -9`` included: a lock left by a dead process is never stale, the next run
simply takes it. The file holds the holder's pid and host, to say who has it.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

from .errors import N2NError

LOCK_NAME = ".lock"


class RunLockedError(N2NError):
    """Another live process is writing to this run folder."""


class RunLock:
    """``with RunLock(folder):`` holds the folder's lock, or raises :class:`RunLockedError` naming the holder."""

    def __init__(self, folder: str | os.PathLike, enabled: bool = True):
        self.path = Path(folder) / LOCK_NAME
        self.enabled = enabled
        self._fh = None

    def __enter__(self) -> RunLock:
        if not self.enabled:
            return self
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+")
        except OSError as exc:
            raise N2NError(f"{self.path.parent}: cannot write the run folder ({exc.strerror})") from None
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise RunLockedError(
                f"{self.path.parent}: run folder in use by {holder}; wait for it or choose another --out"
            ) from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        fh.flush()
        self._fh = fh
        return self

    def __exit__(self, *exc) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
