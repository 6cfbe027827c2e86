"""Issue 14: unattended runs tell the truth about their inputs, their console and their files
(real slapd, the sandbox, the real command). See conftest.py for the directory and the org.

Files the account cannot read are made the honest way: the command runs as ``nobody`` (through
``setpriv``) against root-owned files of mode 0600.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

import aiohttp
import pytest
import yaml

from tests.e2e.conftest import MAPPING, Run, Setup, email, starting_org

SETPRIV = shutil.which("setpriv")
as_nobody = pytest.mark.skipif(SETPRIV is None or os.geteuid() != 0, reason="needs root and setpriv to run as nobody")
CSV_HEADER = "email,firstname,lastname,country,groups\n"


async def command(setup: Setup, *arguments: str, env: dict[str, str] | None = None, user: str | None = None) -> Run:
    """``async-usersync [arguments] -c <config>``, optionally as another account."""
    prefix = [SETPRIV, f"--reuid={user}", "--regid=nogroup", "--clear-groups"] if user and SETPRIV else []
    process = await asyncio.create_subprocess_exec(
        *prefix, sys.executable, "-m", "async_usersync", *arguments, "-c", str(setup.config_file),
        "--lock-file", str(setup.folder / "sync.lock"), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=setup.folder, env={**os.environ, **(env or {})})
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    encoding = (env or {}).get("PYTHONIOENCODING", "utf-8")
    return Run(process.returncode, stdout.decode(encoding), stderr.decode(encoding))


def no_traceback(run: Run) -> None:
    assert "Traceback" not in run.out + run.err and "internal error" not in (run.out + run.err).lower(), run.out + run.err


@pytest.fixture
def shared_setup(setup: Setup) -> Iterator[Setup]:
    """The e2e setup in a folder ``nobody`` can use, its CA certificate readable by all."""
    folder = Path(tempfile.mkdtemp(prefix="async-usersync-nobody-"))
    folder.chmod(0o777)
    try:
        ca_file = folder / "ca.pem"
        shutil.copy(setup.org.ca_cert, ca_file)
        ca_file.chmod(0o644)
        moved = Setup(folder, setup.directory, setup.org)
        moved.write(server={"ca_file": str(ca_file)})
        yield moved
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@as_nobody
async def test_a_users_csv_the_account_cannot_read_exits_3_naming_it(shared_setup: Setup) -> None:
    users = shared_setup.folder / "users.csv"
    users.write_text(CSV_HEADER + f"{email('alice')},Alice,Tester,US,Sales\n", encoding="utf8")
    users.chmod(0o600)
    before = await shared_setup.users()
    run = await command(shared_setup, "--connector", "csv", str(users), "--users", "all",
                        "--adobe-only-user-action", "remove", user="nobody")
    assert run.code == 3, run.out + run.err
    assert f"the CSV file {users} cannot be read: Permission denied" in run.out + run.err
    no_traceback(run)
    assert await shared_setup.users() == before


@as_nobody
async def test_a_ca_file_the_account_cannot_read_exits_2_naming_it_and_its_key(shared_setup: Setup) -> None:
    ca_file = shared_setup.folder / "ca.pem"
    ca_file.chmod(0o600)
    run = await command(shared_setup, user="nobody")
    assert run.code == 2, run.out + run.err
    assert str(ca_file) in run.out and "server.ca_file" in run.out, run.out
    no_traceback(run)


async def test_a_yaml_alias_bomb_is_refused_at_once_naming_the_file(setup: Setup) -> None:
    levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]" for previous, name in zip("abcdefgh", "bcdefghi")]
    config = setup.config_file.read_text(encoding="utf8")
    setup.config_file.write_text(config + "bomb:\n" + "".join(f"  {line}\n" for line in levels), encoding="utf8")
    run = await asyncio.wait_for(command(setup), 30)
    assert run.code == 2, run.out + run.err
    assert str(setup.config_file) in run.err and "aliases" in run.err, run.err
    no_traceback(run)


async def test_a_stray_quote_near_the_top_of_a_large_csv_fails_naming_its_line(setup: Setup) -> None:
    users = setup.folder / "users.csv"
    rows = [f"user{n}@{'e2e.test'},User,Number {n},US,Sales\n" for n in range(40_000)]
    rows[1] = f'{email("bob")},"Bob,Tester,US,Sales\n'  # line 3: a quote that never closes
    users.write_text(CSV_HEADER + "".join(rows), encoding="utf8")
    before = await setup.users()
    run = await command(setup, "--connector", "csv", str(users), "--users", "all", "--adobe-only-user-action", "remove")
    assert run.code == 3, run.out + run.err
    assert f"the CSV file {users} has a quote at line 3 that is not closed" in run.out + run.err, run.out + run.err
    no_traceback(run)
    assert await setup.users() == before


@pytest.mark.parametrize("separator", [";", "\t"])
async def test_a_csv_read_with_the_wrong_delimiter_gets_a_delimiter_hint(setup: Setup, separator: str) -> None:
    users = setup.folder / "users.csv"
    users.write_text(CSV_HEADER.replace(",", separator) + separator.join([email("alice"), "Alice", "Tester", "US", "Sales"])
                     + "\n", encoding="utf8")
    run = await command(setup, "--connector", "csv", str(users), "--users", "all")
    assert run.code == 3, run.out + run.err
    assert f"set delimiter: {separator!r} in connector-csv.yml" in run.out + run.err, run.out + run.err
    assert "email_column_name" not in run.out + run.err
    no_traceback(run)


async def reset_org(setup: Setup, state: dict[str, Any]) -> None:
    context = ssl.create_default_context(cafile=str(setup.org.ca_cert))
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{setup.org.base_url}/_sandbox/reset", json={"state": state}, ssl=context) as response:
            assert response.status == 200, await response.text()


async def test_a_cp1252_console_shows_the_whole_run_with_an_unshowable_group_name(setup: Setup) -> None:
    group = "Équipe Łódź"
    state = starting_org()
    state["groups"].append({"groupName": group, "type": "USER_GROUP"})
    await reset_org(setup, state)
    mapping = [{"directory_group": "Sales", "adobe_groups": ["Sales Team", group]}, *MAPPING[1:]]
    setup.write(main={"directory_users": {"user_identity_type": "federatedID", "default_country_code": "US",
                                          "connectors": {"ldap": "connector-ldap.yml"}, "groups": mapping}})
    run = await command(setup, "--users", "mapped", "--process-groups", env={"PYTHONIOENCODING": "cp1252"})
    assert run.code == 0, run.out + run.err
    assert "Équipe ?ód?" in run.out, run.out  # what cp1252 cannot show is replaced, the rest kept
    assert " Action Summary " in run.out and "Number of directory users read" in run.out, run.out
    assert "End Run" in run.out, run.out
    no_traceback(run)
    assert (await setup.users())[email("alice")] == ["Sales Team", group]
    assert group in (setup.folder / "logs" / "sync.log").read_text(encoding="utf-8")  # the log file stays UTF-8


@pytest.fixture
def umask_022() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


async def test_files_that_name_users_are_created_readable_by_their_owner_only(setup: Setup, umask_022: None) -> None:
    main = yaml.safe_load(setup.config_file.read_text(encoding="utf8"))
    setup.write(main={"logging": {**main["logging"], "json_log_file": "logs/sync.jsonl"}})
    run = await command(setup, "--users", "mapped", "--adobe-only-user-action", "write-file", "adobe-only.csv",
                        "--summary-json", "summary.json", "--metrics-file", "metrics/async_usersync.prom")
    assert run.code == 0, run.out + run.err
    folder = setup.folder
    private = [folder / "logs" / "sync.log", folder / "logs" / "sync.jsonl", folder / "adobe-only.csv",
               folder / "summary.json", folder / "async-usersync.user-sync-config.history.json",
               folder / "async-usersync.user-sync-config.last-run.json"]
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in private} == {path.name: 0o600 for path in private}
    assert email("gone1") in (folder / "adobe-only.csv").read_text(encoding="utf8")
    # The metrics name no one and node_exporter reads them as another account: the umask decides.
    assert stat.S_IMODE((folder / "metrics" / "async_usersync.prom").stat().st_mode) == 0o644


async def test_the_sandbox_refuses_a_public_address_without_allow_public() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "async_usersync", "sandbox", "--host", "0.0.0.0", "--port", "0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert "--allow-public" in stderr.decode() and "/_sandbox/" in stderr.decode() and not stdout
    assert "Traceback" not in stderr.decode()


async def test_the_sandbox_serves_a_public_address_with_allow_public_and_warns() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "async_usersync", "sandbox", "--host", "0.0.0.0", "--port", "0", "--no-tls",
        "--allow-public", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert process.stdout is not None and process.stderr is not None
        listening = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
        assert listening.startswith("sandbox listening on http://0.0.0.0:"), listening
        warning = (await asyncio.wait_for(process.stderr.readline(), 30)).decode()
        assert "WARNING" in warning and "/_sandbox/" in warning, warning
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)
