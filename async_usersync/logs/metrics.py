"""The run's counters and durations for node_exporter's textfile collector (Prometheus text format).

Every value is a gauge: it describes the last run, and is replaced by the next one. The file is
replaced atomically, so a scrape never sees a half-written file.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Mapping

from async_usersync.logs.atomic import umask_mode, write_atomically

PREFIX = "async_usersync"
_NOT_IN_NAME = re.compile(r"[^a-zA-Z0-9_]+")


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
