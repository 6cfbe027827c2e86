"""The client against the sandbox's faults: an outage with a restart, lost answers, tokens that expire
during a long wait, a Retry-After past the ceiling. The sink's totals must equal the org's state."""

from __future__ import annotations

import asyncio

from async_usersync.records import CommandResult, CreateUser, IdentityType, UserCommand
from async_usersync.umapi import RateLimits, UmapiClient
from tests.umapi.conftest import client_settings

FED = IdentityType.FEDERATED_ID


def create(number: int) -> UserCommand:
    email = f"fault{number:04d}@example.com"
    return UserCommand(user=email, create=CreateUser(FED, email, "Fa", "Ult", "US"), key=email)


def created(server) -> set[str]:
    return {user["email"] for user in server.state.user_list() if user["email"].startswith("fault")}


async def push(client: UmapiClient, count: int, during=None) -> tuple[list[CommandResult], object]:
    results: list[CommandResult] = []
    async with client.action_sink(results.append) as sink:
        side = asyncio.create_task(during()) if during else None
        for number in range(count):
            await sink.send(create(number))
    if side is not None:
        await side
    return results, sink.totals


async def test_an_outage_with_a_restart_mid_load_loses_nothing(sandbox_factory):
    """The server goes away for a second (every request refused or reset), then comes back on the
    same port: every command lands in the same run, none is reported twice or failed."""
    server = await sandbox_factory(time_scale=60.0, users=0)
    settings = client_settings(server, limits=RateLimits(window=1.0), retries=3, backoff_base=0.05,
                               backoff_jitter=0.02, backoff_max=0.2)

    async def outage() -> None:
        await asyncio.sleep(0.8)
        await server.outage(1.0)

    async with UmapiClient(settings) as client:
        results, totals = await push(client, 400, outage)
        dropped = client.transport.counters["action"].dropped
    assert dropped > 0  # the outage was met
    assert len(results) == 400 and all(result.ok for result in results), [r.errors for r in results if not r.ok][:3]
    assert (totals.sent, totals.completed, totals.failed, totals.not_sent) == (400, 400, 0, 0)
    assert len(created(server)) == 400


async def test_lost_answers_are_reported_as_landed_and_totals_equal_the_org(sandbox_factory):
    server = await sandbox_factory(time_scale=600.0, users=0, seed=11)
    server.config.update({"faults": "action:lost=0.3"})
    async with UmapiClient(client_settings(server, backoff_base=0.005, backoff_max=0.02)) as client:
        results, totals = await push(client, 300)
        assert client.transport.counters["action"].dropped > 0
    assert totals.completed == len(created(server)) == 300
    assert (totals.failed, totals.not_sent) == (0, 0)


async def test_tokens_that_expire_while_requests_wait_their_turn_are_taken_fresh(sandbox_factory):
    """Tokens live 1 s; the queue and a 429 pause hold requests for longer than that."""
    server = await sandbox_factory(time_scale=60.0, users=0, token_lifetime=1, seed=3)
    server.config.update({"faults": "action:429=0.05@1.5"})
    settings = client_settings(server, limits=RateLimits(window=1.0), backoff_base=0.05)
    async with UmapiClient(settings) as client:
        results, totals = await push(client, 200)
        assert client.transport.token.fetches >= 3
        assert client.transport.throttles["action"].stats.throttled >= 1
    assert (totals.completed, totals.failed, totals.not_sent) == (200, 0, 0)
    assert len(created(server)) == 200


async def test_a_retry_after_past_the_ceiling_stops_sending_and_reports_not_sent(sandbox_factory, caplog):
    server = await sandbox_factory(time_scale=600.0, users=0)
    server.config.update({"faults": "action:429=1.0@3600"})
    async with UmapiClient(client_settings(server, max_retry_after=60.0)) as client:
        results, totals = await push(client, 50)
    assert (totals.sent, totals.completed, totals.failed, totals.not_sent) == (50, 0, 0, 50)
    assert all(result.not_sent for result in results) and not created(server)
    assert any("over server.max_retry_after" in record.getMessage() for record in caplog.records)


async def test_email_updates_whose_answers_are_lost_are_reported_as_landed(sandbox_factory):
    """The retry of a lost email update names the old email, gone since the first attempt renamed
    the user: UMAPI says the user does not exist, and the update counts as landed."""
    server = await sandbox_factory(time_scale=600.0, users=0, seed=11)
    settings = client_settings(server, backoff_base=0.005, backoff_max=0.02)
    async with UmapiClient(settings) as client:
        await push(client, 200)
    server.config.update({"faults": "action:lost=0.3"})
    renames = [UserCommand(user=f"fault{number:04d}@example.com", update={"email": f"renamed{number:04d}@example.com"})
               for number in range(200)]
    results: list[CommandResult] = []
    async with UmapiClient(settings) as client:
        async with client.action_sink(results.append) as sink:
            for command in renames:
                await sink.send(command)
        assert client.transport.counters["action"].dropped > 0
    assert all(result.ok for result in results), [result.errors for result in results if not result.ok][:2]
    assert (sink.totals.completed, sink.totals.failed) == (200, 0)
    assert not created(server) and sum(user["email"].startswith("renamed") for user in server.state.user_list()) == 200
