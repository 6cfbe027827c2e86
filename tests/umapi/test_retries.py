"""Retry and pause rules against the sandbox's throttle and injected faults."""

from __future__ import annotations

import logging
import re

import pytest

from async_usersync.records import CommandResult, CreateUser, IdentityType, UserCommand
from async_usersync.umapi import RateLimits, UmapiClient
from async_usersync.umapi.policy import parse_retry_after
from tests.umapi.conftest import client_settings

FED = IdentityType.FEDERATED_ID


def create(number: int) -> UserCommand:
    email = f"retry{number:04d}@example.com"
    return UserCommand(user=email, create=CreateUser(FED, email, "Re", "Try", "US"), add_groups=())


async def push(client: UmapiClient, count: int) -> list[CommandResult]:
    results: list[CommandResult] = []
    async with client.action_sink(results.append) as sink:
        for number in range(count):
            await sink.send(create(number))
    return results


def assert_each_applied_once(server, results: list[CommandResult], count: int) -> None:
    assert sorted(result.command.user for result in results) == sorted(create(n).user for n in range(count))
    assert all(result.ok for result in results), [result.errors for result in results if not result.ok]
    emails = [user["email"] for user in server.state.user_list()]
    assert sum(email.startswith("retry") for email in emails) == count


async def test_a_429_pauses_every_sender_of_the_family_and_nothing_is_sent_inside_retry_after(sandbox_factory):
    """The sandbox allows 10 a second (time scale 60); the client believes 40 and learns."""
    server = await sandbox_factory(time_scale=60.0)
    settings = client_settings(server, limits=RateLimits(action=40, window=1.0))
    async with UmapiClient(settings) as client:
        results = await push(client, 250)
        throttle = client.transport.throttles["action"]
    stats = server.sandbox.stats.families["action"]
    assert stats.throttled >= 1 and throttle.stats.throttled == stats.throttled
    assert stats.inside_retry_after == 0
    assert throttle.limit < throttle.max_limit  # it went slower after the 429
    assert_each_applied_once(server, results, 250)


@pytest.mark.parametrize("fault", ["502", "503", "504"])
async def test_gateway_errors_are_retried_with_the_same_request_id(sandbox_factory, caplog, fault):
    server = await sandbox_factory(time_scale=600.0)
    server.config.update({"faults": f"action:{fault}=1.0"})
    caplog.set_level(logging.WARNING, logger="async_usersync.umapi")
    async with UmapiClient(client_settings(server, retries=3, max_outage=0.3)) as client:
        results = await push(client, 1)
    attempts = server.sandbox.stats.families["action"].requests
    assert attempts >= 3  # an outage spends no attempts: the request goes on until server.max_outage
    [error] = results[0].errors
    assert (error.step, error.code) == ("request", f"http.{fault}")
    assert "server.max_outage" in error.message
    request_id = re.search(r"X-Request-Id (\S+)\)", error.message).group(1)
    messages = [record.getMessage() for record in caplog.records]
    # The first failure is taken as the request's own (it alone goes again); the next ones, with
    # nothing accepted in between, as an outage (the family pauses, then probes).
    retried = [message for message in messages if "goes again in" in message or "then one goes first" in message]
    assert len(retried) == attempts - 1 and all(request_id in message for message in retried)
    assert "goes again in" in retried[0] and all("then one goes first" in message for message in retried[1:])


async def test_an_internal_server_error_is_not_retried(sandbox_factory):
    server = await sandbox_factory(time_scale=600.0)
    server.config.update({"faults": "action:500=1.0"})
    async with UmapiClient(client_settings(server, retries=4)) as client:
        results = await push(client, 3)
        assert client.transport.counters["action"].retries == 0
    assert server.sandbox.stats.families["action"].requests == 1
    assert len(results) == 3
    assert {(error.step, error.code) for result in results for error in result.errors} == {("request", "500")}
    assert not any(user["email"].startswith("retry") for user in server.state.user_list())


async def test_a_client_error_is_not_retried(sandbox):
    settings = client_settings(sandbox, org_id="0000@AdobeOrg")
    async with UmapiClient(settings) as client:
        results = await push(client, 3)
    assert sandbox.sandbox.stats.families["action"].requests == 1
    assert {error.code for result in results for error in result.errors} == {"error.organization.invalid_id"}


async def test_dropped_connections_and_gateway_errors_are_retried_until_each_command_lands(sandbox_factory):
    server = await sandbox_factory(time_scale=600.0, seed=7)
    server.config.update({"faults": "action:reset=0.2,503=0.2"})
    async with UmapiClient(client_settings(server, retries=8)) as client:
        results = await push(client, 120)
        counters = client.transport.counters["action"]
    assert counters.dropped > 0 and counters.server_errors > 0
    assert_each_applied_once(server, results, 120)


async def test_an_answer_slower_than_the_timeout_is_retried(sandbox_factory):
    server = await sandbox_factory(time_scale=600.0, seed=1)
    server.config.update({"faults": "action:slow=0.3@0.6"})
    async with UmapiClient(client_settings(server, timeout=0.3, retries=6)) as client:
        results = await push(client, 60)
        counters = client.transport.counters["action"]
    assert counters.timeouts > 0
    assert_each_applied_once(server, results, 60)


def test_retry_after_is_read_as_seconds_or_as_an_http_date():
    assert parse_retry_after("38") == 38.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: no wait
    from email.utils import formatdate
    import time
    assert 8 <= parse_retry_after(formatdate(time.time() + 10, usegmt=True)) <= 10


async def test_a_429_pauses_all_concurrent_page_readers(sandbox_factory):
    """Forty pages are requested at once; the sandbox allows 5 per window, the client believes 50."""
    server = await sandbox_factory(users=200, time_scale=600.0, user_page_size=5)
    server.config.update({"rate_limits": {"users": {"per_client": 5, "global": 0}}})
    settings = client_settings(server, limits=RateLimits(users=50, window=0.1))
    async with UmapiClient(settings) as client:
        emails = [user.email async for user in client.users()]
    stats = server.sandbox.stats.families["users"]
    assert stats.throttled >= 1
    assert stats.inside_retry_after == 0
    assert sorted(emails) == sorted(user["email"] for user in server.state.user_list())


async def test_a_change_whose_answer_was_lost_is_retried_and_lands_once(sandbox_factory):
    """The sandbox applies the request, then drops the connection: the retried create is ignored
    (ignoreIfAlreadyExists) and the group adds change nothing, so each user ends up exactly as sent."""
    server = await sandbox_factory(time_scale=600.0, seed=5)
    group = server.state.group_list()[0].name
    server.config.update({"faults": "action:lost=0.4"})
    commands = [UserCommand(user=f"lost{n:03d}@example.com", add_groups=(group,),
                            create=CreateUser(FED, f"lost{n:03d}@example.com", "Lo", "St", "US")) for n in range(150)]
    results: list[CommandResult] = []
    async with UmapiClient(client_settings(server, retries=8)) as client:
        async with client.action_sink(results.append) as sink:
            for command in commands:
                await sink.send(command)
        assert client.transport.counters["action"].dropped > 0
    assert len(results) == 150 and all(result.ok for result in results)
    for command in commands:
        user = server.state.find_user(command.user)
        assert user is not None and user["groups"] == [group]
    assert sum(user["email"].startswith("lost") for user in server.state.user_list()) == 150
