"""Rate limits: per client and global per family, 429 with Retry-After, time scale, and the sync penalty."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from async_usersync.sandbox import RateLimit, SandboxServer
from tests.support.sandbox import SandboxCaller

ACTION = [{"user": "nobody@example.com", "do": [{"removeFromOrg": {}}]}]


async def burst(caller: SandboxCaller, count: int, path: str = "/groups/{org}/0", method: str = "GET", body=None) -> list:
    return await asyncio.gather(*(caller.call(method, path, body) for _ in range(count)))


async def test_limit_is_applied_with_the_documented_429(sandbox: SandboxServer, caller: SandboxCaller) -> None:
    answers = await burst(caller, 8)
    assert sorted(answer.status for answer in answers) == [200] * 5 + [429] * 3
    refused = next(answer for answer in answers if answer.status == 429)
    assert refused.body == {"error_code": "429050", "message": "Too many requests"}
    assert refused.headers["Server"] == "APIP" and refused.headers["X-Request-Id"]
    assert 50 <= int(refused.headers["Retry-After"]) <= 60  # the oldest of 5 accepted leaves the 60 s window
    stats = sandbox.sandbox.stats.families["groups"]
    assert (stats.requests, stats.ok, stats.throttled) == (8, 5, 3)


async def test_requests_inside_a_told_retry_after_are_counted(sandbox_factory) -> None:
    server = await sandbox_factory(retry_grace=30.0)
    stats = server.sandbox.stats.families["groups"]
    one_connection = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=one_connection) as first_session, aiohttp.ClientSession() as other_session:
        first = SandboxCaller(first_session, server)
        statuses = [(await first.call("GET", "/groups/{org}/0")).status for _ in range(6)]
        assert statuses == [200] * 5 + [429] and stats.inside_retry_after == 0
        await first.call("GET", "/groups/{org}/0")  # same connection, after reading the 429: the client knew
        assert stats.inside_retry_after == 1
        other = SandboxCaller(other_session, server)
        other.token = first.token
        await other.call("GET", "/groups/{org}/0")  # another connection, within the grace: maybe already sent
        assert stats.inside_retry_after == 1
        await other.control("PUT", "config", {"retry_grace": 0.01})
        await asyncio.sleep(0.05)
        await other.call("GET", "/groups/{org}/0")
        assert stats.inside_retry_after == 2
    assert server.sandbox.stats.families["users"].inside_retry_after == 0


async def test_accepted_requests_per_window_never_exceed_the_limit(sandbox_factory, sandbox_http) -> None:
    server = await sandbox_factory(time_scale=60.0)  # 10 actions per client per second
    caller = SandboxCaller(sandbox_http, server)
    statuses = []
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        statuses += [answer.status for answer in await burst(caller, 4, "/action/{org}", "POST", ACTION)]
    per_second = server.sandbox.stats.families["action"].accepted_per_second
    assert max(per_second) <= 10 and sum(per_second) == statuses.count(200) >= 10
    refused = statuses.count(429)
    assert refused and set(statuses) == {200, 429}


async def test_time_scale_shortens_retry_after_but_never_below_one(sandbox_factory, sandbox_http) -> None:
    server = await sandbox_factory(time_scale=60.0)
    caller = SandboxCaller(sandbox_http, server)
    answers = await burst(caller, 6)
    assert [answer.headers.get("Retry-After") for answer in answers if answer.status == 429] == ["1"]
    await asyncio.sleep(1.0)
    assert (await caller.call("GET", "/groups/{org}/0")).status == 200
    assert server.sandbox.stats.families["groups"].inside_retry_after == 0


async def test_per_client_and_global_limits_are_separate(sandbox_factory, sandbox_http) -> None:
    server = await sandbox_factory(
        extra_clients={"second": "secret-2", "third": "secret-3"},
        rate_limits={"action": RateLimit(10, 100), "users": RateLimit(25, 100), "groups": RateLimit(5, 12)},
    )
    first = SandboxCaller(sandbox_http, server)
    second = SandboxCaller(sandbox_http, server, "second", "secret-2")
    third = SandboxCaller(sandbox_http, server, "third", "secret-3")
    first_answers = [a.status for a in await burst(first, 7)]
    second_answers = [a.status for a in await burst(second, 7)]
    third_answers = [a.status for a in await burst(third, 3)]
    assert first_answers.count(200) == 5 and second_answers.count(200) == 5
    assert third_answers.count(200) == 2  # the global 12 is used up


async def test_throttle_off_and_limits_changed_at_run_time(caller: SandboxCaller, sandbox: SandboxServer) -> None:
    assert (await caller.control("PUT", "config", {"throttle": False})).status == 200
    assert {a.status for a in await burst(caller, 12)} == {200}
    changed = await caller.control("PUT", "config", {"throttle": True, "rate_limits": {"users": {"per_client": 2}}})
    assert changed.body["rate_limits"]["users"] == {"per_client": 2, "global": 100}
    assert [a.status for a in await burst(caller, 3, "/users/{org}/0")].count(429) == 1


async def test_sync_penalty_blocks_every_call(sandbox_factory, sandbox_http) -> None:
    server = await sandbox_factory(sync_penalty=True, time_scale=1000.0, sync_penalty_seconds=2000)
    caller = SandboxCaller(sandbox_http, server)
    assert (await caller.call("GET", "/users/{org}/0")).status == 200
    assert (await caller.call("GET", "/users/{org}/1")).status == 200
    again = await caller.call("GET", "/users/{org}/0")
    assert again.status == 429 and again.headers["Retry-After"] == "2"
    blocked = [await caller.call("GET", "/groups/{org}/3"), await caller.call("POST", "/action/{org}", ACTION)]
    assert [answer.status for answer in blocked] == [429, 429]
    assert server.sandbox.stats.families["action"].inside_retry_after == 1
    await asyncio.sleep(2.0)
    assert (await caller.call("POST", "/action/{org}", ACTION)).status == 200


async def test_sync_penalty_is_off_by_default(caller: SandboxCaller) -> None:
    assert [a.status for a in [await caller.call("GET", "/users/{org}/0") for _ in range(3)]] == [200] * 3
