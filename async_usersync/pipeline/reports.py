"""The run's report files: ``--summary-json`` (the Action Summary's numbers under User Sync's
internal counter names, the phases' durations and the throttle's waits, for scripts and
dashboards) and ``--metrics-file`` (the same as gauges for node_exporter's textfile collector,
Prometheus text format). Every value describes the last run and is replaced by the next one; both
files are replaced atomically, so a reader or a scrape never sees half of one."""

from __future__ import annotations

import math
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

import orjson

from async_usersync.engine import SummaryCounters
from async_usersync.files import umask_mode, write_atomically
from async_usersync.pipeline.stages import RunResult
from async_usersync.redaction import redact

PREFIX = "async_usersync"
_NOT_IN_NAME = re.compile(r"[^a-zA-Z0-9_]+")


@dataclass(frozen=True)
class RunSummary:
    """What ``--summary-json`` writes, and ``--metrics-file`` reads its numbers from."""

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


def write_reports(summary_json: Path | None, metrics_file: Path | None, summary: RunSummary) -> None:
    """Writes the files asked for (None: not asked); raises OSError when one cannot be written."""
    if summary_json is not None:
        write_summary_json(summary_json, summary)
    if metrics_file is not None:
        write_metrics(metrics_file, summary.counters, summary.durations, exit_code=summary.exit_code)


def summary_counters(counters: SummaryCounters, result: RunResult | None) -> dict[str, int]:
    """The planner's counters under User Sync's internal names, with the sink's totals when the
    stages ran (``result``)."""
    named = {
        "directory_users_read": counters.directory_users_read,
        "directory_users_selected": counters.directory_users_selected,
        "primary_users_read": counters.adobe_users_read,
        "excluded_user_count": counters.adobe_users_excluded,
        "unchanged_user_count": counters.adobe_users_unchanged,
        "primary_users_created": counters.adobe_users_created,
        "updated_user_count": counters.adobe_users_updated,
        "adobe_user_groups_created": counters.user_groups_created,
        "primary_strays_processed": counters.adobe_only_processed,
    }
    if result is not None:
        named |= {"umapi_actions_sent": result.totals.sent, "umapi_actions_succeeded": result.totals.completed,
                  "umapi_actions_failed": result.totals.failed, "umapi_actions_not_sent": result.totals.not_sent,
                  "umapi_actions_unanswered": result.totals.unanswered}
    return named


def write_metrics(path: Path, counters: Mapping[str, float], durations: Mapping[str, float], *,
                  exit_code: int | None = None, finished: float | None = None) -> None:
    """Writes ``<prefix>_<counter>`` gauges, one ``<prefix>_phase_duration_seconds{phase=...}`` per
    duration, the exit code, and the finish time (so an alert can fire when runs stop)."""
    lines: list[str] = []
    seen: dict[str, str] = {}
    for counter, value in counters.items():
        name = metric_name(counter)
        if name in seen:
            raise ValueError(f"counters '{seen[name]}' and '{counter}' give the same metric name {name}")
        seen[name] = counter
        lines += _family(name, f"The last run's {counter.replace('_', ' ')}.", [("", value)])
    if durations:
        lines += _family(f"{PREFIX}_phase_duration_seconds", "How long each phase of the last run took.",
                         [(f'{{phase="{_label_value(phase)}"}}', seconds) for phase, seconds in durations.items()])
    if exit_code is not None:
        lines += _family(f"{PREFIX}_last_run_exit_code", "The exit code of the last run (0: everything landed).",
                         [("", exit_code)])
    lines += _family(f"{PREFIX}_last_run_finish_timestamp_seconds", "When the last run finished (Unix time).",
                     [("", time.time() if finished is None else finished)])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, ("\n".join(lines) + "\n").encode(), mode=umask_mode())  # counts only; node_exporter reads it


def metric_name(counter: str) -> str:
    """``async_usersync_<counter>``, with what a Prometheus name cannot hold turned into ``_``; raises
    ValueError when nothing is left of ``counter``."""
    name = f"{PREFIX}_{_NOT_IN_NAME.sub('_', counter).strip('_').lower()}"
    if name == f"{PREFIX}_":
        raise ValueError(f"counter {counter!r} gives no metric name")
    return name


def _family(name: str, help_text: str, samples: list[tuple[str, float]]) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} gauge",
            *(f"{name}{labels} {_number(value)}" for labels, value in samples)]


def _label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"metric values are numbers, not {type(value).__name__}")
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)
