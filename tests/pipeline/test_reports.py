"""The metrics file (parsed back as Prometheus text) and the --summary-json file."""

from __future__ import annotations

import json
import math
import os
import re
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest

from async_usersync.pipeline.reports import RunSummary, write_metrics, write_summary_json
from async_usersync.redaction import register_secret

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$')


def parse_prometheus(text: str) -> dict[str, dict[str, float]]:
    """A strict reader of the text exposition format: HELP and TYPE before each family's samples."""
    assert text.endswith("\n")
    families: dict[str, dict[str, float]] = {}
    declared: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            assert name not in families, f"family {name} declared twice"
            families[name] = {}
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            declared[name] = kind
        else:
            match = SAMPLE.match(line)
            assert match, f"not a sample line: {line!r}"
            name, labels, value = match.group(1), match.group(2) or "", match.group(3)
            assert declared.get(name) == "gauge" and name in families, f"sample before its HELP/TYPE: {line!r}"
            assert labels not in families[name], f"duplicate sample {line!r}"
            families[name][labels] = float(value)
    return families


def test_metrics_parse_back_with_every_value(tmp_path: Path) -> None:
    path = tmp_path / "textfile" / "async_usersync.prom"
    write_metrics(path, {"directory_users_read": 1200, "primary_users_created": 7, "Adobe-only users removed": 0},
                  {"directory_read": 1.25, 'odd "phase"\\': math.inf}, exit_code=4, finished=1_764_000_000.5)
    families = parse_prometheus(path.read_text())
    assert families == {
        "async_usersync_directory_users_read": {"": 1200},
        "async_usersync_primary_users_created": {"": 7},
        "async_usersync_adobe_only_users_removed": {"": 0},
        "async_usersync_phase_duration_seconds": {'{phase="directory_read"}': 1.25, '{phase="odd \\"phase\\"\\\\"}': math.inf},
        "async_usersync_last_run_exit_code": {"": 4},
        "async_usersync_last_run_finish_timestamp_seconds": {"": 1_764_000_000.5},
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # node_exporter runs as another user
    assert os.listdir(path.parent) == ["async_usersync.prom"]  # no temporary file left behind


def test_metrics_replace_the_previous_file_whole_and_refuse_clashing_names(tmp_path: Path) -> None:
    path = tmp_path / "async_usersync.prom"
    write_metrics(path, {"a": 1, "b": 2}, {})
    inode = path.stat().st_ino
    write_metrics(path, {"a": 3}, {})
    assert path.stat().st_ino != inode  # renamed over, not rewritten in place
    assert "async_usersync_b" not in parse_prometheus(path.read_text())
    with pytest.raises(ValueError, match="counters 'users read' and 'users_read' give the same metric name"):
        write_metrics(path, {"users read": 1, "users_read": 2}, {})
    assert parse_prometheus(path.read_text())["async_usersync_a"] == {"": 3}


def test_the_summary_json_holds_the_run_and_no_secret(tmp_path: Path) -> None:
    register_secret("hunter2-secret")
    summary = RunSummary(run_id="r-1", started=datetime(2026, 11, 28, 7, 0, tzinfo=timezone.utc),
                         finished=datetime(2026, 11, 28, 7, 5, tzinfo=timezone.utc), exit_code=0,
                         counters={"directory_users_read": 10}, durations={"total": 300.5},
                         throttle={"waits": 3, "wait_seconds": 1.5, "note": "token hunter2-secret"})
    path = tmp_path / "summary.json"
    write_summary_json(path, summary)
    assert json.loads(path.read_text()) == {
        "run_id": "r-1", "started": "2026-11-28T07:00:00+00:00", "finished": "2026-11-28T07:05:00+00:00",
        "exit_code": 0, "test_mode": False, "counters": {"directory_users_read": 10}, "durations": {"total": 300.5},
        "throttle": {"waits": 3, "wait_seconds": 1.5, "note": "token ********"}, "orgs": {}}


def test_metrics_of_secondary_orgs_are_samples_labelled_with_the_org(tmp_path: Path) -> None:
    """Issue 16: each counter's gauge gets a sample per secondary org; the unlabelled one is the primary's."""
    path = tmp_path / "async_usersync.prom"
    write_metrics(path, {"primary_users_created": 3, "umapi_actions_sent": 5}, {},
                  orgs={"org2": {"primary_users_created": 1, "umapi_actions_sent": 2}, "org3": {"umapi_actions_sent": 0}})
    metrics = parse_prometheus(path.read_text())
    assert metrics["async_usersync_primary_users_created"] == {"": 3, '{org="org2"}': 1}
    assert metrics["async_usersync_umapi_actions_sent"] == {"": 5, '{org="org2"}': 2, '{org="org3"}': 0}
