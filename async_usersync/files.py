"""Files the tool writes: whole or not at all (atomically), and readable by their owner only unless
they name no one (a leaf module: logs/ and pipeline/ both write such files)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Writes a temporary file in the same folder, syncs it, then renames it over ``path``.

    The file is readable by its owner only unless ``mode`` says otherwise: what the tool writes
    (summary, metrics, run state) names users or the org, whatever the umask.

    The temporary name starts with a dot and ends in ``.tmp``, so collectors that glob ``*.prom``
    or ``*.json`` never pick it up.
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def owner_only_opener(name: str, flags: int) -> int:
    """An ``open(..., opener=)`` that creates the file readable by its owner only (it names users);
    an existing file keeps the mode its admin gave it."""
    return os.open(name, flags, 0o600)


def umask_mode(mode: int = 0o644) -> int:
    """``mode`` less the process's umask: for files that name no one and that another account
    (a metrics collector) reads, so the admin's umask decides."""
    mask = os.umask(0o077)  # reading the umask sets it: briefly the strictest, never a looser one
    os.umask(mask)
    return mode & ~mask
