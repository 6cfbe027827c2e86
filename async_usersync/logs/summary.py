"""``--summary-json PATH``: the run's counters, timings and throttle waits, for scripts and dashboards."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

import orjson

from async_usersync.logs.atomic import write_atomically
from async_usersync.redaction import redact


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    started: datetime
    finished: datetime
    exit_code: int
    test_mode: bool = False
    counters: Mapping[str, int] = field(default_factory=dict)
    """User Sync's counters by internal name (``directory_users_read``, ``primary_users_created``, ...)."""
    durations: Mapping[str, float] = field(default_factory=dict)
    """Seconds per phase (``directory_read``, ``adobe_read``, ``actions_sent``, ``total``)."""
    throttle: Mapping[str, Any] = field(default_factory=dict)
    """The client's throttle: waits, seconds waited, 429 retries, per API family where known."""


def write_summary_json(path: Path, summary: RunSummary) -> None:
    """Writes the summary as one JSON object, atomically, with any registered secret masked."""
    text = orjson.dumps(asdict(summary), option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, (redact(text) + "\n").encode())
