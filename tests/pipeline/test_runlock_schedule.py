"""The run lock (two real processes racing, a dead holder, symlink tricks) and the schedule guard."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from async_usersync.errors import ExitCode, RefusedStart
from async_usersync.pipeline.run_state import RunStatePaths
from async_usersync.pipeline.runlock import RunLock
from async_usersync.pipeline.schedule import ScheduleGuard, last_success

REPO = Path(__file__).parents[2]

RACER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from async_usersync.errors import RefusedStart
    from async_usersync.pipeline.runlock import RunLock

    lock_path, start_file = Path(sys.argv[1]), Path(sys.argv[2])
    while not start_file.exists():
        time.sleep(0.001)
    try:
        with RunLock(lock_path):
            print("won", flush=True)
            time.sleep(1.0)
    except RefusedStart as refused:
        print(f"refused: {refused}", flush=True)
        sys.exit(refused.exit_code)
""")


def start(script: str, *args: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_of_two_racing_starts_exactly_one_runs_and_the_other_is_refused(tmp_path: Path) -> None:
    lock_path, go = tmp_path / "async-usersync.lock", tmp_path / "go"
    for attempt in range(3):
        racers = [start(RACER, lock_path, go) for _ in range(2)]
        go.touch()
        results = sorted((racer.communicate(timeout=60)[0], racer.returncode) for racer in racers)
        go.unlink()
        (refused, refused_code), (won, won_code) = results
        assert (won, won_code) == ("won\n", 0)
        assert refused_code == ExitCode.REFUSED_START
        # The holder's details are written just after it locks, so a racer may see the lock but not them yet.
        assert re.match(rf"refused: another run( \(process \d+ on .*\))? holds the lock {re.escape(str(lock_path))}; "
                        "not starting a second one", refused), refused
        assert not lock_path.exists()  # the winner removed it on the way out


HOLDER_KILLED = "import os, sys; from pathlib import Path; from async_usersync.pipeline.runlock import RunLock; " \
                "RunLock(Path(sys.argv[1])).acquire(); os._exit(9)"


def test_a_lock_left_by_a_dead_run_is_taken_over_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lock_path = tmp_path / "async-usersync.lock"
    dead = start(HOLDER_KILLED, lock_path)
    dead.communicate(timeout=60)
    assert json.loads(lock_path.read_text())["pid"] == dead.pid
    with RunLock(lock_path):
        assert json.loads(lock_path.read_text())["pid"] == os.getpid()
    assert f"A previous run (process {dead.pid} on " in caplog.text
    assert f"ended without releasing the lock {lock_path}; taking it over" in caplog.text


def test_a_second_lock_in_the_same_process_is_refused_and_the_first_still_holds(tmp_path: Path) -> None:
    lock_path = RunStatePaths.of(tmp_path / "user-sync-config.yml").lock
    assert lock_path == tmp_path / "async-usersync.user-sync-config.lock"
    with RunLock(lock_path):
        with pytest.raises(RefusedStart, match=f"another run \\(process {os.getpid()} on .*\\) holds the lock"):
            RunLock(lock_path).acquire()
        assert json.loads(lock_path.read_text())["pid"] == os.getpid()


def test_a_symlinked_lock_file_is_refused_and_its_target_left_alone(tmp_path: Path) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    lock_path = tmp_path / "async-usersync.lock"
    lock_path.symlink_to(precious)
    with pytest.raises(RefusedStart, match="is a symbolic link; refusing to follow it"):
        RunLock(lock_path).acquire()
    assert precious.read_text() == "keep me"


def test_a_hard_linked_or_foreign_lock_file_is_refused(tmp_path: Path) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    lock_path = tmp_path / "async-usersync.lock"
    os.link(precious, lock_path)
    with pytest.raises(RefusedStart, match="has other hard links"):
        RunLock(lock_path).acquire()
    assert precious.read_text() == "keep me"
    if os.geteuid() == 0:  # only root can give a file away; as root, check someone else's file is refused
        lock_path.unlink()
        lock_path.touch()
        os.chown(lock_path, 12345, 12345)
        with pytest.raises(RefusedStart, match="belongs to another user \\(uid 12345\\)"):
            RunLock(lock_path).acquire()


NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def test_the_first_run_is_never_held_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ScheduleGuard(RunStatePaths.of(tmp_path / "user-sync-config.yml").last_run, refuse=True).check(NOW)
    assert caplog.records == []


def test_a_run_too_soon_warns_or_is_refused_and_a_later_one_passes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    record = tmp_path / "async-usersync.user-sync-config.last-run.json"
    ScheduleGuard(record).record_success("run-1", NOW)
    assert json.loads(record.read_text()) == {"finished": "2026-11-28T12:00:00+00:00", "run_id": "run-1"}
    soon = NOW + timedelta(minutes=45)
    with caplog.at_level(logging.WARNING):
        ScheduleGuard(record).check(soon)
    assert ("Running sooner than advised: the last successful run finished 45 min ago (2026-11-28T12:00:00+00:00); "
            "runs should be at least 2 h 00 min apart") in caplog.text
    with pytest.raises(RefusedStart, match="finished 45 min ago .*Not starting") as refused:
        ScheduleGuard(record, refuse=True).check(soon)
    assert refused.value.exit_code == ExitCode.REFUSED_START
    ScheduleGuard(record, refuse=True).check(NOW + timedelta(hours=2))
    ScheduleGuard(record, min_interval=timedelta(minutes=30), refuse=True).check(soon)


def test_an_unreadable_record_warns_and_does_not_block(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    record = tmp_path / "async-usersync.user-sync-config.last-run.json"
    record.write_text("{not json")
    ScheduleGuard(record, refuse=True).check(NOW)
    assert "is unreadable" in caplog.text


def test_the_lock_names_its_holder_to_its_owner_only(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        with RunLock(tmp_path / "async-usersync.lock"):
            assert oct((tmp_path / "async-usersync.lock").stat().st_mode & 0o777) == "0o600"
    finally:
        os.umask(previous)


def test_the_last_success_is_kept_per_config_file_and_never_raises(tmp_path: Path) -> None:
    first, second = (RunStatePaths.of(tmp_path / name).last_run for name in ("user-sync-config.yml", "other-org.yml"))
    assert last_success(first) is None  # no record yet
    ScheduleGuard(first).record_success("run-1", NOW)
    ScheduleGuard(second).record_success("run-2", NOW + timedelta(hours=3))
    assert last_success(first) == NOW and last_success(second) == NOW + timedelta(hours=3)
    for unreadable in ("{", "[]", '{"finished": []}', '{"finished": "noon"}', '{"finished": "2026-11-28T12:00:00"}'):
        first.write_text(unreadable)
        assert last_success(first) is None
