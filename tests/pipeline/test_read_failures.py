"""The error rule at the stages: an error keeps its own exit code (the pipeline never re-wraps it),
a bug during the reads is reported as itself (never as an ExceptionGroup), and neither removes
anyone. A small in-memory directory source against the real client and sandbox."""

from __future__ import annotations

from typing import AsyncIterator

import pytest

from async_usersync.config.settings import UmapiSettings, UserSelection
from async_usersync.engine import SyncPlanner
from async_usersync.engine.rules import AdobeOnlyAction, SyncRules
from async_usersync.errors import ConfigError, ExitCode, ReadError
from async_usersync.pipeline.job import SyncJob
from async_usersync.pipeline.stages import run_stages
from async_usersync.records import AdobeUser, DirectoryUser, IdentityType
from async_usersync.sandbox import SandboxConfig, SandboxServer
from async_usersync.sources.base import MissingGroupHandler
from async_usersync.umapi import RateLimits, UmapiClient


class MemorySource:
    """A directory source yielding the given users, then raising ``error`` (when given)."""

    def __init__(self, users: list[DirectoryUser], error: BaseException | None = None) -> None:
        self._users = users
        self._error = error

    async def users(self, selection: UserSelection, on_missing_group: MissingGroupHandler | None = None
                    ) -> AsyncIterator[DirectoryUser]:
        for user in self._users:
            yield user
        if self._error is not None:
            raise self._error


class BrokenAdobeRead(UmapiClient):
    """The real client whose users read hits a bug after its first user."""

    async def users(self, group: str | None = None) -> AsyncIterator[AdobeUser]:
        async for user in super().users(group=group):
            yield user
            raise RuntimeError("a bug in the Adobe read")


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(port=0, users=20, groups=2, throttle=False)


def job(sandbox: SandboxServer, directory: MemorySource) -> SyncJob:
    settings = UmapiSettings(org_id=sandbox.org_id, client_id=sandbox.client_id, client_secret=sandbox.client_secret,
                             host=f"{sandbox.host}:{sandbox.port}", auth_host=f"{sandbox.host}:{sandbox.port}",
                             ca_file=sandbox.ca_cert, limits=RateLimits(action=1e6, users=1e6, groups=1e6))
    rules = SyncRules(adobe_only_action=AdobeOnlyAction.REMOVE)
    return SyncJob(planner=SyncPlanner(rules), umapi=settings, directory=directory, selection=UserSelection("all"))


def new_user(email: str) -> DirectoryUser:
    return DirectoryUser(IdentityType.FEDERATED_ID, email, email.split("@")[1], email, "New", "User", "US", frozenset())


def emails(sandbox: SandboxServer) -> set[str]:
    return {user["email"] for user in sandbox.sandbox.state.user_list()}


async def test_a_clean_run_removes_the_adobe_only_users(sandbox: SandboxServer) -> None:
    """The baseline the tests below depart from: without an error the sandbox's users are removed."""
    result = await run_stages(job(sandbox, MemorySource([new_user("new@example.org")])))
    assert result.exit_code is ExitCode.OK
    assert emails(sandbox) == {"new@example.org"}


async def test_a_config_error_found_by_the_directory_read_is_exit_2_and_removes_nobody(sandbox: SandboxServer) -> None:
    before = emails(sandbox)
    error = ConfigError("the CA bundle cannot be read", file="connector-ldap.yml", key="ca_cert_file")
    result = await run_stages(job(sandbox, MemorySource([new_user("new@example.org")], error)))
    assert result.exit_code is ExitCode.CONFIG_ERROR
    assert result.read_failure is not None and result.read_failure.error is error
    assert str(result.read_failure) == f"reading the directory failed: {error}"
    assert emails(sandbox) == before


async def test_a_read_error_keeps_exit_3_and_its_message(sandbox: SandboxServer) -> None:
    before = emails(sandbox)
    result = await run_stages(job(sandbox, MemorySource([], ReadError("the LDAP server went away"))))
    assert result.exit_code is ExitCode.READ_FAILED
    assert str(result.read_failure) == "reading the directory failed: the LDAP server went away"
    assert emails(sandbox) == before


async def test_a_bug_during_the_reads_is_raised_as_itself_and_removes_nobody(sandbox: SandboxServer) -> None:
    before = emails(sandbox)
    with pytest.raises(RuntimeError, match="a bug in the Adobe read"):
        await run_stages(job(sandbox, MemorySource([new_user("new@example.org")])), client_type=BrokenAdobeRead)
    assert emails(sandbox) - {"new@example.org"} == before

