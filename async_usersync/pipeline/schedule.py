"""The operating guide's "not more often than every 2 hours", kept by the tool itself.

Each successful run is recorded in a small JSON file per config file, in the state folder
(``pipeline.run_state``). A run that starts sooner than the minimum interval after the last success
warns, or is refused when the guard is strict. With no record yet (the first, bulk load) nothing is
checked, except that the folder's record of older versions (one for every config in the folder)
still gets a warning, never a refusal: it cannot say which config's run it records. The record's
time is also the config's last success, which the summary and the metrics report on every run
(``last_success``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from async_usersync.errors import ConfigError, RefusedStart
from async_usersync.files import write_atomically

DEFAULT_MIN_INTERVAL = timedelta(hours=2)

logger = logging.getLogger("async_usersync.schedule")


@dataclass(frozen=True)
class ScheduleGuard:
    """``--min-interval`` and ``--refuse-too-soon``: a run sooner than ``min_interval`` after the last
    successful one warns, or with ``refuse`` raises ``RefusedStart`` (exit 5)."""
    record_path: Path
    min_interval: timedelta = DEFAULT_MIN_INTERVAL
    refuse: bool = False
    """Refuse a run that is too soon (``RefusedStart``) instead of only warning."""
    legacy_record_path: Path | None = None
    """The config folder's record of older versions, read only while ``record_path`` does not exist."""

    def last_success(self, path: Path | None = None) -> datetime | None:
        """When the last successful run recorded in ``path`` (default ``record_path``) finished, or
        None (no record, or one that cannot be trusted). Raises ConfigError when it cannot be read."""
        path = path or self.record_path
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as error:
            raise ConfigError(f"cannot read the last-run record {path}: {error.strerror}") from None
        try:
            finished = _finished(text)
        except (ValueError, KeyError, TypeError) as error:
            logger.warning("The last-run record %s is unreadable (%s); not checking the run interval", path, error)
            return None
        return finished

    def check(self, now: datetime | None = None) -> None:
        """Warns, or refuses, when the last success was less than ``min_interval`` ago. Only a warning
        when the last success comes from the folder's record of older versions (``legacy_record_path``)."""
        now = now or datetime.now(timezone.utc)
        last = self.last_success()
        legacy = last is None and self.legacy_record_path is not None and not self.record_path.exists()
        if legacy:
            last = self.last_success(self.legacy_record_path)
        if last is None:
            return
        elapsed = now - last
        if elapsed < timedelta(0):
            logger.warning("The last successful run (%s) is in the future; the clock may have changed. "
                           "Not checking the run interval", last.isoformat(timespec="seconds"))
            return
        if elapsed >= self.min_interval:
            return
        message = (f"the last successful run finished {_duration(elapsed)} ago ({last.isoformat(timespec='seconds')}); "
                   f"runs should be at least {_duration(self.min_interval)} apart")
        if self.refuse and not legacy:
            raise RefusedStart(f"{message}. Not starting.")
        if legacy:
            message += (f" (by {self.legacy_record_path}, which an older version kept for every config in this folder; "
                        f"not refusing: the run may be another config's)")
        logger.warning("Running sooner than advised: %s", message)

    def record_success(self, run_id: str, now: datetime | None = None) -> None:
        """Records a successful run, atomically (a half-written record never replaces a good one)."""
        now = now or datetime.now(timezone.utc)
        record = {"finished": now.isoformat(timespec="seconds"), "run_id": run_id}
        try:
            write_atomically(self.record_path, json.dumps(record).encode(), mode=0o600)
        except OSError as error:
            raise ConfigError(f"cannot write the last-run record {self.record_path}: {error.strerror}") from None


def last_success(record_path: Path) -> datetime | None:
    """When the last successful run recorded in ``record_path`` finished; None when there is none or
    the record cannot be read. Never raises: the monitoring files are written on every exit path, a
    configuration error's included."""
    try:
        return _finished(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _finished(record: str) -> datetime:
    """The ``finished`` time of a last-run record's text. Raises ValueError, KeyError or TypeError
    when it is not one, or has no time zone."""
    finished = datetime.fromisoformat(json.loads(record)["finished"])
    if finished.tzinfo is None:
        raise ValueError("no time zone")
    return finished


def _duration(interval: timedelta) -> str:
    minutes = round(interval.total_seconds() / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
