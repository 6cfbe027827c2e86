"""Issue 10: removals guarded by run history (real slapd, the sandbox, the real command).

Each successful run records what it read; a later run whose picture shrank too much holds back its
removals (Adobe-only actions and mapped-group removals), says what shrank, and exits 6, unless
``--accept-shrink`` accepts it for that run. See conftest.py for the directory and the org.
"""

from __future__ import annotations

import json

from tests.e2e.conftest import Setup, email

REMOVE_ALL = ("--users", "all", "--process-groups", "--adobe-only-user-action", "remove")
HISTORY = "async-usersync.user-sync-config.history.json"


def without(*uids: str) -> dict[str, str]:
    """An all_users_filter that no longer matches these users (a broken or changed filter)."""
    return {"all_users_filter": "(&(objectClass=inetOrgPerson)" + "".join(f"(!(uid={uid}))" for uid in uids) + ")"}


def critical_lines(out: str) -> list[str]:
    return [line.split(" - ", 2)[-1] for line in out.splitlines() if "CRITICAL" in line]


async def test_a_first_run_is_not_held_back_and_records_what_it_read(setup: Setup) -> None:
    assert not (setup.folder / HISTORY).exists()
    run = await setup.sync(*REMOVE_ALL)
    assert run.code == 0, run.out + run.err
    users = await setup.users()
    assert email("gone1") not in users and email("gone2") not in users
    assert users[email("carol")] == ["Eng Team", "Other Team", "Photoshop"]
    scopes = json.loads((setup.folder / HISTORY).read_text())["scopes"]
    assert list(scopes) == ["users all; adobe-users all; connector ldap"]
    picture = scopes["users all; adobe-users all; connector ldap"]
    assert (picture["directory_users"], picture["adobe_users"], picture["group_members"]) == (
        6, 8, {"Sales": 2, "Engineering": 3})  # 7 Adobe users read, 3 created, 2 removed


async def test_an_emptied_mapped_group_holds_back_every_removal(setup: Setup) -> None:
    first = await setup.sync("--users", "all")
    assert first.code == 0, first.out + first.err
    # Alice and Bob, Sales's only members, fall out of the filter: 6 -> 4 users is within max_shrink.
    setup.write(main={"limits": {"max_adobe_only_users": 10, "max_shrink": "50%"}}, ldap=without("alice", "bob"))
    run = await setup.sync(*REMOVE_ALL)
    assert run.code == 6, run.out + run.err
    assert critical_lines(run.out)[:1] == [
        "Run history: the mapped directory group 'Sales' had 2 member(s) in the last successful run and has none now"]
    assert any("Holding back the removals" in line and "--accept-shrink" in line for line in critical_lines(run.out))
    users = await setup.users()
    assert users[email("alice")] == ["Sales Team"] and users[email("bob")] == ["Sales Team"]  # not removed
    assert users[email("gone1")] == ["Other Team", "Sales Team"]
    assert users[email("carol")] == ["Eng Team", "Other Team", "Photoshop", "Sales Team"]  # stale group kept
    assert users[email("dave")] == ["Eng Team", "Photoshop"]  # additions still go out


async def test_a_shrunk_directory_holds_back_until_accepted_once(setup: Setup) -> None:
    first = await setup.sync("--users", "all")
    assert first.code == 0, first.out + first.err
    setup.write(ldap=without("alice", "erin"))
    quiet = await setup.sync("--users", "all")  # removes nothing: warns, holds nothing, moves no reference
    assert quiet.code == 0, quiet.out + quiet.err
    assert "WARNING" in quiet.out and "directory users read shrank from 6 to 4" in quiet.out
    assert "This run removes nothing" in quiet.out and critical_lines(quiet.out) == []
    for _ in range(2):  # a held run is not a success: the next run still compares with the first
        run = await setup.sync(*REMOVE_ALL)
        assert run.code == 6, run.out + run.err
        assert ("Run history: directory users read shrank from 6 to 4 (-33%), more than limits.max_shrink (20%) "
                "since the last successful run") in critical_lines(run.out)
        users = await setup.users()
        assert users[email("alice")] == ["Sales Team"] and email("gone1") in users
        assert "Sales Team" in users[email("carol")]
        assert users[email("bob")] == ["Eng Team", "Photoshop", "Sales Team"]

    accepted = await setup.sync(*REMOVE_ALL, "--accept-shrink")
    assert accepted.code == 0, accepted.out + accepted.err
    assert "WARNING" in accepted.out and "directory users read shrank from 6 to 4" in accepted.out
    assert critical_lines(accepted.out) == []
    users = await setup.users()
    assert email("alice") not in users and email("gone1") not in users
    assert users[email("carol")] == ["Eng Team", "Other Team", "Photoshop"]
    assert "Removing Adobe-only user with user key: federatedID,alice@e2e.test,,alice@e2e.test" in accepted.out

    after = await setup.sync(*REMOVE_ALL)  # the accepted picture is the new reference
    assert after.code == 0, after.out + after.err
    assert "Run history" not in after.out


async def test_a_shrunk_adobe_read_holds_back_the_removals(setup: Setup) -> None:
    first = await setup.sync("--users", "mapped")  # 7 Adobe users read, dave created: 8
    assert first.code == 0, first.out + first.err
    state = setup.org.state
    for user in [user for user in state.users.values() if user["email"] in (email("keeper"), "visitor@example.net")]:
        state.remove_user(user)
    run = await setup.sync("--users", "mapped", "--process-groups", "--adobe-only-user-action", "remove")
    assert run.code == 6, run.out + run.err
    assert ("Run history: Adobe users read shrank from 8 to 6 (-25%), more than limits.max_shrink (20%) since the "
            "last successful run") in critical_lines(run.out)
    users = await setup.users()
    assert users[email("gone1")] == ["Other Team", "Sales Team"] and users[email("gone2")] == []
    assert "Sales Team" in users[email("carol")]
    assert users[email("bob")] == ["Eng Team", "Photoshop", "Sales Team"]  # additions still go out
    assert users[email("dave")] == ["Eng Team", "Photoshop"]
    assert run.summary()["Number of UMAPI actions sent (total, success, error)"] == "(2, 2, 0)"


async def test_a_csv_group_no_row_names_any_more_is_an_emptied_group(setup: Setup) -> None:
    users_file = setup.folder / "users.csv"
    rows = [f"{email(name)},{name.title()},Tester,US,{groups}" for name, groups in
            (("alice", "Sales"), ("bob", '"Sales,Engineering"'), ("carol", "Engineering"), ("dave", "Engineering"))]
    users_file.write_text("email,firstname,lastname,country,groups\n" + "\n".join(rows) + "\n")
    first = await setup.sync("--users", "file", str(users_file))
    assert first.code == 0, first.out + first.err
    # The export lost its Sales column values (the users are all still there).
    users_file.write_text(users_file.read_text().replace('"Sales,Engineering"', "Engineering").replace(",Sales\n", ",\n"))
    run = await setup.sync("--users", "file", str(users_file), "--process-groups", "--adobe-only-user-action", "remove")
    assert run.code == 6, run.out + run.err
    assert "No row of the CSV file" in run.out and "names the group Sales" in run.out
    assert ("Run history: the mapped directory group 'Sales' had 2 member(s) in the last successful run and has none now"
            in critical_lines(run.out))
    users = await setup.users()
    assert users[email("alice")] == ["Sales Team"] and "Sales Team" in users[email("bob")]
    assert email("gone1") in users
