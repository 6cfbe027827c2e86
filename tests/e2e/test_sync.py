"""The org's final state after real runs of ``async-usersync`` against slapd and the sandbox."""

from tests.e2e.conftest import Setup, email


async def test_mapped_users_with_process_groups(setup: Setup) -> None:
    run = await setup.sync("--users", "mapped", "--process-groups")
    print(run.out, run.err)
    assert run.code == 0
