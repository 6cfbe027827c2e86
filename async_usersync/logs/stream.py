"""Logging that never blocks the event loop.

``streaming_logs`` puts one handler on the ``async_usersync`` logger. The handler cleans the
record of secrets, formats it and appends the text to a queue; one writer task takes the queue
in batches and writes them with aiofiles (file log, JSON-lines log) or a worker thread (the
console), so a slow disk or a full pipe to ``mail`` never stalls the sync. The queue is drained
before the context exits, whatever the reason: a normal end, an exception, or a cancellation
(Ctrl-C, or SIGTERM through ``pipeline.interrupts``).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import shutil
import sys
import threading
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Iterable, TextIO

import aiofiles
import orjson

from async_usersync.config.settings import LogSettings
from async_usersync.errors import ConfigError
from async_usersync.files import owner_only_opener
from async_usersync.logs.progress import Progress
from async_usersync.redaction import _STANDARD_RECORD_FIELDS, SecretRedactor, redact

LINE_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s - %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
ROOT_LOGGER = "async_usersync"
BATCH_SIZE = 1024
"""Lines joined and handed to a write between two awaits."""

Entry = tuple[int, bool, str, "bytes | None"]
"""A queued record: level, whether it is a progress line, its text line, its JSON line (if wanted).
Plain tuples of strings are not tracked by the garbage collector, so a long queue does not make
collections (and the loop stalls they cause) longer, as queued LogRecords would."""
BAR_REFRESH_SECONDS = 0.2

logger = logging.getLogger("async_usersync.logs")


class LogStream:
    """The running log stream of one run; ``streaming_logs`` makes it."""

    def __init__(self, settings: LogSettings, run_id: str, console: TextIO | None, terminal: TextIO | None,
                 progress_interval: float) -> None:
        self.settings = settings
        self.run_id = run_id
        self.started = datetime.now()
        self.log_file: Path | None = settings.file_log_path(self.started) if settings.log_to_file else None
        self.records_written = 0
        self._console = console
        self._terminal = terminal if settings.log_progress and terminal is not None and terminal.isatty() else None
        self._progress_interval = progress_interval
        self._bars: list[Progress] = []
        self._bar_lines_shown = 0
        self._pending: collections.deque[Entry] = collections.deque()
        self._enqueued = 0
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wakeup = asyncio.Event()
        self._written = asyncio.Condition()
        self._closing = False
        self._line_formatter = logging.Formatter(LINE_FORMAT, DATE_FORMAT)
        self._text_file: Any = None
        self._json_file: Any = None

    def progress(self, what: str, total: int | None) -> Progress:
        """Starts counting one phase; call ``advance()`` per item and ``finish()`` at the end."""
        progress = Progress(what, total, interval=self._progress_interval, enabled=self.settings.log_progress)
        if self._terminal is not None:
            self._bars.append(progress)
            self._wakeup.set()
        return progress

    async def flush(self) -> None:
        """Waits until every record logged so far is written."""
        target = self._enqueued
        async with self._written:
            self._wakeup.set()
            await self._written.wait_for(lambda: self.records_written >= target)

    # -- the handler side: runs in whoever logs, must stay cheap ------------------------------

    def enqueue(self, record: logging.LogRecord) -> None:
        """Formats the record now (its arguments may change later) and queues the text."""
        wants_json = self._json_file is not None and record.levelno >= self.settings.file_level
        self._pending.append((record.levelno, hasattr(record, "progress"), self._line_formatter.format(record),
                              self._json_line(record) if wants_json else None))
        self._enqueued += 1  # safe across threads: logging holds the handler's lock around emit()
        if threading.get_ident() == self._loop_thread:
            self._wakeup.set()
        else:
            try:
                self._loop.call_soon_threadsafe(self._wakeup.set)
            except RuntimeError:  # the loop is closed; the record stays queued and is lost with it
                pass

    # -- the writer task ----------------------------------------------------------------------

    async def open(self) -> None:
        """Opens the file and JSON logs asked for; raises ConfigError naming the ``logging.`` key."""
        if self.log_file is not None:
            self._text_file = await _open_log(self.log_file, "file_log_directory", self.settings.config_file)
        if self.settings.json_log_file is not None:
            self._json_file = await _open_log(self.settings.json_log_file, "json_log_file", self.settings.config_file,
                                              binary=True)

    async def run_writer(self) -> None:
        """The writer task: writes the queue in batches until ``request_close`` and the queue is empty."""
        while True:
            timeout = BAR_REFRESH_SECONDS if self._bars else None
            try:
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            except TimeoutError:
                pass
            self._wakeup.clear()
            while self._pending:
                batch = [self._pending.popleft() for _ in range(min(BATCH_SIZE, len(self._pending)))]
                await self._write_batch(batch)
                async with self._written:
                    self.records_written += len(batch)
                    self._written.notify_all()
            if self._bars:
                await asyncio.to_thread(self._paint, "")
                self._bars = [bar for bar in self._bars if not bar.finished]
            if self._closing and not self._pending:
                return

    def request_close(self) -> None:
        """Tells the writer to stop once the queue is empty."""
        self._closing = True
        self._wakeup.set()

    async def close_files(self) -> None:
        """Closes the file and JSON logs."""
        for file in (self._text_file, self._json_file):
            if file is not None:
                await file.close()

    async def _write_batch(self, batch: list[Entry]) -> None:
        file_level, console_level = self.settings.file_level, self.settings.console_level
        if self._text_file is not None:
            await self._write_to(self._text_file, _joined(line for level, _, line, _ in batch if level >= file_level))
        if self._json_file is not None:
            text = b"".join(entry for *_, entry in batch if entry is not None)
            if text:
                await self._write_to(self._json_file, redact(text.decode()).encode())
        if self._console is not None:
            bars_shown = self._terminal is not None
            console_text = _joined(line for level, progress, line, _ in batch
                                   if level >= console_level and not (bars_shown and progress))
            if console_text:
                await asyncio.to_thread(self._paint, console_text)

    def _json_line(self, record: logging.LogRecord) -> bytes:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "run_id": self.run_id,
            "pid": record.process,
        }
        fields = {name: value for name, value in vars(record).items() if name not in _STANDARD_RECORD_FIELDS}
        if record.exc_info and not record.exc_text:
            record.exc_text = self._line_formatter.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        options = orjson.OPT_APPEND_NEWLINE | orjson.OPT_NON_STR_KEYS
        try:
            return orjson.dumps({**fields, **entry}, default=str, option=options)
        except orjson.JSONEncodeError:  # a field orjson cannot hold (a huge int, a cycle): keep it as text
            return orjson.dumps({**{name: repr(value) for name, value in fields.items()}, **entry}, option=options)

    async def _write_to(self, file: Any, data: str | bytes) -> None:
        if not data:
            return
        try:
            await file.write(data)
            await file.flush()
        except OSError as error:  # a full disk must not end the sync; say so once, where it can be seen
            print(f"async-usersync: cannot write the log file {file.name}: {error.strerror}", file=sys.__stderr__)
            if file is self._text_file:
                self._text_file = None
            else:
                self._json_file = None

    def _paint(self, console_text: str) -> None:
        """Runs in a worker thread: takes the bars down, writes console lines, draws the bars again."""
        terminal = self._terminal
        if terminal is not None and self._bar_lines_shown:
            terminal.write("\x1b[F\x1b[2K" * self._bar_lines_shown)
            terminal.flush()
            self._bar_lines_shown = 0
        if console_text and self._console is not None:
            try:
                self._console.write(_showable(console_text, self._console))
                self._console.flush()
            except (OSError, ValueError):  # the reader of a pipe went away, or the stream was closed
                self._console = None
        if terminal is not None:
            width = shutil.get_terminal_size().columns - 1
            shown = [bar for bar in self._bars if not bar.finished]
            if shown:
                terminal.write("".join(bar.bar_line(width) + "\n" for bar in shown))
                terminal.flush()
            self._bar_lines_shown = len(shown)


def _joined(lines: Iterable[str]) -> str:
    """The lines as one text to write, cleaned of secrets (also those inside ``extra=`` objects)."""
    text = "\n".join(lines)
    return redact(text + "\n") if text else ""


def _showable(text: str, console: TextIO) -> str:
    """The text with each character the console's encoding cannot show replaced (by ``?`` or the
    encoding's own mark), so a name like ``Équipe Łódź`` on a cp1252 console costs two characters,
    not the rest of the run's output. The log files are always UTF-8 and get the text as is."""
    encoding = getattr(console, "encoding", None)
    if not encoding or getattr(console, "errors", "strict") != "strict":
        return text
    try:
        return text.encode(encoding, "replace").decode(encoding)
    except LookupError:
        return text


class _QueueHandler(logging.Handler):
    def __init__(self, stream: LogStream) -> None:
        super().__init__(logging.NOTSET)
        self.addFilter(SecretRedactor())
        self._stream = stream

    def emit(self, record: logging.LogRecord) -> None:
        self._stream.enqueue(record)


async def _open_log(path: Path, key: str, config_file: Path | None, binary: bool = False) -> Any:
    """Opens a log file for appending (text in UTF-8, or ``binary``), creating it readable by its
    owner only (logs name users). Raises ConfigError naming ``config_file`` and ``logging.<key>``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if binary:
            return await aiofiles.open(path, "ab", opener=owner_only_opener)
        return await aiofiles.open(path, "a", encoding="utf-8", opener=owner_only_opener)
    except OSError as error:
        blocker = next((folder for folder in (path.parent, *path.parent.parents)
                        if folder.exists() and not folder.is_dir()), None)
        why = f"{blocker} is a file, not a folder" if blocker is not None else error.strerror
        raise ConfigError(f"cannot open the log file {path}: {why}", file=config_file, key=f"logging.{key}") from None


@asynccontextmanager
async def streaming_logs(settings: LogSettings, *, run_id: str, console: TextIO | None = sys.stdout,
                         terminal: TextIO | None = sys.stderr, progress_interval: float = 10.0
                         ) -> AsyncIterator[LogStream]:
    """Streams every ``async_usersync.*`` log record to the console, the file log and the JSON log.

    ``terminal`` receives live progress bars when it is a terminal; otherwise progress shows as
    ``N/M (x%)`` log lines every ``progress_interval`` seconds. Raises ConfigError (naming the
    ``logging.`` key) when a log file cannot be opened.
    """
    stream = LogStream(settings, run_id, console, terminal, progress_interval)
    await stream.open()
    handler = _QueueHandler(stream)
    root = logging.getLogger(ROOT_LOGGER)
    previous_level = root.level
    levels = [settings.console_level] if console is not None else []
    levels += [settings.file_level] if stream.log_file or settings.json_log_file else []
    root.setLevel(min(levels, default=logging.CRITICAL))
    root.addHandler(handler)
    writer = asyncio.create_task(stream.run_writer(), name="async-usersync log writer")
    for note in settings.notes:
        logger.warning("%s", note)
    try:
        yield stream
    finally:
        stream.request_close()
        try:
            await writer
        finally:
            root.removeHandler(handler)
            root.setLevel(previous_level)
            await stream.close_files()

