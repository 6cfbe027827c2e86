"""One loader for a run: the connector files it reads, the command line's overrides of them, and
the one ``--users`` rule (what the directory source reads, and what the planner keeps)."""

from __future__ import annotations

from pathlib import Path

import pytest

from async_usersync.config import load_run_settings
from async_usersync.config.settings import CsvSettings, UserSelection
from tests.config.test_user_sync_config import write_config

MAPPED = ("Staff", "staff")


@pytest.mark.parametrize("given, read, kept", [
    ({}, UserSelection("all", MAPPED), None),
    ({"users": "mapped"}, UserSelection("mapped", MAPPED), {"staff"}),
    ({"users": ["group", "Sales,Staff"], "process_groups": True}, UserSelection("group", ("Sales", "Staff", "staff")),
     {"sales", "staff"}),
    ({"users": "mapped", "adobe_only_user_list": "strays.csv"}, UserSelection("all", MAPPED), None),
])
def test_one_users_rule_gives_the_source_its_selection_and_the_planner_its_filter(
        tmp_path: Path, given: dict[str, object], read: UserSelection, kept: set[str] | None) -> None:
    settings = load_run_settings(write_config(tmp_path), given)
    assert settings.selection == read
    assert settings.rules.directory_group_filter == kept


def test_the_command_lines_csv_file_replaces_file_path_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "connector-csv.yml").write_text("file_path: other.csv\ndelimiter: ';'\n")
    path = write_config(tmp_path, directory_users={"connectors": {"csv": "connector-csv.yml"}})
    settings = load_run_settings(path, {"connector": ["csv", str(tmp_path / "cli.csv")]})
    assert settings.directory == CsvSettings(file_path=tmp_path / "cli.csv", delimiter=";")
    assert settings.notes == (f"in {tmp_path / 'connector-csv.yml'}, key 'file_path': not read: the command line "
                              f"names {tmp_path / 'cli.csv'}, which is read instead",)
    without = load_run_settings(path, {"connector": "csv"})
    assert without.directory == CsvSettings(file_path=tmp_path / "other.csv", delimiter=";") and without.notes == ()


@pytest.mark.parametrize("server, invocation, verified", [
    ("", {}, True),
    ("", {"ssl_cert_verify": False}, False),
    ("server:\n  ssl_verify: true\n", {"ssl_cert_verify": False}, True),
    ("server:\n  ssl_verify: false\n", {}, False),
])
def test_server_ssl_verify_wins_over_the_invocation_setting(tmp_path: Path, server: str, invocation: dict[str, object],
                                                             verified: bool) -> None:
    path = write_config(tmp_path)
    umapi = tmp_path / "connector-umapi.yml"
    umapi.write_text(umapi.read_text() + server)
    assert load_run_settings(path, invocation).umapi.ssl_verify is verified
