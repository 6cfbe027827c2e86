"""The LDAP read in a child process, so that it runs on a core of its own.

Reading LDAP is CPU-bound Python (bonsai builds every entry, then each becomes a DirectoryUser),
and so are the Adobe read and the planner. In one process they take turns on the GIL; here the
child reads and converts the directory while the parent reads Adobe and plans.

The exchange, between our own processes only:
- parent -> child, on stdin: one pickled request (settings, selection, ...), then EOF. Never in
  argv or the environment, where ``ps`` and /proc would show the bind password.
- child -> parent, on its stdout: frames of a 4-byte big-endian length and a pickled tuple:
  ``("users", [row, ...])`` (a row is a DirectoryUser's fields as a tuple), ``("unreadable",
  UnreadableDirectoryUser)``, ``("log", logger name, level, message)``, ``("missing_group", name)``
  (before any users), then a final ``("done",)`` or ``("error", class name, message)``.
  The pipe gives backpressure: a child ahead of the parent blocks on a full pipe.
- The child's stderr is read by the parent and logged (redacted), line by line: nothing the
  child prints reaches the terminal or the cron mail unfiltered.

Without a final frame (the child was killed or crashed: bonsai is C code) the read is a
ReadError naming the exit status, never a short list of users.
"""

from __future__ import annotations

import asyncio
import faulthandler
import logging
import os
import pickle
import struct
import sys
import threading
from dataclasses import dataclass
from typing import Any, AsyncGenerator, BinaryIO, Iterable, Mapping

from async_usersync.config.settings import LdapSettings
from async_usersync.errors import ConfigError, ReadError, UsersyncError
from async_usersync.redaction import redact, register_secret
from async_usersync.records import DirectoryRecord, DirectoryUser, IdentityType, UnreadableDirectoryUser
from async_usersync.sources.base import LOG, MissingGroupHandler, UserSelection
from async_usersync.sources.ldap import LdapSource

__all__ = ["IN_PROCESS_VARIABLE", "LdapProcessSource", "ldap_in_child_process"]

IN_PROCESS_VARIABLE = "ASYNC_USERSYNC_LDAP_IN_PROCESS"
"""Set to 1 to read LDAP in the main process (no child): for debugging, or a one-core machine."""
BATCH_SIZE = 1000
"""Users per frame: large enough that a frame costs little, small enough to stream."""
READ_AHEAD_BYTES = 4 << 20
"""How far the parent's buffer lets the child run ahead (about 20,000 users): while the parent
plans or reads Adobe pages, the child keeps reading."""
PIPE_BYTES = 1 << 20
"""The child's stdout pipe, enlarged from 64 KiB (Linux allows up to 1 MiB unprivileged)."""
_HEADER = struct.Struct(">I")
_ERRORS: dict[str, type[UsersyncError]] = {"ReadError": ReadError, "ConfigError": ConfigError}
"""The errors that cross from child to parent as themselves; anything else is a ReadError."""


def ldap_in_child_process() -> bool:
    """False when the operator asked for the in-process read (``ASYNC_USERSYNC_LDAP_IN_PROCESS=1``)."""
    return os.environ.get(IN_PROCESS_VARIABLE, "").strip().lower() not in ("1", "true", "yes")


@dataclass(frozen=True)
class _Request:
    settings: LdapSettings
    default_identity_type: IdentityType
    extra_attributes: tuple[str, ...]
    pool_size: int
    selection: UserSelection
    log_level: int
    """The parent's level for our loggers: the child sends nothing the parent would drop."""
    pipe_bytes: int


class LdapProcessSource:
    """An LdapSource that runs in a child process and streams its users to this one."""

    def __init__(self, settings: LdapSettings, default_identity_type: IdentityType, *,
                 extra_attributes: Iterable[str] = (), pool_size: int = 4) -> None:
        self.settings = settings
        self.default_identity_type = default_identity_type
        self.extra_attributes = tuple(extra_attributes)
        self.pool_size = pool_size

    async def users(self, selection: UserSelection, on_missing_group: MissingGroupHandler | None = None
                    ) -> AsyncGenerator[DirectoryRecord, None]:
        """``LdapSource.users`` run in a child process (``python -m`` this module), its users, log
        records and missing groups streamed back over a pipe. Raises the child's ReadError or ConfigError
        as it raised it, and ReadError when the child cannot be started or ends before the read is done."""
        request = _Request(self.settings, self.default_identity_type, self.extra_attributes, self.pool_size,
                           selection, logging.getLogger("async_usersync").getEffectiveLevel(), PIPE_BYTES)
        try:
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-m", __name__, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, limit=READ_AHEAD_BYTES // 2)
        except OSError as error:
            raise ReadError(f"the LDAP reader process could not be started ({sys.executable}: {error}); "
                            f"set {IN_PROCESS_VARIABLE}=1 to read in this process") from None
        stderr_logger = asyncio.ensure_future(_log_lines(child.stderr))
        try:
            assert child.stdin is not None and child.stdout is not None
            try:
                child.stdin.write(pickle.dumps(request, pickle.HIGHEST_PROTOCOL))
                await child.stdin.drain()
                child.stdin.close()
            except OSError as error:  # the child died before reading its request
                raise ReadError(f"the LDAP reader process could not be given its work ({error}; "
                                f"{_status(await child.wait())})") from None
            shared_groups: dict[frozenset[str], frozenset[str]] = {}
            while True:
                frame = await _read_frame(child.stdout)
                if frame is None:
                    await stderr_logger
                    raise ReadError(f"the LDAP reader process ended without finishing the read ({_status(await child.wait())})")
                kind = frame[0]
                if kind == "users":
                    for row in frame[1]:
                        yield _user_from_row(row, shared_groups)
                elif kind == "unreadable":
                    yield frame[1]
                elif kind == "log":
                    logging.getLogger(frame[1]).log(frame[2], "%s", frame[3])
                elif kind == "missing_group":
                    if on_missing_group is not None:
                        on_missing_group(frame[1])
                elif kind == "error":
                    error_type = _ERRORS.get(frame[1])
                    if error_type is None:
                        raise ReadError(f"the LDAP reader process failed: {frame[2]}")
                    raise error_type(frame[2])
                else:  # "done"
                    break
            await child.wait()
        finally:
            if child.returncode is None:
                child.kill()
                await _drain(child.stdout)
                await child.wait()
            stderr_logger.cancel()


async def _drain(stream: asyncio.StreamReader | None) -> None:
    """Reads and drops what a killed child left in its stdout, up to the end. ``Process.wait()``
    returns only once every pipe is closed, and a reader that stopped reading (a full read-ahead
    buffer: a child ahead of the parent) never sees the end on its own, so without this a
    cancelled read would wait forever. At most a pipe's and a buffer's worth is left."""
    assert stream is not None
    while await stream.read(1 << 16):
        pass


async def _read_frame(stream: asyncio.StreamReader) -> tuple[Any, ...] | None:
    """The next frame, or None when the child's stdout ended (the child has gone)."""
    try:
        header = await stream.readexactly(_HEADER.size)
        return pickle.loads(await stream.readexactly(_HEADER.unpack(header)[0]))
    except asyncio.IncompleteReadError:
        return None


async def _log_lines(stream: asyncio.StreamReader | None) -> None:
    """Logs whatever the child writes to stderr (a crash report, a C library's complaint), redacted."""
    assert stream is not None
    async for line in stream:
        text = line.decode("utf8", "replace").rstrip()
        if text:
            LOG.warning("LDAP reader process: %s", redact(text))


def _status(returncode: int) -> str:
    if returncode < 0:
        return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


# --- the child -------------------------------------------------------------------------------------

class _FrameWriter:
    """Writes frames to the parent; log records arrive from bonsai's worker threads too, hence the lock."""

    def __init__(self, output: BinaryIO) -> None:
        self._output = output
        self._lock = threading.Lock()

    def send(self, frame: tuple[Any, ...]) -> None:
        """Writes one frame, length-prefixed and pickled, and flushes it."""
        payload = pickle.dumps(frame, pickle.HIGHEST_PROTOCOL)
        with self._lock:
            self._output.write(_HEADER.pack(len(payload)))
            self._output.write(payload)
            self._output.flush()


class _FrameLogHandler(logging.Handler):
    def __init__(self, writer: _FrameWriter) -> None:
        super().__init__()
        self._writer = writer

    def emit(self, record: logging.LogRecord) -> None:
        """Sends the record to the parent as a ``log`` frame, its message redacted."""
        try:
            self._writer.send(("log", record.name, record.levelno, redact(record.getMessage())))
        except Exception:  # noqa: BLE001 - a log record must never end the read
            self.handleError(record)


# The users cross the pipe as plain tuples, not pickled DirectoryUser objects: pickling and
# unpickling the slotted records themselves took 1.7 times as long per user as these rows with the
# record built back (20,000 users, 6.9 against 4.0 us). These two functions are the only ones that
# know the tuple's order; the parent shares one frozenset per distinct group set, as the sources do.
UserRow = tuple[IdentityType, str, str | None, str, str | None, str | None, str | None, frozenset[str],
                Mapping[str, Any], str]


def _user_row(user: DirectoryUser) -> UserRow:
    """``user`` as the tuple the child sends."""
    return (user.identity_type, user.username, user.domain, user.email, user.firstname, user.lastname, user.country,
            user.groups, user.source_attributes, user.origin)


def _user_from_row(row: UserRow, shared_groups: dict[frozenset[str], frozenset[str]]) -> DirectoryUser:
    """The user of a row the child sent; equal group sets become one shared, interned frozenset."""
    groups = shared_groups.get(row[7])
    if groups is None:
        groups = shared_groups[row[7]] = frozenset(sys.intern(name) for name in row[7])
    return DirectoryUser(row[0], row[1], row[2], row[3], row[4], row[5], row[6], groups, row[8], row[9])


async def _send_users(request: _Request, writer: _FrameWriter) -> None:
    source = LdapSource(request.settings, request.default_identity_type,
                        extra_attributes=request.extra_attributes, pool_size=request.pool_size)
    batch: list[UserRow] = []
    async for user in source.users(request.selection, lambda name: writer.send(("missing_group", name))):
        if isinstance(user, UnreadableDirectoryUser):
            writer.send(("unreadable", user))
            continue
        batch.append(_user_row(user))
        if len(batch) >= BATCH_SIZE:
            writer.send(("users", batch))
            batch = []
    if batch:
        writer.send(("users", batch))


def child_main() -> None:
    """Reads the request from stdin, streams the users to the saved stdout. fd 1 is pointed at
    stderr first, so a stray print (ours or a C library's) cannot corrupt the frames."""
    frames = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    faulthandler.enable()  # a crash in bonsai's C code leaves its Python stack in the parent's log
    writer = _FrameWriter(frames)
    logging.raiseExceptions = False  # a failing handler must not print to stderr
    try:
        request: _Request = pickle.load(sys.stdin.buffer)
        try:
            import fcntl
            fcntl.fcntl(frames.fileno(), fcntl.F_SETPIPE_SZ, request.pipe_bytes)
        except (ImportError, AttributeError, OSError):  # not Linux, or a lower pipe-max-size: the default pipe works
            pass
        register_secret(request.settings.password)
        root = logging.getLogger()
        root.setLevel(request.log_level)
        root.addHandler(_FrameLogHandler(writer))
        asyncio.run(_send_users(request, writer))
        writer.send(("done",))
    except UsersyncError as error:
        writer.send(("error", type(error).__name__, str(error)))
    except Exception as error:  # noqa: BLE001 - a bug: the parent reports it as a failed read
        writer.send(("error", "", redact(f"{type(error).__name__}: {error}")))
    finally:
        frames.close()


if __name__ == "__main__":
    try:
        child_main()
    except BrokenPipeError:  # the parent stopped reading (its run was cancelled): nothing to tell it
        os._exit(1)
