"""UMAPI's field limits, checked on each command before batching (one bad value must not fail its batch-mates)."""

from __future__ import annotations

import pytest

from async_usersync.records import CommandResult, CreateUser, IdentityType, UserCommand
from async_usersync.umapi import UmapiClient
from async_usersync.umapi.fields import field_problem
from tests.umapi.conftest import client_settings

FED = IdentityType.FEDERATED_ID


def create(email: str, firstname: str = "Ann", lastname: str = "Example", country: str = "US") -> UserCommand:
    return UserCommand(user=email, create=CreateUser(FED, email, firstname, lastname, country), key=f"federatedID,{email},,")


def test_values_within_the_limits_pass():
    assert field_problem(create("ann@example.com", "A" * 250, "B" * 250)) is None
    assert field_problem(UserCommand(user="x" * 200 + "@example.com", add_groups=("Team",))) is None  # Adobe holds it
    assert field_problem(UserCommand(user="ann@example.com", update={"email": "a" * 48 + "@example.com"})) is None
    assert field_problem(UserCommand(user="ann@example.com", remove_groups="all")) is None


@pytest.mark.parametrize(("command", "step", "code", "named"), [
    (create("ann@example.com", lastname="L" * 1_048_576), "createFederatedID", "error.command.string.too_long",
     "lastname is 1,048,576 characters long, max length 250"),
    (create("ann@example.com", firstname="F" * 251), "createFederatedID", "error.command.string.too_long", "firstname"),
    (create("ann@example.com", lastname="Ex\x00ample"), "createFederatedID", "error.command.string.illegal_character",
     "lastname holds the control character U+0000 at position 2"),
    (create("a" * 49 + "@example.com"), "createFederatedID", "error.command.string.too_long", "email is 61"),
    (create("ann@example"), "createFederatedID", "error.user.email.invalid", "email is not a valid email address"),
    (create("ann@example.com", country="us"), "createFederatedID", "error.country.invalid", "country must be two"),
    (UserCommand(user="ann@example.com", update={"firstname": "Ann\nMarie"}), "update",
     "error.command.string.illegal_character", "firstname holds the control character U+000A"),
    (UserCommand(user="ann@example.com", update={"email": "ann at example.com"}), "update", "error.user.email.invalid",
     "email is not"),
    (UserCommand(user="ann@example.com", add_groups=("Team\x1b",)), "add", "error.command.string.illegal_character",
     "group holds"),
    (UserCommand(user="ann\x00@example.com", remove_from_org=True), "user", "error.command.string.illegal_character",
     "user holds"),
    (UserCommand(user="b7700123", domain="d" * 251, add_groups=("Team",)), "user", "error.command.string.too_long",
     "domain is 251"),
])
def test_a_value_beyond_the_limits_names_its_step_and_field(command, step, code, named):
    problem = field_problem(command)
    assert problem is not None
    assert (problem.step, problem.code) == (step, code)
    assert named in problem.message and "not sent" in problem.message


async def test_a_one_megabyte_last_name_is_refused_alone_and_its_nine_batch_mates_land(sandbox):
    """Sent together, the ten would make one request over UMAPI's 1 MB body limit, refused whole (413)."""
    commands = [create(f"user{number}@example.com") for number in range(10)]
    commands[4] = create("huge@example.com", lastname="L" * 1_048_576)
    results: list[CommandResult] = []
    async with UmapiClient(client_settings(sandbox)) as client:
        async with client.action_sink(results.append) as sink:
            for command in commands:
                await sink.send(command)
        totals = sink.totals
    emails = {user["email"] for user in sandbox.state.user_list()}
    assert {f"user{number}@example.com" for number in range(10) if number != 4} <= emails
    assert "huge@example.com" not in emails
    failed = [result for result in results if not result.ok]
    assert [result.command.user for result in failed] == ["huge@example.com"]
    assert "lastname" in failed[0].errors[0].message
    assert (totals.sent, totals.completed, totals.failed) == (10, 9, 1)
