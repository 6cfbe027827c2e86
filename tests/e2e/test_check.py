"""Issue 14: ``async-usersync check`` tries each connection once and changes nothing (real slapd, the
sandbox, the real command). See conftest.py for the directory and the org."""

from __future__ import annotations

import asyncio
import re
import sys

from async_usersync.demo.slapd import free_port
from tests.e2e.conftest import Run, Setup, email


async def check(setup: Setup, *arguments: str) -> Run:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "async_usersync", "check", "-c", str(setup.config_file), *arguments,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=setup.folder)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return Run(process.returncode, stdout.decode(), stderr.decode())


def steps(run: Run) -> dict[str, str]:
    """Step -> its status (ok, FAILED, skipped), each line checked for its timing."""
    found = {}
    for line in run.out.splitlines():
        match = re.match(r"check (\w+) +(ok|FAILED|skipped) +\d+\.\d\d s  ", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def line_of(run: Run, step: str) -> str:
    return next(line for line in run.out.splitlines() if line.startswith(f"check {step} "))


async def nothing_sent(setup: Setup, before: dict[str, list[str]]) -> None:
    assert await setup.users() == before
    stats = (await setup._get("stats"))["families"]
    assert stats["action"]["requests"] == 0 and stats["groups"]["requests"] == 0
    assert stats["users"]["sync_starts"] == stats["users"]["sync_ends"] == 0  # a check is not a sync


async def test_every_step_passes_and_nothing_is_sent(setup: Setup) -> None:
    before = await setup.users()
    run = await check(setup)
    assert run.code == 0, run.out + run.err
    assert steps(run) == {"config": "ok", "directory": "ok", "token": "ok", "org": "ok"}
    assert str(setup.folder / "connector-ldap.yml") in line_of(run, "config")
    assert f"bound to {setup.directory.url} as {setup.directory.admin_dn}, base_dn found, first page: 6 users" \
        in line_of(run, "directory")
    assert f"page 0 of org {setup.org.org_id}" in line_of(run, "org") and ": 7 users" in line_of(run, "org")
    assert run.out.splitlines()[-1] == "check: all 4 steps passed"
    await nothing_sent(setup, before)
    assert await setup.requests("users") == 1
    assert not (setup.folder / "sync.lock").exists()


async def test_a_users_file_is_opened_and_its_first_rows_read(setup: Setup) -> None:
    users_file = setup.folder / "users.csv"
    users_file.write_text(f"email,groups\n{email('alice')},Sales\n{email('bob')},Sales\n")
    run = await check(setup, "--users", "file", str(users_file))
    assert run.code == 0, run.out + run.err
    assert f"{users_file}: header and first rows read, 2 users" in line_of(run, "directory")


async def test_a_wrong_bind_password_fails_the_directory_step_only(setup: Setup) -> None:
    setup.write(ldap={"password": "not-the-password"})
    before = await setup.users()
    run = await check(setup)
    assert run.code == 3, run.out + run.err
    assert steps(run) == {"config": "ok", "directory": "FAILED", "token": "ok", "org": "ok"}
    assert f"refused the credentials of '{setup.directory.admin_dn}'" in line_of(run, "directory")
    assert f"the keys involved: in {setup.folder / 'connector-ldap.yml'}: host, username, password" in run.out
    assert run.out.splitlines()[-1] == "check: FAILED at step 'directory' (exit code 3)"
    assert "not-the-password" not in run.out + run.err
    await nothing_sent(setup, before)


async def test_a_wrong_client_secret_fails_the_token_step_and_skips_the_org(setup: Setup) -> None:
    setup.write()
    umapi_file = setup.folder / "connector-umapi.yml"
    umapi_file.write_text(umapi_file.read_text().replace(setup.org.client_secret, "wrong-secret-123"))
    before = await setup.users()
    run = await check(setup)
    assert run.code == 3, run.out + run.err
    assert steps(run) == {"config": "ok", "directory": "ok", "token": "FAILED", "org": "skipped"}
    assert "refused the credentials" in line_of(run, "token")
    assert f"in {umapi_file}: server.auth_host, server.auth_endpoint, enterprise.client_id, enterprise.client_secret" \
        in run.out
    assert run.out.splitlines()[-1] == "check: FAILED at step 'token' (exit code 3)"
    assert "wrong-secret-123" not in run.out + run.err
    await nothing_sent(setup, before)


async def test_an_unreachable_directory_host_fails_its_step(setup: Setup) -> None:
    setup.write(ldap={"host": f"ldap://127.0.0.1:{free_port()}"})
    run = await check(setup)
    assert run.code == 3, run.out + run.err
    assert steps(run)["directory"] == "FAILED"
    assert "cannot reach the LDAP server at ldap://127.0.0.1:" in line_of(run, "directory")
    assert run.out.splitlines()[-1] == "check: FAILED at step 'directory' (exit code 3)"


async def test_a_bad_config_key_fails_the_config_step_and_stops(setup: Setup) -> None:
    setup.write(main={"limits": {"max_adobe_only_user": 10}})
    run = await check(setup)
    assert run.code == 2, run.out + run.err
    assert steps(run) == {"config": "FAILED"}
    assert (f"in {setup.config_file}, key 'limits.max_adobe_only_user': unknown key; did you mean "
            "'max_adobe_only_users'?") in line_of(run, "config")
    assert run.out.splitlines()[-1] == "check: FAILED at step 'config' (exit code 2)"
    assert await setup.requests("users") == 0


async def test_warnings_a_sync_would_log_go_to_stderr(setup: Setup) -> None:
    setup.write(server={"ssl_verify": False, "ca_file": None})
    umapi_file = setup.folder / "connector-umapi.yml"
    umapi_file.write_text(umapi_file.read_text() + "uses_business_id: true\n")
    run = await check(setup)
    assert run.code == 0, run.out + run.err
    assert f"WARNING in {umapi_file}, key 'uses_business_id': is deprecated" in run.err
    assert (f"WARNING TLS certificate verification is OFF for UMAPI and Adobe IMS (server.ssl_verify in {umapi_file} "
            "is false)") in run.err
