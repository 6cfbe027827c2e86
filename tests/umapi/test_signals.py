"""The Pragma sync signals, as the sandbox counts them per endpoint family.

The read phase opens with ``umapi-sync-start`` on the client's first request and ends with
``umapi-sync-end`` on the last page of the full user read; the action phase opens with a start on
its first POST and ends with an end on its last one, as User Sync does through umapi-client.
"""

from __future__ import annotations

from async_usersync.records import CreateUser, IdentityType, UserCommand
from async_usersync.umapi import UmapiClient
from tests.umapi.conftest import TIME_SCALE, client_settings


def signals(server, *families: str) -> dict[str, tuple[int, int]]:
    stats = server.sandbox.stats.families
    return {family: (stats[family].sync_starts, stats[family].sync_ends) for family in families}


async def test_a_read_then_a_push_each_open_and_close_once(sandbox_factory):
    server = await sandbox_factory(users=30, time_scale=TIME_SCALE, user_page_size=7)
    commands = [UserCommand(user=f"signal{n:02d}@example.com", add_groups=(),
                            create=CreateUser(IdentityType.FEDERATED_ID, f"signal{n:02d}@example.com", "Si", "Gnal", "US"))
                for n in range(25)]
    async with UmapiClient(client_settings(server)) as client:
        assert len([user async for user in client.users()]) == 30
        assert signals(server, "users", "action") == {"users": (1, 1), "action": (0, 0)}
        async with client.action_sink() as sink:
            for command in commands:
                await sink.send(command)
        assert sink.totals.requests == 3
    assert signals(server, "users", "action", "groups") == {"users": (1, 1), "action": (1, 1), "groups": (0, 0)}


async def test_the_start_goes_on_the_first_request_whatever_it_is(sandbox_factory):
    """User Sync's auto_create listed groups before its start signal (user-sync#813); ours does not."""
    server = await sandbox_factory(time_scale=TIME_SCALE)
    async with UmapiClient(client_settings(server)) as client:
        results = await client.create_user_groups(["Signal Group"])
        assert all(result.ok for result in results)
        assert [group async for group in client.groups()]
        assert len([user async for user in client.users()]) == 20
    assert signals(server, "action", "groups", "users") == {"action": (1, 0), "groups": (0, 0), "users": (0, 1)}


async def test_a_read_of_one_page_opens_and_closes_once(sandbox_factory):
    """Issue 14: a users read of one page showed sync_ends 0 (page 0 carried the start only)."""
    server = await sandbox_factory(users=5, time_scale=TIME_SCALE)
    async with UmapiClient(client_settings(server)) as client:
        assert len([user async for user in client.users()]) == 5
    assert signals(server, "users") == {"users": (1, 1)}
