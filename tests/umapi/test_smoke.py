from async_usersync.records import CreateUser, IdentityType, UserCommand
from async_usersync.umapi import UmapiClient
from tests.umapi.conftest import client_settings


async def test_reads_all_users_and_creates_one(sandbox):
    async with UmapiClient(client_settings(sandbox)) as client:
        users = [user async for user in client.users()]
        assert len(users) == 20
        results = []
        async with client.action_sink(results.append) as sink:
            await sink.send(UserCommand(user="new@example.com", create=CreateUser(IdentityType.ENTERPRISE_ID, "new@example.com", "New", "User"), add_groups=()))
        assert [r.ok for r in results] == [True]
    assert sandbox.state.find_user("new@example.com") is not None
