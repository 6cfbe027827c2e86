"""The org's final state after real runs of ``async-usersync`` against slapd and the sandbox.

See conftest.py for the directory and the starting org.
"""

from __future__ import annotations

import asyncio
import csv
import json
import sys

import pytest

from tests.e2e.conftest import MAPPING, Setup, email
from tests.e2e.test_monitoring import read_reports, report_options

UNTOUCHED_BY_RULES = {
    email("alice"): ["Sales Team"],
    email("keeper"): ["Keep", "Sales Team"],
    "visitor@example.net": ["Sales Team"],
}


async def test_mapped_users_with_process_groups_then_nothing_left_to_do(setup: Setup) -> None:
    run = await setup.sync("--users", "mapped", "--process-groups")
    assert run.code == 0, run.err
    assert await setup.users() == UNTOUCHED_BY_RULES | {
        email("bob"): ["Eng Team", "Photoshop", "Sales Team"],
        email("carol"): ["Eng Team", "Other Team", "Photoshop"],  # stale mapped group gone, unmapped kept
        email("dave"): ["Eng Team", "Photoshop"],  # created; Platform is nested in Engineering
        email("gone1"): ["Other Team"],  # Adobe-only: only its mapped group removed
        email("gone2"): [],
    }
    assert run.summary() == {
        "Number of directory users read": "4",
        "Number of directory users selected for input": "4",
        "Number of Adobe users read": "7",
        "Number of Adobe users excluded from updates": "2",
        "Number of non-excluded Adobe users with no changes": "1",
        "Number of new Adobe users added": "1",
        "Number of matching Adobe users updated": "2",
        "Number of Adobe user-groups created": "0",
        # as User Sync counts: both Adobe-only users, though gone2 has no mapped group to lose
        "Number of Adobe-only users with groups processed": "2",
        "Number of UMAPI actions sent (total, success, error)": "(4, 4, 0)",
    }
    for line in ("========== Start Run", "---------- Start Load from Directory", "---------- End Sync with UMAPI",
                 "---------------------------------- Action Summary -------", "========== End Run"):
        assert line in run.out
    assert (setup.folder / "logs" / "sync.log").read_text().count("Number of") == 10
    for change in ("Adding user with user key: federatedID,dave@e2e.test,,dave@e2e.test",
                   "Managing groups for user key: federatedID,carol@e2e.test,,carol@e2e.test added: {} removed: {'Sales Team'}",
                   "Managing groups for user key: federatedID,gone1@e2e.test,,gone1@e2e.test added: {} removed: {'Sales Team'}"):
        assert change in run.out

    # The same run again, its options now coming from invocation_defaults: nothing to send.
    setup.write(main={"invocation_defaults": {"users": "mapped", "process_groups": True}})
    posts_before = await setup.requests("action")
    again = await setup.sync()
    assert again.code == 0, again.err
    assert again.summary()["Number of UMAPI actions sent (total, success, error)"] == "(0, 0, 0)"
    assert await setup.requests("action") == posts_before


@pytest.mark.parametrize(
    ("action", "gone1", "gone2"),
    [
        ("preserve", ["Other Team", "Sales Team"], []),
        ("exclude", ["Other Team", "Sales Team"], []),
        ("remove-adobe-groups", [], []),
        ("remove", None, None),
        ("delete", None, None),
    ],
)
async def test_each_adobe_only_action(setup: Setup, action: str, gone1: list[str] | None, gone2: list[str] | None) -> None:
    run = await setup.sync("--users", "mapped", "--adobe-only-user-action", action)
    assert run.code == 0, run.err
    users = await setup.users()
    assert users.get(email("gone1")) == gone1
    assert users.get(email("gone2")) == gone2
    for excluded, groups in UNTOUCHED_BY_RULES.items():
        assert users[excluded] == groups
    assert users[email("dave")] == []  # created, without groups since groups are not processed
    label = {"remove-adobe-groups": "Number of Adobe-only users removed from all groups",
             "remove": "Number of Adobe-only users removed", "delete": "Number of Adobe-only users deleted"}.get(action)
    if label:
        assert run.summary()[label] == "2"
    if action in ("remove", "delete"):  # the org shows both as gone; the log says which was asked
        verb = "Deleting" if action == "delete" else "Removing"
        assert f"{verb} Adobe-only user with user key: federatedID,gone1@e2e.test,,gone1@e2e.test" in run.out
    if action == "exclude":
        assert run.summary()["Number of Adobe users excluded from updates"] == "4"


async def test_write_file_lists_adobe_only_users_and_feeds_adobe_only_user_list(setup: Setup) -> None:
    strays = setup.folder / "strays.csv"
    run = await setup.sync("--users", "mapped", "--adobe-only-user-action", "write-file", str(strays))
    assert run.code == 0, run.err
    with strays.open() as stream:
        rows = list(csv.DictReader(stream))
    assert sorted(row["email"] for row in rows) == [email("gone1"), email("gone2")]
    assert rows[0].keys() == {"type", "username", "email", "domain"}
    assert (await setup.users())[email("gone1")] == ["Other Team", "Sales Team"]

    strays.write_text("type,username,email,domain\nfederatedID,gone1@e2e.test,gone1@e2e.test,\n")
    reads_before = await setup.requests("users")
    listed = await setup.sync("--adobe-only-user-list", str(strays), "--adobe-only-user-action", "remove")
    assert listed.code == 0, listed.err
    users = await setup.users()
    assert email("gone1") not in users and email("gone2") in users
    assert await setup.requests("users") == reads_before  # neither side was read


async def test_limit_stops_only_the_adobe_only_actions(setup: Setup) -> None:
    setup.write(main={"limits": {"max_adobe_only_users": 1}})
    run = await setup.sync("--users", "mapped", "--process-groups", "--adobe-only-user-action", "remove")
    assert run.code == 0, run.err
    assert "CRITICAL" in run.out and "max_adobe_only_users setting (1)" in run.out
    users = await setup.users()
    assert email("gone1") in users and email("gone2") in users
    assert users[email("dave")] == ["Eng Team", "Photoshop"]  # creates still happen


async def test_test_mode_changes_nothing(setup: Setup) -> None:
    before = await setup.users()
    run = await setup.sync("--users", "mapped", "--process-groups", "--adobe-only-user-action", "delete", "-t")
    assert run.code == 0, run.err
    assert await setup.users() == before
    assert "Action Summary (TEST MODE)" in run.out and "(TEST MODE)" in run.out.splitlines()[0]
    assert run.summary()["Number of Adobe-only users deleted"] == "2"


async def test_push_never_reads_adobe_users(setup: Setup) -> None:
    run = await setup.sync("--strategy", "push", "--users", "mapped", "--process-groups",
                           "--adobe-only-user-action", "remove")
    assert run.code == 0, run.err
    assert await setup.requests("users") == 0
    users = await setup.users()
    assert users[email("bob")] == ["Eng Team", "Photoshop", "Sales Team"]
    assert users[email("carol")] == ["Eng Team", "Other Team", "Photoshop"]
    assert users[email("dave")] == ["Eng Team", "Photoshop"]
    assert users[email("gone1")] == ["Other Team", "Sales Team"]  # push has no Adobe-only users
    assert run.summary()["Number of directory users pushed to Adobe"] == "4"
    assert "Start Push to UMAPI" in run.out


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        ({"ldap": {"base_dn": "ou=nowhere,dc=e2e,dc=test"}}, "ou=nowhere"),
        ({"ldap": {"host": "ldap://127.0.0.1:9"}}, "127.0.0.1:9"),
        ({"umapi_secret": "wrong-secret"}, "reading the Adobe users failed"),
    ],
)
async def test_a_failed_read_removes_nobody(setup: Setup, broken: dict, expected: str) -> None:
    if "umapi_secret" in broken:
        setup.org.config.client_secret = broken["umapi_secret"]  # the org now refuses our credentials
    else:
        setup.write(ldap=broken["ldap"])
    before = await setup.users()
    run = await setup.sync("--users", "mapped", "--process-groups", "--adobe-only-user-action", "remove")
    assert run.code == 3, run.out + run.err
    assert expected in run.out
    assert "no Adobe-only user was touched" in run.out
    assert "Traceback" not in run.out + run.err
    users = await setup.users()
    assert {email("gone1"), email("gone2")} <= users.keys()
    assert users[email("gone1")] == before[email("gone1")]


async def test_a_wrong_umapi_endpoint_is_a_failed_read_and_nothing_is_sent(setup: Setup) -> None:
    """Every users page answers 404: that is a failed read naming the path, not an empty org to fill."""
    setup.write(server={"endpoint": "/v2/usermanagment"})
    before = await setup.users()
    run = await setup.sync("--users", "mapped", "--process-groups", "--adobe-only-user-action", "remove")
    assert run.code == 3, run.out + run.err
    assert f"/v2/usermanagment/users/{setup.org.org_id}/0" in run.out and "HTTP 404" in run.out
    assert "Traceback" not in run.out + run.err
    assert await setup.requests("action") == 0
    assert await setup.users() == before


async def test_users_all_and_exclude_unmapped_users(setup: Setup) -> None:
    run = await setup.sync("--users", "all", "--process-groups", "--exclude-unmapped-users")
    assert run.code == 0, run.err
    users = await setup.users()
    assert email("erin") not in users and email("frank") not in users
    assert run.summary()["Number of directory users selected for input"] == "6"

    run = await setup.sync("--users", "all", "--include-unmapped-users")
    assert run.code == 0, run.err
    users = await setup.users()
    assert users[email("erin")] == [] and users[email("frank")] == []


async def test_users_group_in_two_tokens_and_user_filter(setup: Setup) -> None:
    run = await setup.sync("--users", "group", "Sales,Marketing", "--user-filter", "(bob|frank)@.*", "--process-groups")
    assert run.code == 0, run.err
    summary = run.summary()
    assert summary["Number of directory users read"] == "5"  # the mapped groups' members are read too
    assert summary["Number of directory users selected for input"] == "2"
    users = await setup.users()
    assert users[email("frank")] == []  # created: in a selected group, mapped to nothing
    assert users[email("bob")] == ["Eng Team", "Photoshop", "Sales Team"]
    assert users[email("carol")] == ["Other Team"]  # not selected, so Adobe-only: mapped groups removed
    assert email("dave") not in users


@pytest.mark.parametrize("adobe_users", [("mapped",), ("group", "Sales Team")])
async def test_adobe_users_reads_only_some_groups(setup: Setup, adobe_users: tuple[str, ...]) -> None:
    run = await setup.sync("--users", "mapped", "--adobe-users", *adobe_users, "--adobe-only-user-action", "remove")
    assert run.code == 0, run.err
    users = await setup.users()
    assert email("gone1") not in users
    assert email("gone2") in users  # in no mapped group, so never read, so never removed
    assert run.summary()["Number of Adobe users read"] == "6"


async def test_update_user_info_within_update_attributes(setup: Setup) -> None:
    alice = setup.org.state.find_user(email("alice"))
    setup.org.state.update_user(alice, {"firstname": "Alicia", "lastname": "Old"})
    setup.write(main={"adobe_users": {"connectors": {"umapi": "connector-umapi.yml"}, "update_attributes": ["firstname"]}})
    run = await setup.sync("--users", "mapped", "--update-user-info")
    assert run.code == 0, run.err
    state = {user["email"]: user for user in setup.org.state.to_json()["users"]}
    assert (state[email("alice")]["firstname"], state[email("alice")]["lastname"]) == ("Alice", "Old")
    assert "lastname differs" in run.out


async def test_auto_create_makes_missing_user_groups(setup: Setup) -> None:
    mapping = MAPPING + [{"directory_group": "Sales", "adobe_groups": ["New Team"]}]
    setup.write(main={"directory_users": {"user_identity_type": "federatedID", "connectors": {"ldap": "connector-ldap.yml"},
                                          "groups": mapping, "group_sync_options": {"auto_create": True}}})
    run = await setup.sync("--users", "mapped", "--process-groups")
    assert run.code == 0, run.err
    assert run.summary()["Number of Adobe user-groups created"] == "1"
    assert "New Team" in (await setup.users())[email("alice")]


async def test_failed_commands_are_logged_and_exit_4(setup: Setup) -> None:
    mapping = [{"directory_group": "Sales", "adobe_groups": ["No Such Profile"]}]
    setup.write(main={"directory_users": {"user_identity_type": "federatedID", "connectors": {"ldap": "connector-ldap.yml"},
                                          "groups": mapping}})
    run = await setup.sync("--users", "mapped", "--process-groups")
    assert run.code == 4, run.out + run.err
    errors = [line for line in run.out.splitlines() if "Error in action" in line]
    assert len(errors) == 2 and all("No Such Profile" in line or "add" in line for line in errors)
    assert any(email("alice") in line for line in errors)
    assert run.summary()["Number of UMAPI actions sent (total, success, error)"] == "(2, 0, 2)"


async def test_csv_directory(setup: Setup) -> None:
    users_file = setup.folder / "users.csv"
    users_file.write_text(f"email,firstname,lastname,country,groups\n{email('alice')},Alice,Tester,US,Sales\n"
                          f"{email('zed')},Zed,Tester,US,\"Sales,Engineering\"\n")
    run = await setup.sync("--users", "file", str(users_file), "--process-groups", "--summary-json",
                           str(setup.folder / "summary.json"))
    assert run.code == 0, run.err
    assert (await setup.users())[email("zed")] == ["Eng Team", "Photoshop", "Sales Team"]
    summary = json.loads((setup.folder / "summary.json").read_text())
    assert summary["counters"]["primary_users_created"] == 1 and summary["exit_code"] == 0

    again = await setup.sync("--connector", "csv", str(users_file), "--users", "all", "--process-groups")
    assert again.code == 0, again.err
    assert again.summary()["Number of UMAPI actions sent (total, success, error)"] == "(0, 0, 0)"


async def test_config_error_names_file_and_key(setup: Setup) -> None:
    setup.write(main={"limits": {"max_adobe_only_users": 10, "max_strays": 3}})
    run = await setup.sync("--users", "mapped")
    assert run.code == 2
    assert "user-sync-config.yml" in run.err and "limits.max_strays" in run.err and "unknown key" in run.err
    assert "Traceback" not in run.err


async def test_a_held_lock_refuses_the_run(setup: Setup) -> None:
    from async_usersync.pipeline.runlock import RunLock

    with RunLock(setup.folder / "sync.lock"):
        run = await setup.sync("--users", "mapped", "--adobe-only-user-action", "remove")
    assert run.code == 5
    assert "holds the lock" in run.out
    assert email("gone1") in await setup.users()


async def test_sigterm_stops_the_run_cleanly(setup: Setup) -> None:
    setup.directory.pause()  # the directory read hangs
    try:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "async_usersync", "--users", "mapped", "--adobe-only-user-action", "remove",
            *report_options(setup), "-c", str(setup.config_file), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        assert process.stdout is not None
        while b"Start Load from Directory" not in await asyncio.wait_for(process.stdout.readline(), 30):
            pass
        process.terminate()
        out, err = await asyncio.wait_for(process.communicate(), 30)
    finally:
        setup.directory.resume()
    assert process.returncode == 130, err
    assert b"Received SIGTERM" in out and b"The run was stopped" in out and b"========== End Run" in out
    assert {email("gone1"), email("gone2")} <= (await setup.users()).keys()
    families, _ = read_reports(setup, 130)  # every series, though the stages never got going (issue 14)
    assert families["async_usersync_directory_users_read"] == {"": 0}
    assert (await setup.sync("--users", "mapped")).code == 0  # the lock was released


async def test_metrics_and_a_run_refused_as_too_soon(setup: Setup) -> None:
    metrics = setup.folder / "metrics.prom"
    first = await setup.sync("--users", "mapped", "--metrics-file", str(metrics))
    assert first.code == 0, first.err
    text = metrics.read_text()
    assert "async_usersync_primary_users_created 1" in text and "async_usersync_last_run_exit_code 0" in text

    soon = await setup.sync("--users", "mapped", "--min-interval", "2h", "--refuse-too-soon")
    assert soon.code == 5
    assert "runs should be at least 2 h 00 min apart" in soon.out
    warned = await setup.sync("--users", "mapped", "--min-interval", "2h")
    assert warned.code == 0 and "Running sooner than advised" in warned.out


async def test_exclude_users_by_regular_expression(setup: Setup) -> None:
    setup.write(main={"adobe_users": {"connectors": {"umapi": "connector-umapi.yml"}, "exclude_users": ["GONE2@.*"]}})
    run = await setup.sync("--users", "mapped", "--adobe-only-user-action", "remove")
    assert run.code == 0, run.err
    users = await setup.users()
    assert email("gone1") not in users and email("keeper") not in users  # keeper's group is no longer excluded
    assert email("gone2") in users and "visitor@example.net" not in users
    assert run.summary()["Number of Adobe users excluded from updates"] == "1"
