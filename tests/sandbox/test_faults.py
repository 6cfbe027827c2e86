"""Injected faults: 5xx answers, connection resets and slow answers, per family, repeatable by seed."""

from __future__ import annotations

import time

import aiohttp
import pytest

from async_usersync.sandbox import SandboxServer
from async_usersync.sandbox.faults import parse_fault_plan
from tests.support.sandbox import SandboxCaller


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_status_faults_hit_only_their_family(sandbox_factory, sandbox_http, status: int) -> None:
    server = await sandbox_factory(faults=parse_fault_plan(f"users:{status}=1"))
    caller = SandboxCaller(sandbox_http, server)
    assert (await caller.call("GET", "/users/{org}/0")).status == status
    assert (await caller.call("GET", "/groups/{org}/0")).status == 200
    assert server.sandbox.stats.families["users"].server_errors == 1


async def test_connection_reset(sandbox_factory, sandbox_http) -> None:
    server = await sandbox_factory(faults=parse_fault_plan("action:reset=1"))
    caller = SandboxCaller(sandbox_http, server)
    with pytest.raises(aiohttp.ClientConnectionError):
        await caller.call("POST", "/action/{org}", [{"user": "x@example.com", "do": [{"removeFromOrg": {}}]}])
    action = server.sandbox.stats.families["action"]
    assert (action.resets, action.server_errors, action.commands_applied) == (1, 0, 0)
    assert (await caller.call("GET", "/groups/{org}/0")).status == 200


async def test_slow_answers_wait_then_answer(sandbox_factory, sandbox_http) -> None:
    server = await sandbox_factory(faults=parse_fault_plan("groups:slow=1@0.4"))
    caller = SandboxCaller(sandbox_http, server)
    await caller.fetch_token()
    started = time.monotonic()
    answer = await caller.call("GET", "/groups/{org}/0")
    assert answer.status == 200 and time.monotonic() - started >= 0.4


async def test_ims_faults(sandbox_factory, sandbox_http) -> None:
    server = await sandbox_factory(faults=parse_fault_plan("ims:503=1"))
    assert (await SandboxCaller(sandbox_http, server).fetch_token()).status == 503


async def statuses(server: SandboxServer, session: aiohttp.ClientSession, count: int = 30) -> list[int]:
    caller = SandboxCaller(session, server)
    await caller.control("PUT", "config", {"throttle": False})
    return [(await caller.call("GET", "/users/{org}/0")).status for _ in range(count)]


async def test_faults_repeat_under_the_same_seed(sandbox_factory, sandbox_http) -> None:
    plan = "users:502=0.2,503=0.2"
    first = await statuses(await sandbox_factory(seed=7, faults=parse_fault_plan(plan)), sandbox_http)
    again = await statuses(await sandbox_factory(seed=7, faults=parse_fault_plan(plan)), sandbox_http)
    other = await statuses(await sandbox_factory(seed=8, faults=parse_fault_plan(plan)), sandbox_http)
    assert first == again and first != other
    assert {200, 502, 503} <= set(first)


async def test_faults_change_at_run_time(caller: SandboxCaller) -> None:
    changed = await caller.control("PUT", "config", {"faults": {"groups": {"504": 1.0}}})
    assert changed.body["faults"] == {"groups": {"504": 1.0, "slow_seconds": 1.0, "retry_after": 1.0}}
    assert (await caller.call("GET", "/groups/{org}/0")).status == 504
    await caller.control("PUT", "config", {"faults": ""})
    assert (await caller.call("GET", "/groups/{org}/0")).status == 200


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("users:503", "expected KIND=SHARE"),
        ("mail:503=0.1", "unknown family"),
        ("users:418=0.1", "unknown fault"),
        ("users:503=0.7,504=0.7", "add up to more than 1"),
        ("users:503=2", "between 0 and 1"),
    ],
)
def test_bad_fault_specs_are_explained(spec: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        parse_fault_plan(spec)


async def test_lost_answer_applies_the_change_but_drops_the_connection(sandbox_factory, sandbox_http) -> None:
    server = await sandbox_factory(faults=parse_fault_plan("action:lost=1"))
    caller = SandboxCaller(sandbox_http, server)
    create = [{"user": "lost@example.com", "do": [
        {"createFederatedID": {"email": "lost@example.com", "firstname": "L", "lastname": "A", "country": "US"}}]}]
    with pytest.raises(aiohttp.ClientConnectionError):
        await caller.call("POST", "/action/{org}", create)
    assert server.state.find_user("lost@example.com") is not None
    action = server.sandbox.stats.families["action"]
    assert (action.resets, action.commands_applied) == (1, 1)


async def test_an_injected_429_carries_its_retry_after(caller: SandboxCaller) -> None:
    await caller.control("PUT", "config", {"faults": "groups:429=1.0@3600"})
    answer = await caller.call("GET", "/groups/{org}/0")
    assert answer.status == 429 and answer.headers["Retry-After"] == "3600"
