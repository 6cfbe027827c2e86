"""The LDAP read in a child process: the same users as in-process, errors as errors, no orphans."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from contextlib import aclosing
from pathlib import Path
from typing import Iterator

import pytest

from async_usersync.config.settings import LdapSettings, UserSelection
from async_usersync.errors import ReadError
from async_usersync.records import IdentityType, UnreadableDirectoryUser
from async_usersync.sources.ldap import LdapSource
from async_usersync.sources import ldap_process
from async_usersync.sources.ldap_process import IN_PROCESS_VARIABLE, LdapProcessSource, ldap_in_child_process
from async_usersync.demo.slapd import LocalSlapd, free_port, start_slapd
from async_usersync.demo.directory_data import generated_users, people_ou_ldif
from tests.sources.helpers import collect, ldap_settings
from tests.support.slapd import BASE_DN, METACHAR_GROUP

ALL = UserSelection("all")
MANY_USERS = 5000
"""About 1 MB of frames: more than the pipe and the parent's buffer hold once ``small_buffers``
shrinks them, so the child is still mid-read (blocked on the pipe) while the parent holds its
first users."""


def settings(tmp_path: Path, slapd: LocalSlapd, **keys) -> LdapSettings:
    return ldap_settings(tmp_path, slapd, **keys)


def reader_children() -> list[int]:
    """The pids of this process's LDAP reader children (from /proc, as ``ps`` sees them)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"async_usersync.sources.ldap_process" in command:
            found.append(int(entry.name))
    return found


@pytest.fixture
def small_buffers(monkeypatch) -> None:
    monkeypatch.setattr(ldap_process, "PIPE_BYTES", 64 << 10)
    monkeypatch.setattr(ldap_process, "READ_AHEAD_BYTES", 64 << 10)


@pytest.fixture(scope="module")
def many_users_slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSlapd]:
    server = start_slapd(tmp_path_factory.mktemp("slapd-many"), BASE_DN)
    try:
        server.add_ldif(people_ou_ldif(BASE_DN) + "".join(generated_users(BASE_DN, MANY_USERS)))
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("selection", [
    UserSelection("all", ("Sales", "Engineering")),
    UserSelection("mapped", ("Sales", "Engineering", METACHAR_GROUP)),
])
async def test_the_child_reads_the_same_users_as_the_in_process_source(tmp_path: Path, slapd: LocalSlapd,
                                                                        selection: UserSelection) -> None:
    read_settings = settings(tmp_path, slapd, dynamic_group_member_attribute="memberOf",
                             user_identity_type_format="{employeeType}")
    in_process = await collect(LdapSource(read_settings, IdentityType.FEDERATED_ID,
                                          extra_attributes=["employeeNumber"]).users(selection))
    in_child = await collect(LdapProcessSource(read_settings, IdentityType.FEDERATED_ID,
                                               extra_attributes=["employeeNumber"]).users(selection))
    assert in_child == in_process  # every field, groups and source_attributes included
    assert in_child["alice@example.org"].source_attributes["employeeNumber"] == "0123"
    assert in_child["bob@example.org"].identity_type is IdentityType.ENTERPRISE_ID
    assert {"Sales", "Engineering"} <= in_child["bob@example.org"].groups
    assert isinstance(in_child["zoe@example.org"], UnreadableDirectoryUser)  # employeeType 'nonsense'
    by_groups = {}
    for user in in_child.values():
        if isinstance(user, UnreadableDirectoryUser):
            continue
        assert by_groups.setdefault(user.groups, user.groups) is user.groups, "equal group sets are one object"
    assert not reader_children()


async def test_a_warning_in_the_child_reaches_the_parents_log(tmp_path: Path, slapd: LocalSlapd, caplog) -> None:
    caplog.set_level(logging.WARNING, "async_usersync.sources")
    await collect(LdapProcessSource(settings(tmp_path, slapd), IdentityType.FEDERATED_ID).users(ALL))
    warnings = [record for record in caplog.records if record.name == "async_usersync.sources"]
    assert any("uid=nomail,ou=people,dc=example,dc=org" in record.getMessage()
               and "no valid email" in record.getMessage() for record in warnings)


@pytest.mark.parametrize("keys", [{"password": "wrong-password"}, {"host": f"ldap://127.0.0.1:{free_port()}"},
                                  {"base_dn": "ou=gone,dc=example,dc=org"}])
async def test_a_failed_read_in_the_child_is_the_same_read_error(tmp_path: Path, slapd: LocalSlapd, keys) -> None:
    read_settings = settings(tmp_path, slapd, **keys)
    with pytest.raises(ReadError) as in_process:
        await collect(LdapSource(read_settings, IdentityType.FEDERATED_ID).users(ALL))
    received = []
    with pytest.raises(ReadError) as in_child:
        async for user in LdapProcessSource(read_settings, IdentityType.FEDERATED_ID).users(ALL):
            received.append(user)
    assert str(in_child.value) == str(in_process.value)
    assert received == []


async def test_a_child_that_cannot_start_is_a_read_error(tmp_path: Path, slapd: LocalSlapd, monkeypatch) -> None:
    missing = tmp_path / "no-python"
    monkeypatch.setattr(ldap_process.sys, "executable", str(missing))
    source = LdapProcessSource(settings(tmp_path, slapd), IdentityType.FEDERATED_ID)
    with pytest.raises(ReadError, match=f"the LDAP reader process could not be started \\({missing}: .*"
                                        f"{IN_PROCESS_VARIABLE}=1"):
        await collect(source.users(ALL))


async def test_a_killed_child_is_a_read_error_not_a_short_list(tmp_path: Path, many_users_slapd: LocalSlapd,
                                                               small_buffers: None) -> None:
    source = LdapProcessSource(settings(tmp_path, many_users_slapd), IdentityType.FEDERATED_ID)
    received = 0
    with pytest.raises(ReadError, match="the LDAP reader process ended without finishing the read "
                                        r"\(killed by signal 9\)"):
        async for _ in source.users(ALL):
            if received == 0:
                (pid,) = reader_children()
                os.kill(pid, signal.SIGKILL)
            received += 1
    assert 0 < received < MANY_USERS


async def test_a_crashed_child_is_a_read_error_and_its_report_reaches_the_log(
        tmp_path: Path, many_users_slapd: LocalSlapd, small_buffers: None, caplog) -> None:
    """As when bonsai's C code segfaults: the exit status in the error, the Python stack in the log."""
    caplog.set_level(logging.WARNING, "async_usersync.sources")
    source = LdapProcessSource(settings(tmp_path, many_users_slapd), IdentityType.FEDERATED_ID)
    crashed = False
    with pytest.raises(ReadError, match=r"ended without finishing the read \(killed by signal 11\)"):
        async for _ in source.users(ALL):
            if not crashed:
                (pid,) = reader_children()
                os.kill(pid, signal.SIGSEGV)
                crashed = True
    assert "LDAP reader process: Fatal Python error: Segmentation fault" in caplog.text


async def test_cancelling_the_read_ends_the_child_and_argv_holds_no_password(
        tmp_path: Path, many_users_slapd: LocalSlapd, small_buffers: None) -> None:
    password = many_users_slapd.admin_password
    first_user = asyncio.Event()

    async def read_slowly() -> None:  # as the pipeline reads: the stream is closed when the reader stops
        source = LdapProcessSource(settings(tmp_path, many_users_slapd), IdentityType.FEDERATED_ID)
        async with aclosing(source.users(ALL)) as users:
            async for _ in users:
                first_user.set()
                await asyncio.sleep(3600)

    reading = asyncio.create_task(read_slowly())
    await asyncio.wait_for(first_user.wait(), 30)
    (pid,) = reader_children()
    command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
    assert password.encode() not in command_line and b"async_usersync.sources.ldap_process" in command_line
    # Cancel only once the parent's read-ahead buffer is full (it stopped reading) and the child
    # blocks on the full pipe: the old clean-up then waited forever for the end of its stdout.
    for _ in range(600):
        if Path(f"/proc/{pid}/wchan").read_text().endswith("pipe_write"):  # anon_pipe_write on newer kernels
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the reader process never blocked on its full pipe")
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(reading, 30)  # a clean-up that hangs fails here (TimeoutError)
    assert not reader_children()
    assert not Path(f"/proc/{pid}").exists()  # reaped, not a zombie


async def test_cancelling_while_waiting_for_the_child_ends_it(tmp_path: Path, fresh_slapd: LocalSlapd) -> None:
    """The server stops answering: the parent waits for a frame, and is cancelled there."""
    fresh_slapd.pause()
    try:
        users = LdapProcessSource(settings(tmp_path, fresh_slapd), IdentityType.FEDERATED_ID).users(ALL)
        reading = asyncio.create_task(collect(users))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if reader_children():
                break
        (pid,) = reader_children()
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        assert not Path(f"/proc/{pid}").exists()
    finally:
        fresh_slapd.resume()


@pytest.mark.parametrize(("value", "in_child"), [(None, True), ("", True), ("0", True), ("1", False), ("true", False)])
def test_the_child_is_the_default_and_the_variable_opts_out(monkeypatch, value: str | None, in_child: bool) -> None:
    if value is None:
        monkeypatch.delenv(IN_PROCESS_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(IN_PROCESS_VARIABLE, value)
    assert ldap_in_child_process() is in_child


async def test_a_missing_group_in_the_child_reaches_the_parents_handler(tmp_path: Path, slapd: LocalSlapd) -> None:
    missing: list[str] = []
    users = await collect(LdapProcessSource(settings(tmp_path, slapd), IdentityType.FEDERATED_ID).users(
        UserSelection("group", ("Sales", "Renamed Team")), missing.append))
    assert set(users) == {"alice@example.org", "bob@example.org"} and missing == ["Renamed Team"]
