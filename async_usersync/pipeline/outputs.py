"""The files a run will write, checked before anything is read or sent.

A summary, metrics file, Adobe-only user file or state folder that cannot be written used to be
found at the end, after every change had gone out: the run then ended with exit 2 (or an ERROR and
exit 0) and no trace of what it sent. ``check_writable`` tries each place the way the run will
write it, leaving nothing behind, and raises a ConfigError naming the path and the option or key
that named it.
"""

from __future__ import annotations

import errno
import os
import tempfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Iterable, Mapping

from async_usersync.errors import ConfigError


class WriteKind(Enum):
    """How the run writes a path, which decides what must be writable."""
    REPLACED = "replaced"
    """Written to a temporary file beside it, then renamed over it: its folder must take new files
    (a missing folder is created, so the nearest existing one must)."""
    IN_PLACE = "in place"
    """Opened and written (created when missing, in a folder that must exist): the file itself, or
    its folder when it is missing."""
    FOLDER = "folder"
    """A folder the run creates files in: it must exist and take new files."""


@dataclass(frozen=True)
class OutputPath:
    """One place a run writes, and what named it (``option --summary-json``, ``in F, key '...'``)."""
    path: Path
    named_by: str
    kind: WriteKind


def check_writable(outputs: Iterable[OutputPath], reads: Mapping[Path, str] | None = None) -> None:
    """Raises ConfigError for the first output the run could not write: ``<named_by>: cannot write
    <path>: <reason>``, also when it is a file the run reads (``reads``: each path -> what it is, as
    ``the users file the run reads``) or another output. Creates and removes at most a probe file
    per folder; creates no folder."""
    taken = {os.path.realpath(path): what for path, what in (reads or {}).items()}
    for output in outputs:
        path = output.path.absolute()  # a cron job's working folder is not obvious: name the full path
        reason = _problem(path, output.kind)
        if output.kind is not WriteKind.FOLDER:
            real = os.path.realpath(path)
            reason = reason or (f"it is also {taken[real]}" if real in taken else None)
            taken.setdefault(real, f"written for {output.named_by}")
        if reason:
            raise ConfigError(f"{output.named_by}: cannot write {path}: {reason}")


def _problem(path: Path, kind: WriteKind) -> str | None:
    if kind is WriteKind.FOLDER:
        if not path.is_dir():
            return ("the folder does not exist: create it, owned by the account that runs the sync"
                    if not path.exists() else "not a folder")
        return _probe(path)
    if path.is_dir():
        return "it is a folder"
    if kind is WriteKind.IN_PLACE and path.exists():
        try:
            # Appending changes nothing (no truncation); non-blocking, so that a FIFO without a reader cannot hang the run.
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_NONBLOCK", 0)))
        except OSError as error:
            return error.strerror or str(error)
        return None
    folder = path.parent
    while kind is WriteKind.REPLACED and not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.exists():
        return f"the folder {folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    return _probe(folder)


def _probe(folder: Path) -> str | None:
    """Creates a file in ``folder`` and removes it at once: the one honest test (permissions, ACLs,
    read-only mounts, a full inode table). Returns why it failed, or None."""
    try:
        handle, name = tempfile.mkstemp(dir=folder, prefix=".async-usersync-probe.", suffix=".tmp")
    except OSError as error:
        return f"the folder {folder} does not take new files ({error.strerror or errno.errorcode.get(error.errno or 0)})"
    os.close(handle)
    os.unlink(name)
    return None
