"""Issue 14: unattended runs that tell the truth about how they end, where they keep their state and
where they write (real sandbox, the real ``async-usersync`` command, the operating guide's cron
pipeline run by bash and grep).

The locked-down layout is made the honest way: a root-owned, read-only config folder, and the
command run as ``nobody`` through ``setpriv`` (the users come from a CSV file, so no LDAP reader
child is started).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from async_usersync.pipeline.runlock import RunLock
from tests.e2e.conftest import Run, Setup, email

TOOL = Path(sys.executable).with_name("async-usersync")
"""The installed command, as cron runs it."""
SETPRIV = shutil.which("setpriv")
as_nobody = pytest.mark.skipif(SETPRIV is None or os.geteuid() != 0, reason="needs root and setpriv to run as nobody")
GUIDE_GREP = r'grep "CRITICAL\|WARNING\|ERROR\|=====\|-----\|number of\|Number of"'
"""The filter of the operating guide's Unix example, as written there."""
USERS_CSV = ("email,firstname,lastname,country,groups\n"
             f"{email('alice')},Alice,Tester,US,Sales\n"
             f"{email('bob')},Bob,Tester,US,\"Sales,Engineering\"\n"
             f"{email('carol')},Carol,Tester,US,Engineering\n")
AFTER_CSV_SYNC = {email("alice"): ["Sales Team"], email("bob"): ["Eng Team", "Photoshop", "Sales Team"],
                  email("carol"): ["Eng Team", "Other Team", "Photoshop"]}
"""The three CSV users after ``--users mapped --process-groups`` (carol loses Sales Team, keeps the
unmapped Other Team)."""


async def tool(folder: Path, *arguments: str, user: str | None = None) -> Run:
    """``async-usersync [arguments]`` in ``folder`` (no ``--lock-file``: the run state goes where the tool puts it)."""
    prefix = [SETPRIV, f"--reuid={user}", "--regid=nogroup", "--clear-groups"] if user and SETPRIV else []
    process = await asyncio.create_subprocess_exec(*prefix, str(TOOL), *arguments, cwd=folder,
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


async def cron_pipeline(folder: Path, arguments: str) -> tuple[int, list[str]]:
    """The operating guide's job, run by bash: the tool's console through the guide's grep into the
    mail body (a file here, where the guide pipes to ``mail``). Returns the tool's exit code (kept
    by ``pipefail``, as README's wrapper does) and the mail's lines without their time stamps."""
    script = (f"set -o pipefail\ncd {folder}\n"
              f"{TOOL} {arguments} | {GUIDE_GREP} > mail.txt\nexit \"${{PIPESTATUS[0]}}\"\n")
    process = await asyncio.create_subprocess_exec("bash", "-c", script, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.PIPE)
    await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    mail = (folder / "mail.txt").read_text(encoding="utf8").splitlines()
    return process.returncode, [without_stamp(line) for line in mail]


def without_stamp(line: str) -> str:
    """``2026-12-01 00:03:43 17638 CRITICAL async_usersync.main - ...`` -> ``CRITICAL async_usersync.main - ...``."""
    return line.split(" ", 3)[3]


def files_in(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


def write_main(setup: Setup, **changes: object) -> None:
    main = yaml.safe_load(setup.config_file.read_text(encoding="utf8"))
    setup.config_file.write_text(yaml.safe_dump({**main, **changes}, sort_keys=False), encoding="utf8")


# --- 1 and 5: every error that ends a run reaches the cron mail and the log ------------------------

async def test_the_guides_cron_pipeline_mails_a_config_error_and_a_success(setup: Setup) -> None:
    folder = setup.folder
    write_main(setup, limits={"max_adobe_only_users": 10, "max_strays": 3})  # User Sync 1.x's name for it
    code, mail = await cron_pipeline(folder, "--users mapped --process-groups")
    assert code == 2
    critical = "CRITICAL async_usersync.main - in user-sync-config.yml, key 'limits.max_strays': unknown key"
    assert mail[0].startswith("INFO async_usersync.main - ========== Start Run (User Sync version: ")
    assert mail[1:] == ["INFO async_usersync.main - ------- Command line arguments -------", critical,
                        mail[3]] and "========== End Run" in mail[3]
    assert critical.split(" - ", 1)[1] in (folder / "logs" / "sync.log").read_text(encoding="utf8")
    assert await setup.requests("action") == 0

    setup.write()
    code, mail = await cron_pipeline(folder, "--users mapped --process-groups")
    assert code == 0
    assert not [line for line in mail if line.startswith(("CRITICAL", "ERROR"))], mail
    summary = [line.split(" - ", 1)[1].strip() for line in mail if "Number of" in line]
    assert summary == ["Number of directory users read: 4", "Number of directory users selected for input: 4",
                       "Number of Adobe users read: 7", "Number of Adobe users excluded from updates: 2",
                       "Number of non-excluded Adobe users with no changes: 1", "Number of new Adobe users added: 1",
                       "Number of matching Adobe users updated: 2", "Number of Adobe user-groups created: 0",
                       "Number of Adobe-only users with groups processed: 2",
                       "Number of UMAPI actions sent (total, success, error): (4, 4, 0)"], "\n".join(mail)
    assert "========== End Run" in mail[-1]


async def test_a_config_file_that_is_not_yaml_still_reaches_the_mail_from_the_console(setup: Setup) -> None:
    setup.config_file.write_text("limits: [max_adobe_only_users: 10\n", encoding="utf8")
    code, mail = await cron_pipeline(setup.folder, "--users mapped")
    assert code == 2
    assert [line for line in mail if line.startswith("CRITICAL")] == [
        "CRITICAL async_usersync.main - in user-sync-config.yml: invalid YAML at line 2, column 1: "
        "expected ',' or ']', but got '<stream end>'"]
    assert not (setup.folder / "logs").exists()  # its logging section could not be read: the console only


async def test_refusals_and_an_unopenable_log_reach_the_console_as_critical(setup: Setup) -> None:
    folder = setup.folder
    config = str(setup.config_file)
    assert (await tool(folder, "-c", config, "--users", "mapped")).code == 0
    too_soon = await tool(folder, "-c", config, "--users", "mapped", "--refuse-too-soon")
    assert too_soon.code == 5
    assert "CRITICAL async_usersync.main - the last successful run finished 0 min ago" in too_soon.out
    with RunLock(folder / "async-usersync.user-sync-config.lock"):
        locked = await tool(folder, "-c", config, "--users", "mapped")
    assert locked.code == 5 and f"holds the lock {folder / 'async-usersync.user-sync-config.lock'}" in locked.out

    (folder / "not-a-folder").write_text("")
    write_main(setup, logging={"log_to_file": True, "file_log_directory": "not-a-folder"})
    run = await tool(folder, "-c", config, "--users", "mapped")
    assert run.code == 2
    message = (f"in {config}, key 'logging.file_log_directory': cannot open the log file "
               f"{folder / 'not-a-folder' / '{:%Y-%m-%d}.log'.format(datetime.now())}: "
               f"{folder / 'not-a-folder'} is a file, not a folder")
    assert f"CRITICAL async_usersync.main - {message}" in run.out, run.out + run.err
    assert run.err.startswith(f"async-usersync: error: {message}")


# --- 2: the locked-down layout ---------------------------------------------------------------------

@pytest.fixture
def locked_down(setup: Setup) -> Iterator[tuple[Setup, Path, Path]]:
    """The operating guide's server: a root-owned config folder the service account (``nobody``) can
    read but not write, a state folder and a log folder the account owns. Yields the setup (its
    folder the config folder), the state folder and the log folder."""
    base = Path(tempfile.mkdtemp(prefix="async-usersync-locked-"))
    base.chmod(0o755)
    try:
        config_folder, state, logs = base / "etc", base / "state", base / "log"
        for folder in (config_folder, state, logs):
            folder.mkdir(mode=0o755)
        for folder in (state, logs):
            os.chown(folder, 65534, 65534)
            folder.chmod(0o700)
        shutil.copy(setup.org.ca_cert, base / "ca.pem")
        locked = Setup(config_folder, setup.directory, setup.org)
        locked.write(main={"logging": {"log_to_file": True, "file_log_directory": str(logs),
                                       "file_log_name_format": "sync.log"}}, server={"ca_file": str(base / "ca.pem")})
        (config_folder / "users.csv").write_text(USERS_CSV, encoding="utf8")
        for path in [base / "ca.pem", *config_folder.iterdir()]:
            path.chmod(0o644)
        yield locked, state, logs
    finally:
        shutil.rmtree(base, ignore_errors=True)


LOCKED_RUN = ("--connector", "csv", "users.csv", "--users", "mapped", "--process-groups")


@as_nobody
async def test_without_a_state_folder_a_read_only_config_folder_stops_the_run_before_it_sends(
        locked_down: tuple[Setup, Path, Path]) -> None:
    setup, state, _ = locked_down
    before, config_files = await setup.users(), files_in(setup.folder)
    for extra in ((), ("--lock-file", str(state / "sync.lock"))):  # --lock-file alone used to send everything, then exit 2
        run = await tool(setup.folder, "-c", "user-sync-config.yml", *LOCKED_RUN, *extra, user="nobody")
        assert run.code == 2, run.out + run.err
        assert (f"CRITICAL async_usersync.main - the state folder (beside the config file; choose another with "
                f"--state-dir): cannot write {setup.folder}: the folder {setup.folder} does not take new files "
                f"(Permission denied)") in run.out
        assert "Number of UMAPI actions" not in run.out
    assert await setup.users() == before and await setup.requests("action") == 0
    assert files_in(setup.folder) == config_files and files_in(state) == set()


@as_nobody
async def test_a_state_folder_keeps_all_run_state_out_of_a_read_only_config_folder(
        locked_down: tuple[Setup, Path, Path]) -> None:
    setup, state, logs = locked_down
    config_files = files_in(setup.folder)
    run = await tool(setup.folder, "-c", "user-sync-config.yml", *LOCKED_RUN, "--state-dir", str(state), user="nobody")
    assert run.code == 0, run.out + run.err
    users = await setup.users()
    assert {name: users[name] for name in AFTER_CSV_SYNC} == AFTER_CSV_SYNC
    assert files_in(setup.folder) == config_files
    state_files = {"async-usersync.user-sync-config.last-run.json", "async-usersync.user-sync-config.history.json",
                   "async-usersync.user-sync-config.journal.jsonl"}
    assert files_in(state) == state_files  # the lock was removed on the way out
    for name in state_files:
        info = (state / name).stat()
        assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (65534, 0o600)
    assert files_in(logs) == {"sync.log"}

    # The same folder set as invocation_defaults.state_dir, relative to the config file: the record is found.
    main = yaml.safe_load(setup.config_file.read_text(encoding="utf8"))
    setup.config_file.write_text(yaml.safe_dump({**main, "invocation_defaults": {"state_dir": "../state"}}),
                                 encoding="utf8")
    again = await tool(setup.folder, "-c", "user-sync-config.yml", *LOCKED_RUN, "--refuse-too-soon", user="nobody")
    assert again.code == 5, again.out + again.err
    assert "CRITICAL async_usersync.main - the last successful run finished 0 min ago" in again.out


@as_nobody
async def test_an_output_the_account_cannot_write_stops_the_run_before_it_reads(
        locked_down: tuple[Setup, Path, Path]) -> None:
    setup, state, _ = locked_down
    before = await setup.users()
    metrics = setup.folder / "async_usersync.prom"
    run = await tool(setup.folder, "-c", "user-sync-config.yml", *LOCKED_RUN, "--state-dir", str(state),
                     "--metrics-file", str(metrics), user="nobody")
    assert run.code == 2, run.out + run.err
    assert (f"CRITICAL async_usersync.main - option --metrics-file: cannot write {metrics}: the folder "
            f"{setup.folder} does not take new files (Permission denied)") in run.out
    assert "Load from Directory" not in run.out and "Number of UMAPI actions" not in run.out
    assert await setup.users() == before and await setup.requests("action") == 0
    assert files_in(state) == set()


# --- 3: two configs in one folder ------------------------------------------------------------------

async def test_two_configs_in_one_folder_neither_block_nor_time_each_other(setup: Setup) -> None:
    folder = setup.folder
    shutil.copy(setup.config_file, folder / "second-org.yml")
    first = await tool(folder, "-c", "user-sync-config.yml", "--users", "mapped", "--refuse-too-soon")
    assert first.code == 0, first.out + first.err
    with RunLock(folder / "async-usersync.user-sync-config.lock"):  # the first config's run is still going
        second = await tool(folder, "-c", "second-org.yml", "--users", "mapped", "--refuse-too-soon")
    assert second.code == 0, second.out + second.err
    assert "Running sooner than advised" not in second.out
    assert {name for name in files_in(folder) if name.startswith("async-usersync.")} == {
        f"async-usersync.{stem}.{kind}" for stem in ("user-sync-config", "second-org")
        for kind in ("last-run.json", "history.json")} | {"async-usersync.user-sync-config.journal.jsonl"}  # only the
    # first run sent actions: a run that sends none writes no journal
    again = await tool(folder, "-c", "second-org.yml", "--users", "mapped", "--refuse-too-soon")
    assert again.code == 5 and "CRITICAL async_usersync.main - the last successful run finished 0 min ago" in again.out


async def test_the_folders_old_last_run_record_only_warns_until_the_config_has_its_own(setup: Setup) -> None:
    folder = setup.folder
    finished = (datetime.now(timezone.utc) - timedelta(minutes=30)).isoformat(timespec="seconds")
    (folder / "async-usersync.last-run.json").write_text(json.dumps({"finished": finished, "run_id": "old"}))
    run = await tool(folder, "-c", "user-sync-config.yml", "--users", "mapped", "--refuse-too-soon")
    assert run.code == 0, run.out + run.err
    assert (f"WARNING async_usersync.schedule - Running sooner than advised: the last successful run finished 30 min "
            f"ago ({finished}); runs should be at least 2 h 00 min apart (by async-usersync.last-run.json, "
            f"which an older version kept for every config in this folder; not refusing: the run may be another "
            f"config's)") in run.out, run.out
    again = await tool(folder, "-c", "user-sync-config.yml", "--users", "mapped", "--refuse-too-soon")
    assert again.code == 5  # now by this config's own record


# --- 4: output paths are checked before anything is read or sent ------------------------------------

@pytest.mark.parametrize("option, value, named_by, reason", [
    ("--summary-json", "a-file/summary.json", "option --summary-json", "{folder}/a-file is not a folder"),
    ("--metrics-file", "a-file/async_usersync.prom", "option --metrics-file", "{folder}/a-file is not a folder"),
    ("--adobe-only-user-action", "write-file gone/adobe-only.csv", "option --adobe-only-user-action (write-file)",
     "the folder {folder}/gone does not exist"),
    ("--state-dir", "a-file", "option --state-dir", "not a folder"),
])
async def test_an_output_that_cannot_be_written_stops_the_run_before_it_reads(
        setup: Setup, option: str, value: str, named_by: str, reason: str) -> None:
    folder = setup.folder
    (folder / "a-file").write_text("")
    before, files = await setup.users(), files_in(folder)
    run = await tool(folder, "-c", str(setup.config_file), "--users", "mapped", option, *value.split(" "))
    assert run.code == 2, run.out + run.err
    path = folder / value.split(" ")[-1]
    assert (f"CRITICAL async_usersync.main - {named_by}: cannot write {path}: {reason.format(folder=folder)}"
            in run.out), run.out
    assert "Load from Directory" not in run.out and "Number of UMAPI actions" not in run.out
    assert await setup.users() == before and await setup.requests("action") == 0
    assert files_in(folder) == files | {"logs", "logs/sync.log"}  # no probe left, no lock, no record


async def test_a_write_file_named_in_invocation_defaults_is_named_by_its_key(setup: Setup) -> None:
    write_main(setup, invocation_defaults={"adobe_only_user_action": "write-file gone/adobe-only.csv"})
    run = await tool(setup.folder, "-c", str(setup.config_file), "--users", "mapped")
    assert run.code == 2, run.out + run.err
    assert (f"CRITICAL async_usersync.main - in {setup.config_file}, key 'invocation_defaults.adobe_only_user_action' "
            f"(write-file): cannot write {setup.folder / 'gone' / 'adobe-only.csv'}: the folder "
            f"{setup.folder / 'gone'} does not exist") in run.out
    assert await setup.requests("action") == 0
