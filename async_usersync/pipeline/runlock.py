"""One run at a time: a lock file that refuses a second run while the first is alive.

The lock is an ``fcntl.flock`` on a file opened with ``O_NOFOLLOW``, so the kernel releases it
when its holder dies: a lock left by a killed run is simply taken (with a warning naming the
dead run), and two runs started in the same instant cannot both win. The file must be a
regular file owned by the user running the sync; a symlink or someone else's file planted in
a shared folder is refused, never followed or truncated. Its default place is the state folder
(``pipeline.run_state``).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import stat
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType

from async_usersync.errors import ConfigError, RefusedStart

logger = logging.getLogger("async_usersync.runlock")


class RunLock:
    """Use as ``with RunLock(path):`` around a run, or call ``acquire()`` and ``release()``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Takes the lock, or raises ``RefusedStart`` naming the run that holds it."""
        while True:
            fd = self._open()
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _describe(_read_holder(fd))
                os.close(fd)
                raise RefusedStart(f"another run{holder} holds the lock {self.path}; not starting a second one. "
                                   "If no run is active, the lock frees itself: just start again.") from None
            except BaseException:
                os.close(fd)
                raise
            if self._still_linked(fd):
                break
            os.close(fd)  # the previous holder removed the file while we waited to lock it: retry on the new one
        previous = _read_holder(fd)
        if previous:
            logger.warning("A previous run%s ended without releasing the lock %s; taking it over",
                           _describe(previous), self.path)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "started": datetime.now(timezone.utc).isoformat(timespec="seconds")}).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Removes the lock file, then lets go of the lock (in that order, so no one locks a removed file)."""
        if self._fd is None:
            return
        try:
            if self._still_linked(self._fd):
                self.path.unlink()
        except OSError as error:  # the run's outcome matters more; the next run takes the lock over
            logger.warning("Cannot remove the lock file %s: %s", self.path, error.strerror)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.release()

    def _open(self) -> int:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise RefusedStart(f"the lock file {self.path} is a symbolic link; refusing to follow it. "
                                   "Remove it, or choose another lock file.") from None
            raise ConfigError(f"cannot open the lock file {self.path}: {error.strerror}") from None
        info = os.fstat(fd)
        problem = None
        if not stat.S_ISREG(info.st_mode):
            problem = "is not a regular file"
        elif info.st_uid != os.geteuid():
            problem = f"belongs to another user (uid {info.st_uid}), not to the user running the sync (uid {os.geteuid()})"
        elif info.st_nlink != 1:
            problem = "has other hard links"
        if problem:
            os.close(fd)
            raise RefusedStart(f"the lock file {self.path} {problem}; refusing to use it. "
                               "Remove it, or choose another lock file.")
        return fd

    def _still_linked(self, fd: int) -> bool:
        """Whether the path still names the file ``fd`` has open."""
        try:
            on_disk = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return False
        opened = os.fstat(fd)
        return (on_disk.st_dev, on_disk.st_ino) == (opened.st_dev, opened.st_ino)


def _read_holder(fd: int) -> dict[str, object]:
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        holder = json.loads(os.read(fd, 4096) or b"{}")
    except ValueError:
        return {"pid": "unknown"}
    return holder if isinstance(holder, dict) else {"pid": "unknown"}


def _describe(holder: dict[str, object]) -> str:
    if not holder:
        return ""
    started = f", started {holder['started']}" if holder.get("started") else ""
    host = f" on {holder['host']}" if holder.get("host") else ""
    return f" (process {holder.get('pid')}{host}{started})"
