"""The stages' safety rule, at the seam, without slapd or the sandbox: a failed or partial read
removes nobody (no Adobe-only action, no group removal) while the matched users' other changes still
go out, a shrink since the last successful run holds the removals back, and a clean run removes
the Adobe-only user. The end-to-end tests (tests/e2e/test_partial_reads.py) check the same against
the real servers."""

from __future__ import annotations

from async_usersync.engine import SyncPlanner
from async_usersync.engine.history import RemovalGuard, RunPicture
from async_usersync.engine.rules import AdobeOnlyAction
from async_usersync.errors import ExitCode, ReadError
from async_usersync.pipeline.job import SyncJob
from async_usersync.pipeline.stages import RunResult, run_stages
from async_usersync.records import UserCommand
from async_usersync.sources.base import UserSelection
from async_usersync.umapi import UmapiError, UmapiSettings
from tests.engine.helpers import adobe_user, directory_user, rules
from tests.pipeline.fakes import FakeOrgClient, MemorySource

SETTINGS = UmapiSettings(org_id="org@AdobeOrg", client_id="id", client_secret="secret")

# ann is matched and gains Sales' groups; bob is matched and has lost Engineering (a group removal);
# cid is new; dan is Adobe-only (removed from the org on a clean run).
ANN = directory_user("ann@example.com", ["Engineering", "Sales"])
BOB = directory_user("bob@example.com", [])
CID = directory_user("cid@example.com", ["Engineering"])
DIRECTORY = [ANN, BOB, CID]
ADOBE = [adobe_user("ann@example.com", ["Eng Profile", "All Staff"]),
         adobe_user("bob@example.com", ["Eng Profile", "All Staff"]),
         adobe_user("dan@example.com", ["Eng Profile"])]


def job(source: MemorySource, guard: RemovalGuard | None = None) -> SyncJob:
    planner = SyncPlanner(rules(process_groups=True, adobe_only_action=AdobeOnlyAction.REMOVE))
    return SyncJob(planner=planner, umapi=SETTINGS, directory=source,
                   selection=UserSelection("mapped", ("Engineering", "Sales")), removal_guard=guard)


async def run(source: MemorySource, org: FakeOrgClient, guard: RemovalGuard | None = None) -> RunResult:
    return await run_stages(job(source, guard), client_type=org)


async def run_after(previous: RunPicture) -> tuple[RunResult, FakeOrgClient]:
    """A run over DIRECTORY and ADOBE whose last successful run saw ``previous``."""
    org = FakeOrgClient(ADOBE)
    return await run(MemorySource(DIRECTORY), org, RemovalGuard(previous)), org


def by_user(commands: list[UserCommand]) -> dict[str, UserCommand]:
    return {command.user: command for command in commands}


def assert_nothing_removed(commands: list[UserCommand]) -> None:
    assert not [command.user for command in commands if command.remove_from_org]
    assert not [command.user for command in commands if command.remove_groups]


async def test_a_failed_directory_read_removes_nobody_and_sends_the_other_changes() -> None:
    source = MemorySource(DIRECTORY, error=ReadError("the directory went away"), fail_after=2)
    org = FakeOrgClient(ADOBE)
    result = await run(source, org)
    assert result.exit_code is ExitCode.READ_FAILED
    assert "the directory went away" in str(result.read_failure)
    assert_nothing_removed(org.sent)
    assert by_user(org.sent)["ann@example.com"].add_groups == ("Sales Profile",)
    assert "cid@example.com" not in by_user(org.sent)  # not read before the failure


async def test_a_failed_adobe_read_removes_nobody_and_sends_the_other_changes() -> None:
    # With a run history (every run after the first), a matched user's group removals wait for both
    # reads; without one they go once the whole directory is read, as that user's groups are complete.
    source = MemorySource(DIRECTORY)
    org = FakeOrgClient(ADOBE, error=UmapiError("page 3 timed out", code="timeout"), fail_after=2)
    result = await run(source, org, RemovalGuard(RunPicture(directory_users=3, adobe_users=3)))
    assert result.exit_code is ExitCode.READ_FAILED
    assert "page 3 timed out" in str(result.read_failure)
    assert_nothing_removed(org.sent)
    sent = by_user(org.sent)
    assert sent["ann@example.com"].add_groups == ("Sales Profile",)
    assert "cid@example.com" not in sent  # a new user waits for the whole Adobe read


async def test_a_mapped_group_the_directory_lacks_exits_3_before_any_adobe_only_action() -> None:
    source = MemorySource(DIRECTORY, missing_groups=["Sales"])
    org = FakeOrgClient(ADOBE)
    result = await run(source, org)
    assert result.exit_code is ExitCode.READ_FAILED
    assert "'Sales'" in str(result.read_failure)
    assert not [command.user for command in org.sent if command.remove_from_org]
    assert by_user(org.sent)["cid@example.com"].create is not None
    assert source.selections == [UserSelection("mapped", ("Engineering", "Sales"))]


async def test_a_picture_that_shrank_holds_the_removals_back() -> None:
    result, org = await run_after(RunPicture(directory_users=10, adobe_users=3, group_members={"Engineering": 5}))
    assert result.exit_code is ExitCode.REMOVALS_HELD
    assert any("directory users read shrank from 10 to 3" in reason for reason in result.held)
    assert_nothing_removed(org.sent)
    sent = by_user(org.sent)
    assert sent["ann@example.com"].add_groups == ("Sales Profile",)
    assert sent["cid@example.com"].create is not None
    assert result.picture is None


async def test_a_clean_run_removes_the_adobe_only_user_and_the_lost_groups() -> None:
    result, org = await run_after(RunPicture(directory_users=3, adobe_users=3, group_members={"Engineering": 2}))
    assert result.exit_code is ExitCode.OK
    sent = by_user(org.sent)
    assert sent["dan@example.com"].remove_from_org
    assert set(sent["bob@example.com"].remove_groups) == {"Eng Profile", "All Staff"}
    assert sent["cid@example.com"].create is not None
    assert result.picture == RunPicture(directory_users=3, adobe_users=3,  # +1 created, -1 removed
                                        group_members={"Engineering": 2, "Sales": 1})
