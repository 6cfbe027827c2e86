"""IMS tokens: reused, renewed before they expire, and renewed once after a 401."""

from __future__ import annotations

import asyncio

from async_usersync.sandbox.ims import TokenStore
from async_usersync.umapi import UmapiClient
from tests.umapi.conftest import client_settings


async def read_all(client: UmapiClient) -> int:
    return len([user async for user in client.users()])


async def test_one_token_serves_many_requests(sandbox):
    async with UmapiClient(client_settings(sandbox)) as client:
        for _ in range(5):
            assert await read_all(client) == 20
        assert client.transport.token.fetches == 1
    assert sandbox.sandbox.stats.families["ims"].requests == 1


async def test_a_short_lived_token_is_renewed_before_it_expires(sandbox_factory):
    server = await sandbox_factory(time_scale=600.0, token_lifetime=1)
    async with UmapiClient(client_settings(server)) as client:
        for _ in range(5):
            assert await read_all(client) == 20
            await asyncio.sleep(0.5)
        fetches = client.transport.token.fetches
        renewals = client.transport.counters["users"].token_renewals
    assert fetches >= 3
    assert renewals == 0  # never sent an expired token
    assert server.sandbox.stats.families["users"].client_errors == 0


async def test_a_401_renews_the_token_once_and_the_request_goes_through(sandbox):
    async with UmapiClient(client_settings(sandbox)) as client:
        assert await read_all(client) == 20
        sandbox.sandbox.tokens = TokenStore()  # the server forgets every token it gave out
        assert await read_all(client) == 20
        assert client.transport.counters["users"].token_renewals == 1
        assert client.transport.token.fetches == 2
    stats = sandbox.sandbox.stats.families["users"]
    assert stats.client_errors == 1 and stats.ok == 4  # each one-page read: page 0, then page 1 with the end signal
