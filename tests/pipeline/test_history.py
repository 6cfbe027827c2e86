"""The run history file: one per config file, a picture per scope, a damaged file is a first run."""

from __future__ import annotations

import logging
from pathlib import Path

from async_usersync.config.options import SyncOptions
from async_usersync.engine.history import RunPicture
from async_usersync.pipeline.history import RunHistory, history_scope
from async_usersync.pipeline.run_state import RunStatePaths


def test_two_configs_in_one_folder_keep_their_own_history(tmp_path: Path) -> None:
    students, staff = RunStatePaths.of(tmp_path / "students.yml").history, RunStatePaths.of(tmp_path / "staff.yml").history
    assert students != staff and students.parent == staff.parent == tmp_path
    scope = history_scope(SyncOptions(users="mapped"))
    RunHistory(students, scope).record(RunPicture(10, 20, {"Sales": 3}), "run1")
    assert RunHistory(students, scope).last_picture() == RunPicture(10, 20, {"Sales": 3})
    assert RunHistory(staff, scope).last_picture() is None
    assert oct(students.stat().st_mode & 0o777) == "0o600"


def test_scopes_are_kept_apart_and_replaced_alone(tmp_path: Path) -> None:
    path = RunStatePaths.of(tmp_path / "user-sync-config.yml").history
    mapped = history_scope(SyncOptions(users="mapped"))
    group = history_scope(SyncOptions(users="group", user_groups=("Sales",)))
    assert mapped == "users mapped; adobe-users all; connector ldap" and group == "users group Sales; adobe-users all; connector ldap"
    RunHistory(path, mapped).record(RunPicture(10, 20), "run1")
    RunHistory(path, group).record(RunPicture(2, 20), "run2")
    RunHistory(path, mapped).record(RunPicture(11, 21), "run3")
    assert RunHistory(path, mapped).last_picture() == RunPicture(11, 21)
    assert RunHistory(path, group).last_picture() == RunPicture(2, 20)


def test_a_damaged_history_warns_and_counts_as_a_first_run(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.WARNING, "async_usersync.history")
    path = RunStatePaths.of(tmp_path / "user-sync-config.yml").history
    path.write_text("{not json")
    assert RunHistory(path, "users all; adobe-users all; connector ldap").last_picture() is None
    assert "is unreadable" in caplog.text and str(path) in caplog.text
