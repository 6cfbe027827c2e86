"""A real sync that moves many users between user groups sends user-group entries (issue 17)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import DOMAIN, Setup, adobe_user

MOVERS = 30
RENAMED = 2
"""The first movers also get a new first name: their command has an update, so it goes in a user
entry, while their removal from Other Team goes in the group entry with everyone else's."""


def mover(number: int) -> str:
    return f"mover{number:02d}"


async def prepare(setup: Setup, server: dict | None = None) -> str:
    for number in range(MOVERS):
        setup.org.state.add_user(adobe_user(mover(number), ["Other Team"]))
    setup.write(main={"directory_users": {
        "user_identity_type": "federatedID", "default_country_code": "US",
        "connectors": {"ldap": "connector-ldap.yml"},
        "groups": [{"directory_group": "Sales", "adobe_groups": ["Sales Team"]},
                   {"directory_group": "Legacy", "adobe_groups": ["Other Team"]}]}}, server=server)
    users_file = setup.folder / "users.csv"
    rows = [f"{mover(number)}@{DOMAIN},{'Moved' if number < RENAMED else mover(number).title()},Tester,US,Sales"
            for number in range(MOVERS)]
    users_file.write_text("email,firstname,lastname,country,groups\n" + "\n".join(rows) + "\n")
    return str(users_file)


@pytest.mark.parametrize("packed", [True, False])
async def test_moving_thirty_users_takes_two_requests_and_reports_each_user(setup: Setup, packed: bool) -> None:
    users_file = await prepare(setup, None if packed else {"user_group_entries": False})
    summary_file = setup.folder / "summary.json"
    run = await setup.sync("--users", "file", users_file, "--process-groups", "--update-user-info",
                           "--summary-json", str(summary_file))
    assert run.code == 0, run.out + run.err
    users = await setup.users()
    for number in range(MOVERS):
        assert users[f"{mover(number)}@{DOMAIN}"] == ["Sales Team"]
    assert setup.org.state.find_user(f"{mover(0)}@{DOMAIN}")["firstname"] == "Moved"
    # packed: the two renamed users' entries, then one request of two group entries (Sales Team
    # gained by 28, Other Team lost by 30); without: at least one entry per user, as User Sync sends
    # (two for a user whose removal was planned apart from its addition, as the reads interleave)
    sent = await setup.requests("action")
    assert sent == 2 if packed else sent >= MOVERS // 10
    assert await setup.requests("groups") == (1 if packed else 0)
    assert run.summary()["Number of matching Adobe users updated"] == str(MOVERS)
    counters = json.loads(summary_file.read_text())["counters"]
    assert counters["umapi_actions_succeeded"] == counters["umapi_actions_sent"] >= MOVERS
    assert counters["umapi_actions_failed"] == counters["umapi_actions_not_sent"] == 0
    again = await setup.sync("--users", "file", users_file, "--process-groups", "--update-user-info")
    assert again.code == 0 and await setup.requests("action") == sent  # nothing left to send
