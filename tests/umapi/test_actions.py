"""Writing through the action sink: packing, splitting, error mapping, test mode, batching."""

from __future__ import annotations

import asyncio

from async_usersync.records import CommandResult, CreateUser, IdentityType, UserCommand
from async_usersync.umapi import UmapiClient
from async_usersync.umapi.entries import RequestIds, command_entries, step_name
from tests.umapi.conftest import client_settings

FED = IdentityType.FEDERATED_ID


def create(email: str, *groups: str, country: str = "US") -> UserCommand:
    return UserCommand(user=email, create=CreateUser(FED, email, "Ann", "Example", country), add_groups=groups, key=email)


async def make_groups(client: UmapiClient, names: list[str]) -> None:
    results = await client.create_user_groups(names)
    assert [result.ok for result in results] == [True] * len(names)


def groups_of(server, email: str) -> set[str]:
    return set(server.state.find_user(email)["groups"])


async def test_long_group_lists_and_many_steps_are_split_and_all_land(sandbox):
    names = [f"Team {number:02d}" for number in range(25)]
    results: list[CommandResult] = []
    async with UmapiClient(client_settings(sandbox)) as client:
        await make_groups(client, names)
        async with client.action_sink(results.append) as sink:
            await sink.send(create("split@example.com", *names))
    assert results == [CommandResult(create("split@example.com", *names))]
    assert groups_of(sandbox, "split@example.com") == set(names)


def test_entries_keep_create_first_and_remove_from_org_last_when_cut():
    command = UserCommand(user="jo", domain="example.com", create=CreateUser(FED, "jo@example.com", "Jo", "Doe", "DE"),
                          update={"firstname": "Joe"}, remove_groups=tuple(f"old{n}" for n in range(15)),
                          add_groups=tuple(f"new{n}" for n in range(65)), remove_from_org=True)
    entries = command_entries(command, RequestIds())
    steps = [step_name(entry, index) for entry in entries for index in range(len(entry["do"]))]
    assert steps == ["createFederatedID", "update", "remove", "remove"] + ["add"] * 7 + ["removeFromOrg"]
    assert [len(entry["do"]) for entry in entries] == [10, 2]
    assert all(entry["user"] == "jo" and entry["domain"] == "example.com" for entry in entries)
    assert len({entry["requestID"] for entry in entries}) == 2
    lists = [step[verb]["group"] for entry in entries for step in entry["do"] for verb in ("add", "remove") if verb in step]
    assert [len(names) for names in lists] == [10, 5, 10, 10, 10, 10, 10, 10, 5]


async def test_a_split_command_with_more_than_ten_steps_lands_whole(sandbox):
    names = [f"Unit {number:03d}" for number in range(95)]
    email = "many@example.com"
    async with UmapiClient(client_settings(sandbox)) as client:
        await make_groups(client, names)
        results: list[CommandResult] = []
        async with client.action_sink(results.append) as sink:
            await sink.send(create(email, *names))
        assert sink.totals.requests == 2  # 11 steps, two pieces, one a request: UMAPI may run one request's entries in any order
    assert len(results) == 1 and results[0].ok
    assert groups_of(sandbox, email) == set(names)
    assert sandbox.sandbox.stats.families["action"].steps_applied >= 11


async def test_each_error_goes_back_to_its_own_command_and_step(sandbox):
    commands = [create(f"user{number}@example.com") for number in range(12)]
    commands[3] = create("bad-country@example.com", country="Nowhere")
    commands[8] = create("no-group@example.com", "Group That Does Not Exist")
    existing_group = sandbox.state.group_list()[0].name
    commands[11] = UserCommand(user="absent@example.com", add_groups=(existing_group,), key="absent")
    results: dict[str, CommandResult] = {}
    async with UmapiClient(client_settings(sandbox)) as client:
        async with client.action_sink(lambda result: results.__setitem__(result.command.user, result)) as sink:
            for command in commands:
                await sink.send(command)
        totals = sink.totals
    assert len(results) == 12
    failed = {user: [(error.step, error.code) for error in result.errors] for user, result in results.items() if not result.ok}
    assert failed.keys() == {"bad-country@example.com", "no-group@example.com", "absent@example.com"}
    assert failed["bad-country@example.com"][0][0] == "createFederatedID"
    assert failed["no-group@example.com"] == [("add", "error.group.not_found")]
    assert failed["absent@example.com"][0][0] == "add" and "user" in failed["absent@example.com"][0][1]
    assert (totals.sent, totals.completed, totals.failed) == (12, 9, 3)
    assert totals.failures["error.group.not_found"] == 1
    assert sandbox.state.find_user("no-group@example.com") is not None  # the create step before it stayed done
    assert sandbox.state.find_user("bad-country@example.com") is None


async def test_test_mode_changes_nothing_and_still_reports(sandbox):
    before = sandbox.state.to_json()
    results: list[CommandResult] = []
    async with UmapiClient(client_settings(sandbox), test_mode=True) as client:
        async with client.action_sink(results.append) as sink:
            for number in range(15):
                await sink.send(create(f"dry{number}@example.com"))
            await sink.send(UserCommand(user=before["users"][0]["email"], remove_from_org=True, delete_account=True))
        assert (await client.create_user_groups(["Dry Group"]))[0].ok
    assert len(results) == 16 and all(result.ok for result in results)
    assert sandbox.state.to_json() == before
    assert sandbox.sandbox.stats.families["action"].commands_applied == 0


async def test_requests_are_full_except_the_last(sandbox):
    async with UmapiClient(client_settings(sandbox)) as client:
        async with client.action_sink() as sink:
            for number in range(25):
                await sink.send(create(f"full{number}@example.com"))
        assert (sink.totals.requests, sink.totals.completed) == (3, 25)
    assert sandbox.sandbox.stats.families["action"].requests == 3
    assert sandbox.sandbox.stats.families["action"].commands_applied == 25


async def test_a_stalled_stream_sends_its_partial_batch_after_the_linger(sandbox):
    async with UmapiClient(client_settings(sandbox)) as client:
        async with client.action_sink(linger=0.05) as sink:
            for number in range(3):
                await sink.send(create(f"early{number}@example.com"))
            for _ in range(100):
                if sink.totals.completed == 3:
                    break
                await asyncio.sleep(0.05)
            assert sink.totals.completed == 3  # before the sink closes
            assert all(sandbox.state.find_user(f"early{number}@example.com") for number in range(3))


async def test_remove_all_groups_and_remove_from_org(sandbox):
    members = [user for user in sandbox.state.user_list() if user["groups"]]
    stripped, leaving = members[0]["email"], members[1]["email"]
    async with UmapiClient(client_settings(sandbox)) as client:
        async with client.action_sink() as sink:
            await sink.send(UserCommand(user=stripped, remove_groups="all"))
            await sink.send(UserCommand(user=leaving, remove_from_org=True))
        assert sink.totals.completed == 2
    assert sandbox.state.find_user(stripped)["groups"] == []
    assert sandbox.state.find_user(leaving) is None


async def test_a_non_email_username_is_sent_with_its_domain(sandbox):
    async with UmapiClient(client_settings(sandbox)) as client:
        async with client.action_sink() as sink:
            await sink.send(UserCommand(user="jdoe", domain="example.com",
                                        create=CreateUser(FED, "jdoe@example.com", "J", "Doe", "US")))
        assert sink.totals.completed == 1
    user = sandbox.state.find_user("jdoe", "example.com")
    assert user is not None and user["email"] == "jdoe@example.com"


async def test_an_adobe_id_is_added_with_use_adobe_id(sandbox):
    email = "visitor@example.net"
    command = UserCommand(user=email, create=CreateUser(IdentityType.ADOBE_ID, email, None, None, None))
    [entry] = command_entries(command, RequestIds())
    assert entry["useAdobeID"] is True and list(entry["do"][0]) == ["addAdobeID"]
    async with UmapiClient(client_settings(sandbox)) as client:
        async with client.action_sink() as sink:
            await sink.send(command)
        assert sink.totals.completed == 1
    assert sandbox.state.find_by_email(email, "adobeID") is not None


async def test_each_url_is_parsed_once_and_the_headers_built_once_per_token(sandbox):
    commands = [UserCommand(user=f"once{n:02d}@example.com", remove_from_org=True) for n in range(35)]
    async with UmapiClient(client_settings(sandbox)) as client:
        async with client.action_sink() as sink:
            for command in commands:
                await sink.send(command)
        transport = client.transport
        urls = transport._url.cache_info()
        headers = transport._common_headers
    assert sink.totals.requests == 4
    assert (urls.misses, urls.hits) == (1, 3)
    assert set(headers) == {"Authorization", "X-Api-Key", "Accept", "Content-Type"}


async def test_every_failed_step_of_a_command_comes_back_in_its_one_result(sandbox):
    """UMAPI runs an entry's steps after a failed one and reports each failure (User Sync's issue 462):
    a create refused at the server, then its two add steps on the user it did not make. The command
    is reported once, failed, with the three errors in step order."""
    names = [f"Crew {number:02d}" for number in range(12)]
    refused = create("no-country@example.com", *names, country="")
    results: list[CommandResult] = []
    async with UmapiClient(client_settings(sandbox)) as client:
        await make_groups(client, names)
        async with client.action_sink(results.append) as sink:
            await sink.send(refused)
            await sink.send(create("fine@example.com", *names))
        totals = sink.totals
    assert [(result.command.user, result.ok) for result in results] == [("no-country@example.com", False),
                                                                         ("fine@example.com", True)]
    assert [(error.step, error.code) for error in results[0].errors] == [
        ("createFederatedID", "error.user.command.missing.arguments"),
        ("add", "error.user.not_found"), ("add", "error.user.not_found")]
    assert (totals.sent, totals.completed, totals.failed) == (2, 1, 1)
    assert totals.failures == {"error.user.command.missing.arguments": 1, "error.user.not_found": 2}
    assert sandbox.state.find_user("no-country@example.com") is None
