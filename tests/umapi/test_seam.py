"""The retry, pause and reporting rules against a scripted fake server at the wire (milliseconds each)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from async_usersync.records import CommandResult, CreateUser, IdentityType, UserCommand
from async_usersync.umapi import RateLimits, UmapiClient, UmapiError
from async_usersync.umapi.throttle import AdaptiveBucket
from async_usersync.umapi.wire import WireFailure
from tests.umapi.scripted import ScriptedWire, Sent, actions_done, answer, seam_settings, too_many_requests_on

FED = IdentityType.FEDERATED_ID


def create(number: int) -> UserCommand:
    email = f"user{number:04d}@example.com"
    return UserCommand(user=email, create=CreateUser(FED, email, "Se", "Am", "US"), key=email)


async def push(wire: ScriptedWire, count: int, **settings) -> tuple[list[CommandResult], UmapiClient]:
    results: list[CommandResult] = []
    async with UmapiClient(seam_settings(**settings), wire=wire) as client:
        async with client.action_sink(results.append, linger=0.01) as sink:
            for number in range(count):
                await sink.send(create(number))
    return results, client


async def test_an_outage_pauses_the_family_and_probes_one_at_a_time_and_every_command_lands():
    down_until = time.monotonic() + 0.25

    def script(sent: Sent, wire: ScriptedWire):
        if sent.at < down_until:
            return WireFailure("connection", "connection failed (ClientConnectorError)")
        return actions_done(sent)

    wire = ScriptedWire(script)
    results, client = await push(wire, 200, retries=3)
    assert len(results) == 200 and all(result.ok for result in results)  # no request spent its attempts
    during = [sent for sent in wire.sent if sent.at < down_until]
    first_failure = during[0].at
    probes = [sent for sent in during if sent.at > first_failure + 0.005]
    # After the first failures, one probe at a time: each later attempt waited for the one before to fail.
    assert all(later.at - earlier.at >= 0.009 for earlier, later in zip(probes, probes[1:]))
    assert len(probes) <= 8  # 10, 20, 40, 40... ms apart over 250 ms
    assert client.transport.counters["action"].dropped == len(during)


async def test_an_outage_past_max_outage_stops_the_family_queued_commands_not_sent(caplog):
    caplog.set_level(logging.WARNING, logger="async_usersync")
    wire = ScriptedWire(lambda sent, wire: answer(503, {"error_code": "503", "message": "down"}))
    results, client = await push(wire, 200, max_outage=0.1)
    failed = [result for result in results if result.errors]
    not_sent = [result for result in results if result.not_sent]
    assert len(failed) + len(not_sent) == 200 and not any(result.ok for result in results)
    tried = {entry["user"] for sent in wire.sent for entry in sent.body}
    assert {result.command.user for result in failed} == tried  # what went out failed, with the 503
    assert all(error.code == "http.503" and "server.max_outage" in error.message
               for result in failed for error in result.errors)
    assert not_sent  # what never went out is not sent, not failed
    stopped = [record for record in caplog.records if "no more action requests" in record.getMessage()]
    assert len(stopped) == 1 and stopped[0].levelno == logging.ERROR


async def test_a_retry_after_a_lost_answer_that_finds_the_change_in_place_counts_as_landed():
    applied: set[str] = set()

    def script(sent: Sent, wire: ScriptedWire):
        users = [entry["user"] for entry in sent.body]
        errors = [{"index": index, "step": 0, "requestID": entry["requestID"], "errorCode": "error.user.already_exists",
                   "message": f"User already exists: {entry['user']}"}
                  for index, entry in enumerate(sent.body) if entry["user"] in applied]
        applied.update(users)
        if len(wire.sent) % 3 == 1:  # handled, then the answer is lost
            return WireFailure("connection", "connection failed (ServerDisconnectedError)")
        return actions_done(sent, errors)

    wire = ScriptedWire(script)
    results, _ = await push(wire, 60)
    assert len(results) == 60 and all(result.ok for result in results), [r.errors for r in results if r.errors]
    assert len(wire.sent) > 6  # some requests were retried


async def test_already_exists_without_a_lost_answer_is_still_a_failure():
    def script(sent: Sent, wire: ScriptedWire):
        return actions_done(sent, [{"index": 0, "step": 0, "requestID": sent.body[0]["requestID"],
                                    "errorCode": "error.user.already_exists", "message": "User already exists"}])

    results, _ = await push(ScriptedWire(script), 10)
    [failed] = [result for result in results if not result.ok]
    assert failed.errors[0].code == "error.user.already_exists"


async def test_the_token_is_taken_after_the_wait_so_it_never_expires_in_the_queue():
    """Tokens live 0.4 s; a 429 pauses the family 0.5 s: a token taken before the wait would be dead."""
    def script(sent: Sent, wire: ScriptedWire):
        if wire.token_age(sent) > wire.token_lifetime:
            return answer(401, {"error_code": "401013", "message": "Oauth token is not valid"})
        if len(wire.sent) == 3:
            return answer(429, {"error_code": "429050"}, {"Retry-After": "0.5"})
        return actions_done(sent)

    wire = ScriptedWire(script, token_lifetime=0.4)
    results, client = await push(wire, 100)
    assert all(result.ok for result in results)
    assert all(wire.token_age(sent) <= 0.4 for sent in wire.sent)
    assert client.transport.counters["action"].token_renewals == 0


async def test_a_retry_after_past_the_ceiling_stops_the_run_cleanly_and_reports_what_was_not_sent(caplog):
    caplog.set_level(logging.WARNING, logger="async_usersync")
    results, _ = await push(ScriptedWire(too_many_requests_on(2, "3600")), 100, max_retry_after=1800.0)
    landed = [result for result in results if result.ok]
    assert len(landed) == 10  # the first request; the 429 stopped the rest
    assert len(results) == 100 and all(result.not_sent for result in results if not result.ok)
    [stop] = [record.getMessage() for record in caplog.records if record.levelno == logging.ERROR]
    assert "asked to wait 1:00:00" in stop and "over server.max_retry_after (0:30:00)" in stop


async def test_a_long_wait_is_announced_with_the_resume_time_and_repeated(caplog):
    caplog.set_level(logging.WARNING, logger="async_usersync")
    results, _ = await push(ScriptedWire(too_many_requests_on(1, "0.35")), 10, long_wait=0.2, wait_reminder=0.1)
    assert all(result.ok for result in results)
    messages = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any("sending resumes at" in message and "(local time)" in message for message in messages)
    assert sum("Still waiting for UMAPI" in message for message in messages) >= 2


@pytest.mark.parametrize("while_draining", [False, True])
async def test_an_interrupt_stops_sending_at_once_and_reports_queued_commands_as_not_sent(caplog, while_draining):
    """Interrupted while commands still come, or while the sink drains its last requests."""
    caplog.set_level(logging.INFO, logger="async_usersync")
    answered: list[int] = []

    async def script(sent: Sent, wire: ScriptedWire):
        await asyncio.sleep(0.01)
        answered.append(len(sent.body))
        return actions_done(sent)

    wire = ScriptedWire(script)
    results: list[CommandResult] = []
    async with UmapiClient(seam_settings(limits=RateLimits(window=0.1)), wire=wire) as client:
        async def run() -> None:
            async with client.action_sink(results.append) as sink:
                for number in range(1000):
                    await sink.send(create(number))
                if not while_draining:
                    await asyncio.sleep(10)

        task = asyncio.create_task(run())
        await asyncio.sleep(0.3)
        sent_before = len(wire.sent)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(wire.sent) <= sent_before + client.settings.max_in_flight  # nothing new left after the interrupt
    landed = [result for result in results if result.ok]
    not_sent = [result for result in results if result.not_sent]
    assert len(landed) == sum(answered)  # exactly what the server answered
    assert len(landed) + len(not_sent) == 1000 and not any(result.errors for result in results)
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_a_cancelled_waiter_leaves_the_bucket_usable():
    """The old cancel path raised ValueError (<Future cancelled> is not in deque) for queued requests."""
    bucket = AdaptiveBucket(2, 0.05)

    async def request() -> None:
        await bucket.acquire()
        bucket.done()

    waiters = [asyncio.create_task(request()) for _ in range(50)]
    await asyncio.sleep(0)
    bucket.pause(0.01)
    for waiter in waiters[5:]:
        waiter.cancel()
    outcomes = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(outcome is None or isinstance(outcome, asyncio.CancelledError) for outcome in outcomes)
    await asyncio.wait_for(request(), 1)


async def test_a_request_failing_alone_while_others_land_gives_up_after_its_attempts():
    """Its failures count while other requests get through; the others all land."""
    def script(sent: Sent, wire: ScriptedWire):
        if any(entry["user"] == "user0005@example.com" for entry in sent.body):
            return answer(502, {"error_code": "502"})
        return actions_done(sent)

    wire = ScriptedWire(script)
    results, _ = await push(wire, 1000, retries=3, max_outage=5.0)
    failed = [result for result in results if not result.ok]
    assert {result.command.user for result in failed} == {f"user{n:04d}@example.com" for n in range(10)}
    assert all(result.errors[0].code == "http.502" and "gave up after 3 failed answers" in result.errors[0].message
               for result in failed)
    assert sum(result.ok for result in results) == 990


async def test_a_request_failing_after_all_others_landed_is_failed_at_max_outage():
    """Alone, it cannot be told from an outage: it goes on until server.max_outage."""
    def script(sent: Sent, wire: ScriptedWire):
        if any(entry["user"] == "user0000@example.com" for entry in sent.body):
            return answer(504, {"error_code": "504"})
        return actions_done(sent)

    results, _ = await push(ScriptedWire(script), 1, max_outage=0.2)
    [result] = results
    assert result.errors[0].code == "http.504" and "server.max_outage" in result.errors[0].message


async def test_an_interrupt_while_answers_are_lost_reports_those_requests_unanswered_once(caplog):
    """A request whose answer was lost waits out the outage pause; the interrupt ends it there. Its
    change may have landed: unanswered, neither failed nor not sent, and no error line."""
    caplog.set_level(logging.INFO, logger="async_usersync")

    async def script(sent: Sent, wire: ScriptedWire):
        number = len(wire.sent)
        await asyncio.sleep(0.01)
        if number % 4 == 0:  # handled, then the answer is lost
            return WireFailure("connection", "connection failed (ServerDisconnectedError)")
        return actions_done(sent)

    wire = ScriptedWire(script)
    results: list[CommandResult] = []
    async with UmapiClient(seam_settings(limits=RateLimits(window=0.1), backoff_base=0.5, backoff_max=1.0),
                           wire=wire) as client:
        async def run() -> None:
            async with client.action_sink(results.append) as sink:
                for number in range(1000):
                    await sink.send(create(number))

        task = asyncio.create_task(run())
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    lost = {entry["user"] for number, sent in enumerate(wire.sent, 1) if number % 4 == 0 for entry in sent.body}
    unanswered = [result for result in results if result.unanswered]
    assert lost and {result.command.user for result in unanswered} == lost
    assert not any(result.errors for result in results)
    assert len(results) == 1000 and sum(result.ok for result in results) + len(unanswered) + sum(
        result.not_sent for result in results) == 1000
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]


async def test_a_request_without_an_answer_when_the_family_gives_up_is_unanswered_not_failed():
    """No answer, then no request accepted until server.max_outage: the first attempt may have landed."""
    wire = ScriptedWire(lambda sent, wire: WireFailure("timeout", "no answer within 1 s"))
    results, client = await push(wire, 30, max_outage=0.1)
    tried = {entry["user"] for sent in wire.sent for entry in sent.body}
    assert {result.command.user for result in results if result.unanswered} == tried
    assert not any(result.errors for result in results)
    assert client.transport.counters["action"].timeouts == len(wire.sent)


async def test_one_request_failing_while_others_land_is_not_an_outage():
    """The others get through, so UMAPI is up: that request alone backs off and goes again, its
    failures count against server.retries, and the family never pauses."""
    def script(sent: Sent, wire: ScriptedWire):
        if any(entry["user"] == "user0105@example.com" for entry in sent.body):
            return answer(502, {"error_code": "502"})
        return actions_done(sent)

    wire = ScriptedWire(script)
    results, client = await asyncio.wait_for(push(wire, 1000, retries=3, backoff_base=0.05, backoff_max=0.1,
                                                  max_in_flight=8, limits=RateLimits(window=0.1)), 60)
    assert client.transport.throttles["action"].stats.paused_seconds == 0  # no outage pause
    poisoned = [sent for sent in wire.sent if any(entry["user"] == "user0105@example.com" for entry in sent.body)]
    failed = [result for result in results if not result.ok]
    assert len(poisoned) == 3 and {result.command.user for result in failed} == {
        f"user{n:04d}@example.com" for n in range(100, 110)}
    assert all(result.errors[0].code == "http.502" and "gave up after 3 failed answers" in result.errors[0].message
               for result in failed)
    assert sum(result.ok for result in results) == 990


async def test_one_lost_answer_while_others_land_is_not_an_outage():
    """No answer to one request: it alone goes again (and lands); the family never pauses."""
    def script(sent: Sent, wire: ScriptedWire):
        if sum(entry["user"] == "user0105@example.com" for sent in wire.sent for entry in sent.body) == 1 and any(
                entry["user"] == "user0105@example.com" for entry in sent.body):
            return WireFailure("timeout", "no answer within 1 s")
        return actions_done(sent)

    wire = ScriptedWire(script)
    results, client = await asyncio.wait_for(push(wire, 1000, backoff_base=0.05, backoff_max=0.1, max_in_flight=8,
                                                  limits=RateLimits(window=0.1)), 60)
    assert client.transport.throttles["action"].stats.paused_seconds == 0
    assert all(result.ok for result in results) and len(wire.sent) == 101


async def test_an_error_answer_to_one_request_is_final_at_once_and_pauses_nothing():
    def script(sent: Sent, wire: ScriptedWire):
        if any(entry["user"] == "user0005@example.com" for entry in sent.body):
            return answer(400, {"error_code": "400003", "message": "Malformed request"})
        return actions_done(sent)

    wire = ScriptedWire(script)
    results, client = await push(wire, 100, retries=3)
    assert client.transport.throttles["action"].stats.paused_seconds == 0
    assert len(wire.sent) == 10  # one attempt each
    failed = [result for result in results if not result.ok]
    assert len(failed) == 10 and all(result.errors[0].code == "400003" for result in failed)


def org_that_renames(lost_on: int):
    """A fake org of user<n>@old.example.com that runs each entry's steps in order as UMAPI does: a
    step on a user it does not hold fails (``error.user.nonexistent``, and ``error.user.not_found``
    for a group step). The ``lost_on``-th request is handled, then its answer lost."""
    users = {f"user{number:04d}@old.example.com" for number in range(10)}

    def script(sent: Sent, wire: ScriptedWire):
        errors = []
        for index, entry in enumerate(sent.body):
            user = entry["user"]
            for step, action in enumerate(entry["do"]):
                (name, arguments), = action.items()
                if user not in users:
                    code = "error.user.not_found" if name in ("add", "remove") else "error.user.nonexistent"
                    errors.append({"index": index, "step": step, "requestID": entry["requestID"], "errorCode": code,
                                   "message": f"User Id does not exist: {entry['user']}"})
                elif name == "update" and "email" in arguments:
                    users.remove(user)
                    user = arguments["email"]
                    users.add(user)
        if len(wire.sent) == lost_on:
            return WireFailure("connection", "connection failed (ServerDisconnectedError)")
        return actions_done(sent, errors)
    return script, users


@pytest.mark.parametrize("change", [{"email": "new"}, {"firstname": "Renamed"}])
async def test_a_retried_update_that_finds_its_user_gone_landed_only_when_it_renames_the_user(change):
    """An email update whose answer was lost: the retry names the old email, which no longer
    exists, because the first attempt renamed the user: it landed. An update that renames nobody
    and finds its user gone failed."""
    script, users = org_that_renames(lost_on=1)
    if "firstname" in change:
        users.clear()  # gone for a reason of their own
    commands = [UserCommand(user=f"user{number:04d}@old.example.com", add_groups=("Sales",),
                            update={key: f"user{number:04d}@new.example.com" if key == "email" else value
                                    for key, value in change.items()}) for number in range(10)]
    wire = ScriptedWire(script)
    results: list[CommandResult] = []
    async with UmapiClient(seam_settings(), wire=wire) as client:
        async with client.action_sink(results.append, linger=0.01) as sink:
            for command in commands:
                await sink.send(command)
    assert len(wire.sent) == 2  # the lost attempt and its retry
    if "email" in change:
        assert users == {f"user{number:04d}@new.example.com" for number in range(10)}
        assert all(result.ok for result in results), [result.errors for result in results]
    else:
        assert all({error.code for error in result.errors} == {"error.user.nonexistent", "error.user.not_found"}
                   for result in results)


async def test_a_read_without_an_answer_is_a_plain_failure_not_unanswered():
    """A GET changes nothing, so a read that never got an answer is not 'may have landed'."""
    wire = ScriptedWire(lambda sent, wire: WireFailure("timeout", "no answer within 1 s"))
    async with UmapiClient(seam_settings(max_outage=0.1), wire=wire) as client:
        with pytest.raises(UmapiError) as failure:
            [user async for user in client.users()]
    assert failure.value.code == "timeout" and "may have landed" not in str(failure.value)
