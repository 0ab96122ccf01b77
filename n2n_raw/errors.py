"""User-facing errors: the CLI prints them as one line and exits with status 2."""

from __future__ import annotations


class N2NError(Exception):
    """An error caused by the user's input (a file, a flag); its message names the file and the problem."""


class DataError(N2NError):
    """A data file is missing, unreadable or not what it should be."""


class CheckpointError(N2NError):
    """A checkpoint is missing, truncated, or not an n2n_raw checkpoint."""


class InputError(N2NError, ValueError):
    """A value a user gives (a flag, a field of a file) that is not allowed; also a ValueError for callers
    that use the library directly."""
