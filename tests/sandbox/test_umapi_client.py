"""Adobe's official umapi-client 3.0.1, unchanged, against the sandbox over TLS with the generated certificate."""

from __future__ import annotations

import asyncio
import time

import pytest
import umapi_client

from async_usersync.sandbox import RateLimit, SandboxConfig, SandboxServer
from async_usersync.sandbox.faults import parse_fault_plan


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(
        port=0, users=130, groups=14, user_page_size=50, time_scale=60.0,
        rate_limits={"action": RateLimit(2, 100), "users": RateLimit(25, 100), "groups": RateLimit(5, 100)},
    )


def connect(server: SandboxServer) -> umapi_client.Connection:
    auth = umapi_client.OAuthS2S(server.client_id, server.client_secret, auth_host=server.ims_host,
                                 ssl_verify=str(server.ca_cert))
    connection = umapi_client.Connection(server.org_id, auth, endpoint=server.url, ssl_verify=str(server.ca_cert),
                                         max_retries=6)
    connection.retry_first_delay = 1
    connection.retry_random_delay = 0
    return connection


def list_then_create(server: SandboxServer, group_names: list[str]) -> tuple[list[dict], tuple[int, int, int], list]:
    connection = connect(server)
    listed = umapi_client.UsersQuery(connection).all_results()
    actions = []
    for number in range(40):
        email = f"official.{number:02d}@example.com"
        action = umapi_client.UserAction(email)
        action.create(email=email, firstname="Official", lastname=f"Client {number}", country="US",
                      id_type=umapi_client.IdentityType.federatedID)
        action.add_to_groups(group_names if number % 10 == 0 else group_names[number % 3: number % 3 + 2])
        actions.append(action)
    counts = connection.execute_multiple(actions)
    return listed, counts, [error for action in actions for error in action.execution_errors()]


async def test_official_client_lists_creates_meets_throttling_and_recovers(sandbox: SandboxServer) -> None:
    group_names = [group.name for group in sandbox.state.groups.values()][:12]  # 12 > 10: the client splits the list
    seeded = [user["email"] for user in sandbox.state.users.values()]
    listed, counts, errors = await asyncio.to_thread(list_then_create, sandbox, group_names)
    assert [user["email"] for user in listed] == seeded
    assert errors == []
    queued, sent, completed = counts
    assert (queued, sent, completed) == (0, 40, 40)
    stats = sandbox.sandbox.stats.families
    assert stats["action"].throttled >= 1 and stats["action"].inside_retry_after == 0
    assert stats["users"].ok == 3  # three pages of 50
    for number in range(40):
        user = sandbox.state.find_user(f"OFFICIAL.{number:02d}@example.com")
        assert user is not None
        expected = group_names if number % 10 == 0 else group_names[number % 3: number % 3 + 2]
        assert (user["type"], user["firstname"], user["lastname"], user["country"]) == (
            "federatedID", "Official", f"Client {number}", "US")
        assert sorted(user["groups"]) == sorted(expected)
    assert len(sandbox.state.users) == 130 + 40


def read_twice_across_token_expiry(server: SandboxServer) -> tuple[int, int]:
    connection = connect(server)
    first = len(umapi_client.GroupsQuery(connection).all_results())
    time.sleep(1.1)
    second = len(umapi_client.GroupsQuery(connection).all_results())
    return first, second


async def test_official_client_refreshes_a_short_lived_token(sandbox_factory) -> None:
    server = await sandbox_factory(token_lifetime=1, groups=3)
    assert await asyncio.to_thread(read_twice_across_token_expiry, server) == (3, 3)
    ims = server.sandbox.stats.families["ims"]
    groups = server.sandbox.stats.families["groups"]
    assert (ims.ok, groups.ok, groups.client_errors) == (2, 2, 0)


def list_with_retries(server: SandboxServer) -> list[dict]:
    connection = connect(server)
    connection.retry_first_delay = 0
    return umapi_client.UsersQuery(connection).all_results()


async def test_official_client_retries_injected_5xx_and_reads_everything(sandbox_factory) -> None:
    server = await sandbox_factory(users=130, user_page_size=50, seed=4, faults=parse_fault_plan("users:502=0.1,503=0.1,504=0.1"))
    listed = await asyncio.to_thread(list_with_retries, server)
    assert [user["email"] for user in listed] == [user["email"] for user in server.state.users.values()]
    users = server.sandbox.stats.families["users"]
    assert users.server_errors >= 1 and users.ok == 3


def move_with_group_actions(server: SandboxServer, emails: list[str]) -> tuple[tuple[int, int, int], list]:
    connection = connect(server)
    moving_in = umapi_client.GroupAction("Official In").add_users(emails)  # the client cuts the list into steps of 10
    moving_out = umapi_client.GroupAction("Official Out").remove_users(emails)
    shared = umapi_client.GroupAction("Official Shared").add_users(emails[:3])
    counts = connection.execute_multiple([moving_in, moving_out, shared])
    return counts, [(error["command"], error["errorCode"]) for action in (moving_in, moving_out, shared)
                    for error in action.execution_errors()]


async def test_official_client_moves_users_with_user_group_entries(sandbox: SandboxServer) -> None:
    state = sandbox.state
    state.add_group({"groupName": "Official In", "type": "USER_GROUP"})
    state.add_group({"groupName": "Official Out", "type": "USER_GROUP"})
    state.add_group({"groupName": "Official Shared", "type": "USER_GROUP", "isReadOnly": True})
    emails = [f"grouped.{number:02d}@example.com" for number in range(25)]
    for address in emails:
        state.add_user({"email": address, "username": address, "domain": "example.com", "type": "federatedID",
                        "firstname": "G", "lastname": "U", "country": "US", "groups": ["Official Out"]})
    counts, errors = await asyncio.to_thread(move_with_group_actions, sandbox, emails)
    assert counts == (0, 3, 2)
    assert errors == [({"add": {"user": emails[:3]}}, "error.usergroup.readonly.add_user_not_allowed")]
    assert all(state.find_user(address)["groups"] == ["Official In"] for address in emails)
