"""The run's report files: ``--summary-json`` (the Action Summary's numbers under User Sync's
internal counter names, the phases' durations and the throttle's waits, for scripts and
dashboards) and ``--metrics-file`` (the same as gauges for node_exporter's textfile collector,
Prometheus text format). Every value describes the last run and is replaced by the next one; both
files are replaced atomically, so a reader or a scrape never sees half of one. Both are written on
every exit path, with every field and series (0 where the run did not get that far), so a dashboard
never keeps showing an older run and no series vanishes."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

import orjson

from async_usersync.config.settings import FAMILIES
from async_usersync.engine import SummaryCounters
from async_usersync.files import umask_mode, write_atomically
from async_usersync.pipeline.stages import RunResult
from async_usersync.umapi import ActionTotals
from async_usersync.redaction import redact

PREFIX = "async_usersync"
_NOT_IN_NAME = re.compile(r"[^a-zA-Z0-9_]+")


COUNTERS = ("directory_users_read", "directory_users_selected", "primary_users_read", "excluded_user_count",
            "unchanged_user_count", "primary_users_created", "updated_user_count", "adobe_user_groups_created",
            "primary_strays_processed", "umapi_actions_sent", "umapi_actions_succeeded", "umapi_actions_failed",
            "umapi_actions_not_sent", "umapi_actions_unanswered")
"""Every counter a summary holds, by User Sync's internal name where it has one (0 when not reached)."""
PHASES = ("directory_read", "adobe_read", "actions_sent", "total")
"""Every phase a summary times, in seconds (0 when not reached)."""
LIMITS = ("max_adobe_only_users", "run_history")
"""The limits that can hold actions back: ``limits.max_adobe_only_users`` (no Adobe-only action) and the
run history's guard (``limits.max_shrink`` or an emptied group: no removal, exit 6)."""


def _zero_throttle() -> dict[str, dict[str, float]]:
    return {family: {"throttled": 0, "paused_seconds": 0.0, "attempts": 0, "retries": 0} for family in FAMILIES}


@dataclass(frozen=True)
class RunSummary:
    """What ``--summary-json`` writes, and ``--metrics-file`` reads its numbers from. Every field has
    a value on every exit path (zeros for what the run did not reach), so no series vanishes."""

    run_id: str
    started: datetime
    finished: datetime
    exit_code: int
    test_mode: bool = False
    last_success: datetime | None = None
    """When the last successful run of this config file finished (``schedule.last_success``), this
    one included; None when none has succeeded yet."""
    counters: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    """User Sync's counters by internal name (``directory_users_read``, ``primary_users_created``, ...)."""
    durations: Mapping[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))
    """Seconds per phase (``directory_read``, ``adobe_read``, ``actions_sent``, ``total``)."""
    throttle: Mapping[str, Mapping[str, Any]] = field(default_factory=_zero_throttle)
    """Per API family (``action``, ``users``, ``groups``): 429s received (``throttled``), seconds paused
    (``paused_seconds``, by a 429's Retry-After or an outage), requests attempted and retried."""
    limits_held: Mapping[str, bool] = field(default_factory=lambda: dict.fromkeys(LIMITS, False))
    """Per limit (``LIMITS``): whether it held actions back in this run."""
    orgs: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Each secondary (trustee) org's own ``counters``, ``durations`` and ``throttle``, by name (the
    fields above are the primary's); empty without secondaries."""


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
        write_metrics(metrics_file, summary)


def summary_counters(counters: SummaryCounters, result: RunResult | None) -> dict[str, int]:
    """The planner's counters under User Sync's internal names, with the sink's totals when the
    stages ran (``result``; else 0): every name of ``COUNTERS``."""
    return _named_counters(counters, result.totals if result is not None else None)


def org_summaries(result: RunResult | None) -> dict[str, dict[str, Any]]:
    """Each secondary org's part of ``RunSummary.orgs``: its counters (as ``summary_counters`` names
    them), its read's duration and its throttle's figures (as ``summary_throttle`` gives them)."""
    if result is None:
        return {}
    return {name: {"counters": _named_counters(org.counters, org.totals), "durations": org.durations,
                   "throttle": summary_throttle(org.throttle)} for name, org in result.secondaries.items()}


def _named_counters(counters: SummaryCounters, totals: ActionTotals | None) -> dict[str, int]:
    return {
        "directory_users_read": counters.directory_users_read,
        "directory_users_selected": counters.directory_users_selected,
        "primary_users_read": counters.adobe_users_read,
        "excluded_user_count": counters.adobe_users_excluded,
        "unchanged_user_count": counters.adobe_users_unchanged,
        "primary_users_created": counters.adobe_users_created,
        "updated_user_count": counters.adobe_users_updated,
        "adobe_user_groups_created": counters.user_groups_created,
        "primary_strays_processed": counters.adobe_only_processed,
        "umapi_actions_sent": totals.sent if totals else 0,
        "umapi_actions_succeeded": totals.completed if totals else 0,
        "umapi_actions_failed": totals.failed if totals else 0,
        "umapi_actions_not_sent": totals.not_sent if totals else 0,
        "umapi_actions_unanswered": totals.unanswered if totals else 0,
    }


def summary_durations(result: RunResult | None, total: float) -> dict[str, float]:
    """Seconds per phase of ``PHASES``: the stages' (0 for a phase not reached) and the whole run's."""
    measured = result.durations if result is not None else {}
    return {phase: measured.get(phase, 0.0) for phase in PHASES} | {"total": total}


def summary_throttle(report: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """The client's ``throttle_report()`` with every family of ``FAMILIES`` and every figure (0 where
    the client was not reached)."""
    return {family: figures | dict((report or {}).get(family, {})) for family, figures in _zero_throttle().items()}


def write_metrics(path: Path, summary: RunSummary) -> None:
    """Writes the summary as gauges (README, "Monitoring"): ``<prefix>_<counter>`` per counter,
    ``<prefix>_phase_duration_seconds{phase}``, ``<prefix>_umapi_429_responses{family}``,
    ``<prefix>_umapi_paused_seconds{family}``, ``<prefix>_limit_held{limit}`` (1: the limit held
    actions back), the exit code, the finish time (Unix seconds; so an alert can fire when runs
    stop) and the last success's time (0: none yet). Each secondary org adds a sample
    ``{org="<name>"}`` to each counter's gauge and each family's 429 and pause gauges; the unlabelled
    samples are the primary's."""
    orgs = summary.orgs
    lines: list[str] = []
    seen: dict[str, str] = {}
    for counter, value in summary.counters.items():
        name = metric_name(counter)
        if name in seen:
            raise ValueError(f"counters '{seen[name]}' and '{counter}' give the same metric name {name}")
        seen[name] = counter
        lines += _family(name, f"The last run's {counter.replace('_', ' ')}.",
                         [("", value)] + [(_labels(org=org), report["counters"].get(counter, 0)) for org, report in orgs.items()])
    lines += _family(f"{PREFIX}_phase_duration_seconds", "How long each phase of the last run took (0: not reached).",
                     _labelled("phase", summary.durations))
    lines += _family(f"{PREFIX}_umapi_429_responses", "429 (too many requests) answers UMAPI gave the last run, per API family.",
                     _per_family(summary, "throttled"))
    lines += _family(f"{PREFIX}_umapi_paused_seconds",
                     "Seconds the last run paused an API family for a 429's Retry-After or an outage.",
                     _per_family(summary, "paused_seconds"))
    lines += _family(f"{PREFIX}_limit_held", "1 when the limit held actions back in the last run (see its log).",
                     _labelled("limit", {limit: int(held) for limit, held in summary.limits_held.items()}))
    lines += _family(f"{PREFIX}_last_run_exit_code", "The exit code of the last run (0: everything landed).",
                     [("", summary.exit_code)])
    lines += _family(f"{PREFIX}_last_run_finish_timestamp_seconds", "When the last run finished (Unix time).",
                     [("", summary.finished.timestamp())])
    lines += _family(f"{PREFIX}_last_success_timestamp_seconds",
                     "When the last successful run (exit 0) of this config file finished (Unix time; 0: none yet).",
                     [("", summary.last_success.timestamp() if summary.last_success else 0)])
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


def _labelled(label: str, values: Mapping[str, float]) -> list[tuple[str, float]]:
    return [(_labels(**{label: key}), value) for key, value in values.items()]


def _per_family(summary: RunSummary, figure: str) -> list[tuple[str, float]]:
    """One throttle figure per API family: the primary's samples, then each secondary org's."""
    return [(_labels(family=family), figures[figure]) for family, figures in summary.throttle.items()] + [
        (_labels(org=org, family=family), figures[figure])
        for org, report in summary.orgs.items() for family, figures in report["throttle"].items()]


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{label}="{_label_value(value)}"' for label, value in labels.items()) + "}"


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
