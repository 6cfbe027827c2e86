"""``--summary-json`` and ``--metrics-file``: the Action Summary's numbers under User Sync's
internal counter names, with the phases' durations and the throttle's waits."""

from __future__ import annotations

from pathlib import Path

from async_usersync.engine import SummaryCounters
from async_usersync.logs.metrics import write_metrics
from async_usersync.logs.summary import RunSummary, write_summary_json
from async_usersync.pipeline.stages import RunResult


def write_reports(summary_json: Path | None, metrics_file: Path | None, summary: RunSummary) -> None:
    if summary_json is not None:
        write_summary_json(summary_json, summary)
    if metrics_file is not None:
        write_metrics(metrics_file, summary.counters, summary.durations, exit_code=summary.exit_code)


def summary_counters(counters: SummaryCounters, result: RunResult | None) -> dict[str, int]:
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
                  "umapi_actions_failed": result.totals.failed, "umapi_actions_not_sent": result.totals.not_sent}
    return named
