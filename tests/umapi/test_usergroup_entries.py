"""Membership changes many users share go in entries rooted at the user group (issue 17), against the sandbox.

Each test records the action requests on the wire (the real aiohttp wire, with the sandbox's
certificate) and checks the org's final state and how each command was reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Any, AsyncIterator, Callable, Mapping

import aiohttp
import orjson
from yarl import URL

from async_usersync.records import CommandResult, CreateUser, IdentityType, UserCommand
from async_usersync.sandbox import SandboxServer
from async_usersync.umapi import UmapiClient
from async_usersync.umapi import sink as sink_module
from async_usersync.umapi.sink import ActionTotals
from async_usersync.umapi.wire import AiohttpWire, WireAnswer
from async_usersync.tls import TlsTrust
from tests.umapi.conftest import client_settings

FED = IdentityType.FEDERATED_ID
MOVE_IN, MOVE_OUT, SHARED, OTHER = "Move In", "Move Out", "Shared Team", "Small Team"


class RecordingWire(AiohttpWire):
    """The real wire, keeping the body of every action request it posts (retries included)."""

    def __init__(self, session: aiohttp.ClientSession, timeout: float, trust: TlsTrust) -> None:
        super().__init__(session, timeout, trust)
        self.actions: list[list[dict[str, Any]]] = []

    async def send(self, method: str, url: URL, headers: Mapping[str, str], data: bytes | None,
                   answered: Callable[[], None]) -> WireAnswer:
        if method == "POST" and "/action/" in url.path and data is not None:
            self.actions.append(orjson.loads(data))
        return await super().send(method, url, headers, data, answered)

    @property
    def entries(self) -> list[dict[str, Any]]:
        return [entry for body in self.actions for entry in body]


@contextlib.asynccontextmanager
async def recording_client(server: SandboxServer, **overrides: Any) -> AsyncIterator[tuple[UmapiClient, RecordingWire]]:
    trust = TlsTrust.resolve(ca_bundle=server.ca_cert, environ={})
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trust.ssl_context("the sandbox"))) as session:
        wire = RecordingWire(session, 5.0, trust)
        async with UmapiClient(client_settings(server, **overrides), wire=wire) as client:
            yield client, wire


def email(number: int) -> str:
    return f"member.{number:03d}@example.com"


def seed(server: SandboxServer, count: int, groups: tuple[str, ...] = (MOVE_OUT,)) -> None:
    """``count`` Federated IDs in ``groups``, and the user groups this module uses."""
    state = server.state
    for name in (MOVE_IN, MOVE_OUT, OTHER):
        state.add_group({"groupName": name, "type": "USER_GROUP"})
    state.add_group({"groupName": SHARED, "type": "USER_GROUP", "isReadOnly": True})
    for number in range(count):
        state.add_user({"email": email(number), "username": email(number), "domain": "example.com",
                        "type": "federatedID", "firstname": "Member", "lastname": str(number), "country": "US",
                        "groups": list(groups)})


def groups_of(server: SandboxServer, address: str) -> set[str]:
    user = server.state.find_user(address)
    assert user is not None, address
    return set(user["groups"])


def move(address: str, add: tuple[str, ...] = (MOVE_IN,), remove: tuple[str, ...] = (MOVE_OUT,)) -> UserCommand:
    return UserCommand(user=address, add_groups=add, remove_groups=remove, key=f"federatedID,{address},,{address}")


async def send_all(client: UmapiClient, commands: list[UserCommand]) -> tuple[list[CommandResult], ActionTotals]:
    results: list[CommandResult] = []
    async with client.action_sink(results.append) as sink:
        for command in commands:
            await sink.send(command)
    return results, sink.totals


def group_rooted(wire: RecordingWire) -> list[dict[str, Any]]:
    return [entry for entry in wire.entries if "usergroup" in entry]


async def test_forty_users_moving_between_two_user_groups_take_one_entry_per_group(sandbox):
    seed(sandbox, 40)
    # nine of them also join a group only they gain: too few to pack, so in their own entries
    commands = [move(email(number), add=(MOVE_IN, OTHER) if number < 9 else (MOVE_IN,)) for number in range(40)]
    async with recording_client(sandbox) as (client, wire):
        results, totals = await send_all(client, commands)
    assert [result.command for result in results if result.ok] == commands  # each reported once, in order
    assert totals.requests == 2 and totals.group_entries == 2 and totals.fallback_users == 0
    user_entries = [{"user": email(number), "requestID": f"action_{number + 3}", "do": [{"add": {"group": [OTHER]}}]}
                    for number in range(9)]
    assert wire.actions == [user_entries + [
        {"usergroup": MOVE_OUT, "requestID": "action_1",
         "do": [{"remove": {"user": [email(n) for n in range(start, start + 10)]}} for start in range(0, 40, 10)]},
    ], [
        {"usergroup": MOVE_IN, "requestID": "action_2",
         "do": [{"add": {"user": [email(n) for n in range(start, start + 10)]}} for start in range(0, 40, 10)]},
    ]]
    assert sandbox.sandbox.stats.families["groups"].requests == 1  # the listing, read once
    for number in range(40):
        assert groups_of(sandbox, email(number)) == ({MOVE_IN, OTHER} if number < 9 else {MOVE_IN})


async def test_option_off_sends_one_user_entry_per_user_as_before(sandbox):
    seed(sandbox, 40)
    commands = [move(email(number)) for number in range(40)]
    async with recording_client(sandbox, user_group_entries=False) as (client, wire):
        results, totals = await send_all(client, commands)
    assert all(result.ok for result in results) and len(results) == 40
    assert totals.requests == 4 and group_rooted(wire) == []
    assert [entry["user"] for entry in wire.entries] == [email(number) for number in range(40)]
    assert wire.entries[0]["do"] == [{"remove": {"group": [MOVE_OUT]}}, {"add": {"group": [MOVE_IN]}}]
    assert sandbox.sandbox.stats.families["groups"].requests == 0  # no group listing read either
    assert all(groups_of(sandbox, email(number)) == {MOVE_IN} for number in range(40))


async def test_a_step_failed_by_one_unknown_user_is_retried_in_user_entries(sandbox):
    seed(sandbox, 24)
    commands = [move(email(number), remove=()) for number in range(24)]
    commands[13] = move("gone@example.com", remove=())  # in the second step of ten
    async with recording_client(sandbox) as (client, wire):
        results, totals = await send_all(client, commands)
    by_user = {result.command.user: result for result in results}
    assert len(results) == 24 and len(by_user) == 24  # each command reported exactly once
    failed = {user: [(error.step, error.code) for error in result.errors] for user, result in by_user.items()
              if not result.ok}
    assert failed == {"gone@example.com": [("add", "error.user.not_found")]}
    assert totals.completed == 23 and totals.failed == 1 and totals.fallback_users == 10
    # the group entry first, then the ten users of its failed step one by one, and nothing else
    assert len(group_rooted(wire)) == 1
    retried = [entry["user"] for entry in wire.entries if "user" in entry]
    assert retried == [commands[number].user for number in range(10, 20)]
    assert all(MOVE_IN in groups_of(sandbox, email(number)) for number in range(24) if number != 13)


async def test_read_only_user_groups_from_the_listing_stay_in_user_entries(sandbox):
    seed(sandbox, 15)
    commands = [move(email(number), add=(MOVE_IN, SHARED), remove=()) for number in range(15)]
    async with recording_client(sandbox) as (client, wire):
        results, totals = await send_all(client, commands)
    assert all(result.ok for result in results) and len(results) == 15
    assert [entry["usergroup"] for entry in group_rooted(wire)] == [MOVE_IN]
    user_entries = [entry for entry in wire.entries if "user" in entry]
    assert [entry["do"] for entry in user_entries] == [[{"add": {"group": [SHARED]}}]] * 15
    assert totals.fallback_users == 0
    assert all(groups_of(sandbox, email(number)) == {MOVE_OUT, MOVE_IN, SHARED} for number in range(15))


async def test_a_group_step_the_server_refuses_whole_falls_back_for_every_user(sandbox):
    seed(sandbox, 12)
    sandbox.config.max_group_members_for_add = 11  # the sandbox's stand-in for UMAPI's 200,000 ceiling
    commands = [move(email(number), add=(OTHER,), remove=()) for number in range(12)]
    sandbox.state.groups[OTHER.lower()].members.update({f"filler{n}": None for n in range(12)})
    async with recording_client(sandbox) as (client, wire):
        results, totals = await send_all(client, commands)
    assert all(result.ok for result in results) and len(results) == 12
    assert totals.group_entries == 1 and totals.fallback_users == 12 and totals.requests == 1 + 2
    assert [entry["do"] for entry in wire.entries if "user" in entry] == [[{"add": {"group": [OTHER]}}]] * 12
    assert all(OTHER in groups_of(sandbox, email(number)) for number in range(12))


async def test_user_rooted_and_group_rooted_changes_of_the_same_users_keep_their_order(sandbox):
    seed(sandbox, 30)
    commands: list[UserCommand] = []
    for number in range(12):  # an update and a group of their own: user entries, sent at once
        commands.append(UserCommand(user=email(number), update={"firstname": "Renamed"}, add_groups=(OTHER,),
                                    key=email(number)))
    for number in range(30):  # then everyone moves: group entries, after those have landed
        commands.append(move(email(number)))
    new = "new.member@example.com"
    commands.append(UserCommand(user=new, create=CreateUser(FED, new, "New", "Member", "US"), add_groups=(MOVE_IN,),
                                key=new))
    leaver = email(29)  # its move is held, then it leaves the org: the move goes first, ahead of the removal
    commands.append(UserCommand(user=leaver, remove_from_org=True, key=leaver))
    async with recording_client(sandbox) as (client, wire):
        results, totals = await send_all(client, commands)
    assert len(results) == len(commands) and all(result.ok for result in results)
    assert sorted(id(result.command) for result in results) == sorted(id(command) for command in commands)
    entries = wire.entries
    first_group_entry = next(index for index, entry in enumerate(entries) if "usergroup" in entry)
    # every user-rooted entry went before the first group entry, each membership in one place
    assert all("user" in entry for entry in entries[:first_group_entry])
    assert all("usergroup" in entry for entry in entries[first_group_entry:])
    leaver_entries = [entry["do"] for entry in entries if entry.get("user") == leaver]
    assert leaver_entries == [[{"remove": {"group": [MOVE_OUT]}}, {"add": {"group": [MOVE_IN]}}],
                              [{"removeFromOrg": {"deleteAccount": False}}]]
    named = [user for entry in group_rooted(wire) for step in entry["do"] for verb in step for user in step[verb]["user"]]
    assert sorted(named) == sorted([email(number) for number in range(29)] * 2)
    assert [entry["do"] for entry in entries if entry.get("user") == new] == [[
        {"createFederatedID": {"email": new, "firstname": "New", "lastname": "Member", "country": "US",
                               "option": "ignoreIfAlreadyExists"}}, {"add": {"group": [MOVE_IN]}}]]
    # 12 user entries, the create and the leaver's held move; its removal from the org only once
    # those are answered; then 2 group entries
    assert [len(body) for body in wire.actions] == [10, 4, 1, 2]
    assert wire.actions[1][-1] == {"user": leaver, "requestID": wire.actions[1][-1]["requestID"],
                                   "do": leaver_entries[0]}
    assert sandbox.state.find_user(leaver) is None
    for number in range(29):
        assert groups_of(sandbox, email(number)) == ({MOVE_IN, OTHER} if number < 12 else {MOVE_IN})
        assert number >= 12 or sandbox.state.find_user(email(number))["firstname"] == "Renamed"
    assert groups_of(sandbox, new) == {MOVE_IN}


async def test_an_interrupted_run_reports_held_changes_not_sent(sandbox):
    seed(sandbox, 12)
    new = "new.member@example.com"
    results: list[CommandResult] = []
    async with recording_client(sandbox) as (client, wire):
        sink = client.action_sink(results.append)
        await sink.__aenter__()
        await sink.send(UserCommand(user=new, create=CreateUser(FED, new, "New", "Member", "US"), key=new))
        for number in range(12):
            await sink.send(move(email(number)))
        for _ in range(200):  # the create goes after the 0.5 s linger; the moves wait for the end
            if results:
                break
            await asyncio.sleep(0.01)
        await sink.__aexit__(KeyboardInterrupt, KeyboardInterrupt(), None)
    assert [result.command.user for result in results if result.ok] == [new]
    assert [result.command.user for result in results if result.not_sent] == [email(number) for number in range(12)]
    assert sink.totals.not_sent == 12 and [entry["user"] for entry in wire.entries] == [new]
    assert all(groups_of(sandbox, email(number)) == {MOVE_OUT} for number in range(12))


async def test_held_changes_go_out_when_the_limit_is_reached_and_before_later_commands(sandbox, monkeypatch):
    monkeypatch.setattr(sink_module, "HELD_LIMIT", 20)  # memory stays bounded: at most this many held
    seed(sandbox, 40)
    leaver = email(5)
    commands = [move(email(number)) for number in range(20)]
    commands.append(UserCommand(user=leaver, remove_from_org=True, key=leaver))  # after its held move
    commands += [move(email(number)) for number in range(20, 40)]
    async with recording_client(sandbox) as (client, wire):
        results, totals = await send_all(client, commands)
    assert len(results) == 41 and all(result.ok for result in results)
    assert totals.group_entries == 4 and totals.requests == 3
    assert [[entry.get("usergroup") or entry["user"] for entry in body] for body in wire.actions] == [
        [MOVE_OUT, MOVE_IN], [leaver], [MOVE_OUT, MOVE_IN]]
    assert [len(step["remove"]["user"]) for step in wire.actions[0][0]["do"]] == [10, 10]
    assert sandbox.state.find_user(leaver) is None
    assert all(groups_of(sandbox, email(number)) == {MOVE_IN} for number in range(40) if number != 5)
