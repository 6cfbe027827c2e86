"""The metrics file (parsed back as Prometheus text) and the --summary-json file."""

from __future__ import annotations

import json
import math
import os
import stat
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from async_usersync.pipeline.reports import (COUNTERS, LIMITS, PHASES, PREFIX, RunSummary, metric_name, write_metrics,
                                             write_summary_json)
from async_usersync.redaction import register_secret
from tests.support.metrics import parse_metrics

FINISHED = datetime(2026, 11, 28, 7, 5, 0, 500_000, tzinfo=timezone.utc)


def summary(**fields: Any) -> RunSummary:
    return RunSummary(run_id="r-1", started=datetime(2026, 11, 28, 7, 0, tzinfo=timezone.utc), finished=FINISHED,
                      exit_code=fields.pop("exit_code", 0), **fields)


def test_metrics_parse_back_with_every_value(tmp_path: Path) -> None:
    path = tmp_path / "textfile" / "async_usersync.prom"
    write_metrics(path, summary(
        exit_code=4, last_success=FINISHED,
        counters={"directory_users_read": 1200, "primary_users_created": 7, "Adobe-only users removed": 0},
        durations={"directory_read": 1.25, 'odd "phase"\\': math.inf},
        throttle={"action": {"throttled": 3, "paused_seconds": 4.5}, "users": {"throttled": 0, "paused_seconds": 0.0}},
        limits_held={"max_adobe_only_users": True, "run_history": False}))
    families = parse_metrics(path.read_text())
    assert families == {
        "async_usersync_directory_users_read": {"": 1200},
        "async_usersync_primary_users_created": {"": 7},
        "async_usersync_adobe_only_users_removed": {"": 0},
        "async_usersync_phase_duration_seconds": {"phase=directory_read": 1.25, 'phase=odd "phase"\\': math.inf},
        "async_usersync_umapi_429_responses": {"family=action": 3, "family=users": 0},
        "async_usersync_umapi_paused_seconds": {"family=action": 4.5, "family=users": 0},
        "async_usersync_limit_held": {"limit=max_adobe_only_users": 1, "limit=run_history": 0},
        "async_usersync_last_run_exit_code": {"": 4},
        "async_usersync_last_run_finish_timestamp_seconds": {"": FINISHED.timestamp()},
        "async_usersync_last_success_timestamp_seconds": {"": FINISHED.timestamp()},
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # node_exporter runs as another user
    assert os.listdir(path.parent) == ["async_usersync.prom"]  # no temporary file left behind


def test_a_summary_with_nothing_reached_gives_every_series_as_zero(tmp_path: Path) -> None:
    path = tmp_path / "async_usersync.prom"
    write_metrics(path, summary(exit_code=2))
    families = parse_metrics(path.read_text())
    assert {name: families[metric_name(name)] for name in COUNTERS} == dict.fromkeys(COUNTERS, {"": 0})
    assert families[f"{PREFIX}_phase_duration_seconds"] == {f"phase={phase}": 0 for phase in PHASES}
    for figure in ("umapi_429_responses", "umapi_paused_seconds"):
        assert families[f"{PREFIX}_{figure}"] == {f"family={family}": 0 for family in ("action", "users", "groups")}
    assert families[f"{PREFIX}_limit_held"] == {f"limit={limit}": 0 for limit in LIMITS}
    assert families[f"{PREFIX}_last_success_timestamp_seconds"] == {"": 0}
    assert families[f"{PREFIX}_last_run_exit_code"] == {"": 2}


def test_metrics_replace_the_previous_file_whole_and_refuse_clashing_names(tmp_path: Path) -> None:
    path = tmp_path / "async_usersync.prom"
    write_metrics(path, summary(counters={"a": 1, "b": 2}))
    inode = path.stat().st_ino
    write_metrics(path, summary(counters={"a": 3}))
    assert path.stat().st_ino != inode  # renamed over, not rewritten in place
    assert "async_usersync_b" not in parse_metrics(path.read_text())
    with pytest.raises(ValueError, match="counters 'users read' and 'users_read' give the same metric name"):
        write_metrics(path, summary(counters={"users read": 1, "users_read": 2}))
    assert parse_metrics(path.read_text())["async_usersync_a"] == {"": 3}


def test_the_summary_json_holds_the_run_and_no_secret(tmp_path: Path) -> None:
    register_secret("hunter2-secret")
    path = tmp_path / "summary.json"
    write_summary_json(path, summary(counters={"directory_users_read": 10}, durations={"total": 300.5},
                                     throttle={"action": {"throttled": 3, "note": "token hunter2-secret"}}))
    assert json.loads(path.read_text()) == {
        "run_id": "r-1", "started": "2026-11-28T07:00:00+00:00", "finished": "2026-11-28T07:05:00.500000+00:00",
        "exit_code": 0, "test_mode": False, "last_success": None, "counters": {"directory_users_read": 10},
        "durations": {"total": 300.5}, "throttle": {"action": {"throttled": 3, "note": "token ********"}},
        "limits_held": {"max_adobe_only_users": False, "run_history": False}, "orgs": {}}


def test_secondary_orgs_add_samples_labelled_with_the_org(tmp_path: Path) -> None:
    """Issue 16: each counter's gauge, and each family's 429 and pause gauges, get a sample per
    secondary org; the unlabelled (or family-only) samples are the primary's."""
    path = tmp_path / "async_usersync.prom"
    org2_throttle = {"action": {"throttled": 2, "paused_seconds": 1.5}}
    write_metrics(path, summary(counters={"primary_users_created": 3, "umapi_actions_sent": 5},
                                throttle={"action": {"throttled": 0, "paused_seconds": 0.0}},
                                orgs={"org2": {"counters": {"primary_users_created": 1, "umapi_actions_sent": 2},
                                               "throttle": org2_throttle},
                                      "org3": {"counters": {"umapi_actions_sent": 0}, "throttle": {}}}))
    families = parse_metrics(path.read_text())
    assert families[f"{PREFIX}_primary_users_created"] == {"": 3, "org=org2": 1, "org=org3": 0}
    assert families[f"{PREFIX}_umapi_actions_sent"] == {"": 5, "org=org2": 2, "org=org3": 0}
    assert families[f"{PREFIX}_umapi_429_responses"] == {"family=action": 0, "family=action,org=org2": 2}
    assert families[f"{PREFIX}_umapi_paused_seconds"] == {"family=action": 0, "family=action,org=org2": 1.5}
