"""The check of the files a run will write: what it accepts, what it refuses, and that it leaves nothing behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from async_usersync.errors import ConfigError, ExitCode
from async_usersync.pipeline.main import SyncInvocation, sync_main
from async_usersync.pipeline.outputs import OutputPath, WriteKind, check_writable
from tests.config.test_user_sync_config import MINIMAL, write_config


def test_writable_places_pass_and_leave_the_folder_as_it_was(tmp_path: Path) -> None:
    existing = tmp_path / "adobe-only.csv"
    existing.write_text("kept\n")
    os.utime(existing, (1_000_000, 1_000_000))
    check_writable([
        OutputPath(tmp_path / "deep" / "er" / "summary.json", "option --summary-json", WriteKind.REPLACED),
        OutputPath(existing, "option --adobe-only-user-action (write-file)", WriteKind.IN_PLACE),
        OutputPath(tmp_path / "new.csv", "option --adobe-only-user-action (write-file)", WriteKind.IN_PLACE),
        OutputPath(tmp_path, "option --state-dir", WriteKind.FOLDER),
    ])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["adobe-only.csv"]  # no folder made, no probe left
    assert existing.read_text() == "kept\n" and existing.stat().st_mtime == 1_000_000  # not truncated, not touched


@pytest.mark.parametrize("kind, name, reason", [
    (WriteKind.IN_PLACE, "missing/out.csv", "the folder {tmp}/missing does not exist"),
    (WriteKind.REPLACED, "a-file/summary.json", "{tmp}/a-file is not a folder"),
    (WriteKind.REPLACED, "a-folder", "it is a folder"),
    (WriteKind.FOLDER, "missing", "the folder does not exist: create it, owned by the account that runs the sync"),
])
def test_an_unwritable_place_is_named_with_its_option(tmp_path: Path, kind: WriteKind, name: str, reason: str) -> None:
    (tmp_path / "a-file").write_text("")
    (tmp_path / "a-folder").mkdir()
    with pytest.raises(ConfigError) as refused:
        check_writable([OutputPath(tmp_path / name, "option --x", kind)])
    assert str(refused.value) == f"option --x: cannot write {tmp_path / name}: {reason.format(tmp=tmp_path)}"
    assert refused.value.exit_code == ExitCode.CONFIG_ERROR


def test_a_relative_path_is_named_in_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=f"cannot write {tmp_path / 'gone' / 'x.csv'}: "):
        check_writable([OutputPath(Path("gone/x.csv"), "option --x", WriteKind.IN_PLACE)])


@pytest.mark.parametrize("second, reason", [
    # --summary-json users.csv replaced the directory's users file with the summary; write-file users.csv
    # put the Adobe-only users in it, to be read as the directory next run; two options on one file clobbered each other
    (None, "it is also the users file the run reads"),
    ("option --summary-json", "it is also written for option --summary-json"),
])
def test_an_output_that_is_an_input_or_another_output_is_refused(tmp_path: Path, second: str | None,
                                                                  reason: str) -> None:
    users = tmp_path / "users.csv"
    users.write_text("email\nann@example.com\n")
    outputs = [OutputPath(tmp_path / "out.json", "option --summary-json", WriteKind.REPLACED)] if second else []
    outputs.append(OutputPath(tmp_path / "." / (users.name if second is None else "out.json"), "option --metrics-file",
                              WriteKind.REPLACED))
    with pytest.raises(ConfigError) as refused:
        check_writable(outputs, reads={users: "the users file the run reads"})
    target = tmp_path / "." / (users.name if second is None else "out.json")
    assert str(refused.value) == f"option --metrics-file: cannot write {target.absolute()}: {reason}"
    assert users.read_text() == "email\nann@example.com\n"


def test_a_summary_named_like_a_file_the_run_reads_leaves_that_file_as_it_was(tmp_path: Path) -> None:
    """The summary is written on every exit path, the refusal's included: it must not be written
    over the users file or the configuration file it was refused for."""
    config = write_config(tmp_path, logging={"log_to_file": False},
                          directory_users={**MINIMAL["directory_users"], "connectors": {"csv": "connector-csv.yml"}})
    (tmp_path / "connector-csv.yml").write_text("delimiter: ','\n")
    users = tmp_path / "users.csv"
    users.write_text("email,groups\nann@example.com,Staff\n")
    for clobbered in (users, config):
        before = clobbered.read_bytes()
        code = sync_main(SyncInvocation(config_file=config, options={"connector": ("csv", str(users))},
                                        summary_json=clobbered, metrics_file=tmp_path / "metrics.prom"))
        assert code == ExitCode.CONFIG_ERROR and clobbered.read_bytes() == before
        assert "async_usersync_last_run_exit_code 2" in (tmp_path / "metrics.prom").read_text()


def test_a_summary_named_like_the_users_file_is_not_written_over_it_when_the_config_fails(tmp_path: Path) -> None:
    """With a configuration error the run never learns its input files from the settings: the
    command line's users file and Adobe-only user list must still be left alone."""
    config = tmp_path / "user-sync-config.yml"
    config.write_text("limits: [\n")
    for option in ("users", "connector", "adobe_only_user_list"):
        listed = tmp_path / f"{option}.csv"
        listed.write_text("email\nann@example.com\n")
        given = str(listed) if option == "adobe_only_user_list" else ["file" if option == "users" else "csv", str(listed)]
        code = sync_main(SyncInvocation(config_file=config, options={option: given}, summary_json=listed))
        assert code == ExitCode.CONFIG_ERROR and listed.read_text() == "email\nann@example.com\n"
