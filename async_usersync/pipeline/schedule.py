"""The operating guide's "not more often than every 2 hours", kept by the tool itself.

Each successful run is recorded in a small JSON file (beside the lock by default). A run that
starts sooner than the minimum interval after the last success warns, or is refused when the
guard is strict. With no record yet (the first, bulk load) nothing is checked. The record also
keeps each config file's own last success (``last_success``), which the summary and the metrics
report on every run.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from async_usersync.errors import ConfigError, RefusedStart
from async_usersync.files import write_atomically

RECORD_FILE_NAME = "async-usersync.last-run.json"
DEFAULT_MIN_INTERVAL = timedelta(hours=2)

logger = logging.getLogger("async_usersync.schedule")


def default_record_path(config_file: Path) -> Path:
    """The last-run record, beside the config file."""
    return config_file.parent / RECORD_FILE_NAME


@dataclass(frozen=True)
class ScheduleGuard:
    """``--min-interval`` and ``--refuse-too-soon``: a run sooner than ``min_interval`` after the last
    successful one warns, or with ``refuse`` raises ``RefusedStart`` (exit 5)."""
    record_path: Path
    min_interval: timedelta = DEFAULT_MIN_INTERVAL
    refuse: bool = False
    """Refuse a run that is too soon (``RefusedStart``) instead of only warning."""

    def last_success(self) -> datetime | None:
        """When the last successful run finished, or None (no record, or one that cannot be trusted)."""
        try:
            text = self.record_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as error:
            raise ConfigError(f"cannot read the last-run record {self.record_path}: {error.strerror}") from None
        try:
            finished = datetime.fromisoformat(json.loads(text)["finished"])
            if finished.tzinfo is None:
                raise ValueError("no time zone")
        except (ValueError, KeyError, TypeError) as error:
            logger.warning("The last-run record %s is unreadable (%s); not checking the run interval",
                           self.record_path, error)
            return None
        return finished

    def check(self, now: datetime | None = None) -> None:
        """Warns, or refuses, when the last success was less than ``min_interval`` ago."""
        now = now or datetime.now(timezone.utc)
        last = self.last_success()
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
        if self.refuse:
            raise RefusedStart(f"{message}. Not starting.")
        logger.warning("Running sooner than advised: %s", message)

    def record_success(self, run_id: str, config_file: Path, now: datetime | None = None) -> None:
        """Records a successful run of ``config_file``, atomically (a half-written record never
        replaces a good one); the other config files' last successes in the record are kept."""
        finished = (now or datetime.now(timezone.utc)).isoformat(timespec="seconds")
        record = {"finished": finished, "run_id": run_id,
                  "last_success": _last_successes(self.record_path) | {_state_key(config_file): finished}}
        try:
            write_atomically(self.record_path, json.dumps(record).encode(), mode=0o600)
        except OSError as error:
            raise ConfigError(f"cannot write the last-run record {self.record_path}: {error.strerror}") from None


def last_success(record_path: Path, config_file: Path) -> datetime | None:
    """When the last successful run of ``config_file`` finished, as the last-run record keeps it per
    config file; None when none is recorded or the record cannot be read (never raises: the
    monitoring files are written on every exit path, a configuration error's included)."""
    try:
        finished = datetime.fromisoformat(_last_successes(record_path)[_state_key(config_file)])
    except (KeyError, TypeError, ValueError):
        return None
    return finished if finished.tzinfo is not None else None


def _last_successes(record_path: Path) -> dict[str, str]:
    """The record's last success per config file (empty when there is no readable record)."""
    try:
        successes = json.loads(record_path.read_text(encoding="utf-8")).get("last_success", {})
    except (OSError, ValueError, AttributeError):
        return {}
    return successes if isinstance(successes, dict) else {}


def _state_key(config_file: Path) -> str:
    """A config file's key in the run state: its absolute path."""
    return str(config_file.resolve())


def _duration(interval: timedelta) -> str:
    minutes = round(interval.total_seconds() / 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
