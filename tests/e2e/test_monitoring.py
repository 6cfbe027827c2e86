"""Issue 14: the summary JSON and the metrics file tell the truth on every exit path (real slapd, the
sandbox, the real command): every series is there (0, never absent), with the exit code, the last
successful run of the config file, the 429s and pauses per API family and the limits that held
actions back. The metrics file is read back with the Prometheus project's own parser."""

from __future__ import annotations

import asyncio
import json
import random
import stat
import sys
from datetime import datetime
from typing import Any

import pytest

from async_usersync.files import umask_mode
from async_usersync.pipeline.runlock import RunLock
from tests.e2e.conftest import Run, Setup, email
from tests.e2e.test_run_history import REMOVE_ALL, without
from tests.support.metrics import parse_metrics

P = "async_usersync_"
COUNTERS = ("directory_users_read", "directory_users_selected", "primary_users_read", "excluded_user_count",
            "unchanged_user_count", "primary_users_created", "updated_user_count", "adobe_user_groups_created",
            "primary_strays_processed", "umapi_actions_sent", "umapi_actions_succeeded", "umapi_actions_failed",
            "umapi_actions_not_sent", "umapi_actions_unanswered")
LABELLED = {
    "phase_duration_seconds": ("phase", ("directory_read", "adobe_read", "actions_sent", "total")),
    "umapi_429_responses": ("family", ("action", "users", "groups")),
    "umapi_paused_seconds": ("family", ("action", "users", "groups")),
    "limit_held": ("limit", ("max_adobe_only_users", "run_history")),
}
SINGLE = ("last_run_exit_code", "last_run_finish_timestamp_seconds", "last_success_timestamp_seconds")


def report_options(setup: Setup) -> tuple[str, ...]:
    return "--metrics-file", str(setup.folder / "metrics" / "usersync.prom"), "--summary-json", str(setup.folder / "summary.json")


def read_reports(setup: Setup, code: int) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """Both files, after checking that each holds every series/field and the run's exit code."""
    families = parse_metrics((setup.folder / "metrics" / "usersync.prom").read_text())
    expected = {f"{P}{name}": {""} for name in COUNTERS + SINGLE} | {
        f"{P}{name}": {f"{label}={value}" for value in values} for name, (label, values) in LABELLED.items()}
    assert {name: set(samples) for name, samples in families.items()} == expected
    assert families[f"{P}last_run_exit_code"] == {"": code}
    summary = json.loads((setup.folder / "summary.json").read_text())
    assert summary["exit_code"] == code
    assert set(summary["counters"]) == set(COUNTERS)
    assert set(summary["durations"]) == set(LABELLED["phase_duration_seconds"][1])
    assert {family: set(figures) for family, figures in summary["throttle"].items()} == {
        family: {"throttled", "paused_seconds", "attempts", "retries"} for family in ("action", "users", "groups")}
    assert set(summary["limits_held"]) == set(LABELLED["limit_held"][1])
    return families, summary


def labelled(families: dict[str, dict[str, float]], name: str) -> dict[str, float]:
    """One labelled family as {label value: value}."""
    return {labels.split("=", 1)[1]: value for labels, value in families[f"{P}{name}"].items()}


def last_success(families: dict[str, dict[str, float]], summary: dict[str, Any]) -> float:
    """The last success's Unix time, the same in both files (0 when none)."""
    seconds = families[f"{P}last_success_timestamp_seconds"][""]
    assert (summary["last_success"] is None) == (seconds == 0)
    if summary["last_success"] is not None:
        assert datetime.fromisoformat(summary["last_success"]).timestamp() == seconds
    return seconds


def warnings(run: Run) -> list[str]:
    return [line.split(" - ", 2)[-1] for line in run.out.splitlines() if " WARNING " in line]


async def test_a_success_then_a_configuration_error_keep_the_last_success(setup: Setup) -> None:
    assert (await setup.sync("--users", "mapped", "-t", *report_options(setup))).code == 0  # test mode: no success
    families, summary = read_reports(setup, 0)
    assert last_success(families, summary) == 0 and summary["test_mode"] is True

    run = await setup.sync("--users", "mapped", *report_options(setup))
    assert run.code == 0, run.out + run.err
    families, summary = read_reports(setup, 0)
    succeeded = last_success(families, summary)
    assert succeeded == pytest.approx(families[f"{P}last_run_finish_timestamp_seconds"][""], abs=2)
    assert families[f"{P}primary_users_created"] == {"": 1} and families[f"{P}umapi_actions_failed"] == {"": 0}
    assert summary["limits_held"] == {"max_adobe_only_users": False, "run_history": False}

    setup.config_file.write_text("adobe_users: [\n")  # YAML that cannot be read: exit 2 before any log opens
    broken = await setup.sync("--users", "mapped", *report_options(setup))
    assert broken.code == 2 and "user-sync-config.yml" in broken.err
    families, summary = read_reports(setup, 2)
    assert last_success(families, summary) == succeeded  # kept across runs, also when the YAML fails
    assert {name: families[f"{P}{name}"][""] for name in COUNTERS} == dict.fromkeys(COUNTERS, 0)
    assert set(labelled(families, "umapi_429_responses").values()) == {0}
    assert stat.S_IMODE((setup.folder / "summary.json").stat().st_mode) == 0o600  # names the org
    assert stat.S_IMODE((setup.folder / "metrics" / "usersync.prom").stat().st_mode) == umask_mode()

    other = setup.folder / "other-config.yml"  # the last success is kept per config file
    other.write_text("adobe_users: [\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "async_usersync", "-c", str(other), *report_options(setup),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=setup.folder)
    await process.communicate()
    assert process.returncode == 2
    families, summary = read_reports(setup, 2)
    assert last_success(families, summary) == 0


async def test_a_failed_read_a_held_lock_and_a_run_too_soon_write_both_files(setup: Setup) -> None:
    assert (await setup.sync("--users", "mapped", *report_options(setup))).code == 0
    succeeded = last_success(*read_reports(setup, 0))

    with RunLock(setup.folder / "sync.lock"):
        refused = await setup.sync("--users", "mapped", *report_options(setup))
    assert refused.code == 5 and "holds the lock" in refused.out
    families, summary = read_reports(setup, 5)
    assert last_success(families, summary) == succeeded and families[f"{P}umapi_actions_sent"] == {"": 0}

    soon = await setup.sync("--users", "mapped", "--refuse-too-soon", *report_options(setup))
    assert soon.code == 5 and "runs should be at least" in soon.out
    assert last_success(*read_reports(setup, 5)) == succeeded

    groups = [{"directory_group": "Sales", "adobe_groups": ["Sales Team"]},
              {"directory_group": "Renamed", "adobe_groups": ["Eng Team"]}]  # a mapped group the directory lacks
    setup.write(main={"directory_users": {"user_identity_type": "federatedID", "default_country_code": "US",
                                          "connectors": {"ldap": "connector-ldap.yml"}, "groups": groups}})
    failed = await setup.sync("--users", "mapped", "--process-groups", *report_options(setup))
    assert failed.code == 3, failed.out + failed.err
    families, summary = read_reports(setup, 3)
    assert last_success(families, summary) == succeeded
    assert families[f"{P}directory_users_read"][""] > 0 and labelled(families, "phase_duration_seconds")["adobe_read"] > 0


async def test_limits_that_held_actions_back_are_flagged_and_warned(setup: Setup) -> None:
    setup.write(main={"limits": {"max_adobe_only_users": 1}})  # gone1 and gone2 are Adobe-only
    over = await setup.sync(*REMOVE_ALL, *report_options(setup))
    assert over.code == 0, over.out + over.err
    assert {email("gone1"), email("gone2")} <= (await setup.users()).keys()
    families, summary = read_reports(setup, 0)
    assert labelled(families, "limit_held") == {"max_adobe_only_users": 1, "run_history": 0}
    assert summary["limits_held"] == {"max_adobe_only_users": True, "run_history": False}
    assert [line for line in warnings(over) if "limit held" in line] == [
        "A limit held actions back in this run: max_adobe_only_users (no Adobe-only user was acted on)"]
    succeeded = last_success(families, summary)

    setup.write(ldap=without("alice", "erin"))  # the directory shrank from 6 users to 4: more than 20 %
    held = await setup.sync(*REMOVE_ALL, "--min-interval", "0s", *report_options(setup))
    assert held.code == 6, held.out + held.err
    families, summary = read_reports(setup, 6)
    assert labelled(families, "limit_held") == {"max_adobe_only_users": 0, "run_history": 1}
    assert summary["limits_held"] == {"max_adobe_only_users": False, "run_history": True}
    assert [line for line in warnings(held) if "limit held" in line] == [
        "A limit held actions back in this run: the run history (no removal was sent; see limits.max_shrink and "
        "--accept-shrink)"]
    assert last_success(families, summary) == succeeded  # a held run is not a success


async def test_a_429_storm_shows_in_the_429_counts_and_the_paused_seconds(setup: Setup) -> None:
    setup.org.config.update({"faults": "action:429=0.5;users:429=0.5"})  # Retry-After 1 s each
    setup.org.sandbox.random = random.Random(59)  # draws 429, ok, ok, 429, ok...: users page 0 twice, page 1 (the end signal), then action
    run = await setup.sync(*REMOVE_ALL, *report_options(setup))
    assert run.code == 0, run.out + run.err
    families, summary = read_reports(setup, 0)
    stats = (await setup._get("stats"))["families"]
    sent_429 = {family: stats[family]["throttled"] for family in ("action", "users", "groups")}
    assert sent_429["action"] > 0 and sent_429["users"] > 0 and sent_429["groups"] == 0, (stats, families)
    assert labelled(families, "umapi_429_responses") == sent_429
    paused = labelled(families, "umapi_paused_seconds")
    assert paused["action"] >= 1 and paused["users"] >= 1 and paused["groups"] == 0
    assert {family: (figures["throttled"], figures["paused_seconds"]) for family, figures in summary["throttle"].items()} == {
        family: (sent_429[family], paused[family]) for family in sent_429}


async def test_an_unexpected_error_writes_both_files(setup: Setup) -> None:
    # A bug stands in for any: the planner's last step raises where no error is expected.
    program = ("import sys\nfrom async_usersync.engine.planner import SyncPlanner\n"
               "def broken(self): raise RuntimeError('a bug')\n"
               "SyncPlanner.finish = broken\nfrom async_usersync.cli.main import main\nmain()\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", program, "--users", "mapped", *report_options(setup), "-c", str(setup.config_file),
        "--lock-file", str(setup.folder / "sync.lock"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=setup.folder)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1, out.decode() + err.decode()
    assert b"Unexpected internal error (RuntimeError: a bug)" in out
    families, _ = read_reports(setup, 1)
    assert families[f"{P}primary_users_read"][""] > 0 and families[f"{P}limit_held"] == {
        "limit=max_adobe_only_users": 0, "limit=run_history": 0}

