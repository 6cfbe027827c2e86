"""Issue 18: ``plan``, ``apply`` and ``explain`` against a real slapd and the sandbox (the real
command). See conftest.py for the directory and the starting org."""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import stat
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from async_usersync.records import command_from_json
from async_usersync.pipeline.runlock import RunLock
from async_usersync.pipeline.stages import describe_change
from tests.e2e.conftest import BASE_DN, MAPPING, Run, Setup, email
from tests.e2e.test_secondary_orgs import ORG2_AFTER, ORG3_AFTER, PRIMARY_AFTER_REMOVE, trustees  # noqa: F401

SYNC_OPTIONS = ("--users", "mapped", "--process-groups", "--adobe-only-user-action", "remove")


async def command(setup: Setup, *arguments: str) -> Run:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "async_usersync", *arguments,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=setup.folder)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode is not None
    return Run(process.returncode, stdout.decode(), stderr.decode())


async def plan(setup: Setup, *arguments: str) -> Run:
    return await command(setup, "plan", "-c", str(setup.config_file), *arguments)


async def apply(setup: Setup, plan_file: Path, *arguments: str) -> Run:
    return await command(setup, "apply", str(plan_file), "--lock-file", str(setup.folder / "sync.lock"), *arguments)


def would(run: Run) -> list[str]:
    return [line.split("  # ")[0] for line in run.out.splitlines() if line.startswith("Would ")]


def sent_changes(run: Run) -> set[str]:
    """The change lines a sync or apply logged (User Sync's), without their log prefix."""
    marks = ("Adding user with user key", "Updating info for user key", "Managing groups for user key",
             "Removing Adobe-only user", "Deleting Adobe-only user")
    return {line[line.index(mark):] for line in run.out.splitlines() for mark in marks if mark in line}


async def reset_org(setup: Setup, state: dict[str, Any]) -> None:
    """POST /_sandbox/reset with a new state for the org."""
    server = setup.org
    context = ssl.create_default_context(cafile=str(server.ca_cert))
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{server.base_url}/_sandbox/reset", json={"state": state}, ssl=context) as response:
            assert response.status == 200, await response.text()


async def action_requests(setup: Setup) -> int:
    return int((await setup._get("stats"))["families"]["action"]["requests"])


async def test_the_plan_is_what_sync_then_does_and_sends_nothing(setup: Setup) -> None:
    before = await setup.users()
    run = await plan(setup, *SYNC_OPTIONS, "--diff", "--out", "plan.json")
    assert run.code == 7, run.out + run.err
    assert await action_requests(setup) == 0 and await setup.users() == before
    assert sorted(would(run)) == sorted([
        f"Would add user {email('bob')} to group \"Eng Team\"",
        f"Would add user {email('bob')} to group \"Photoshop\"",
        f"Would remove user {email('carol')} from group \"Sales Team\"",
        f"Would create federatedID user {email('dave')}",
        f"Would add user {email('dave')} to group \"Eng Team\"",
        f"Would add user {email('dave')} to group \"Photoshop\"",
        f"Would remove user {email('gone1')} from the org",
        f"Would remove user {email('gone2')} from the org",
    ])
    lines = run.out.splitlines()
    assert (f'Would add user {email("bob")} to group "Eng Team"  # directory group "Engineering" maps to "Eng Team" '
            f'(directory_users.groups) (--process-groups)') in lines
    assert any(line.startswith(f'Would remove user {email("carol")} from group "Sales Team"  # "Sales Team" is mapped '
                               f"from directory group 'sales'") for line in lines)
    assert (f"Would remove user {email('gone1')} from the org  # Adobe-only user (no selected directory user "
            f"matches it): --adobe-only-user-action remove") in lines
    assert "Plan for primary: 5 users to change: 4 add, 1 create, 1 remove, 2 remove-from-org" in lines
    plan_file = setup.folder / "plan.json"
    assert stat.S_IMODE(os.stat(plan_file).st_mode) == 0o600
    document = json.loads(plan_file.read_text())
    assert document["config_file"] == str(setup.config_file.resolve())
    assert document["options"]["process_groups"] is True
    bob = next(entry for entry in document["orgs"][0]["commands"] if entry["command"]["user"] == email("bob"))
    assert bob["fingerprints"]["directory"] and bob["fingerprints"]["adobe"]
    dave = next(entry for entry in document["orgs"][0]["commands"] if entry["command"]["user"] == email("dave"))
    assert dave["fingerprints"]["adobe"] is None

    synced = await setup.sync(*SYNC_OPTIONS)
    assert synced.code == 0, synced.err
    planned_changes = {line for entry in document["orgs"][0]["commands"]
                       for line in describe_change(command_from_json(entry["command"]))}
    assert planned_changes == sent_changes(synced)  # the same commands, each as the sync logs it
    assert len(planned_changes) == 6 and synced.summary()["Number of UMAPI actions sent (total, success, error)"] == \
        "(5, 5, 0)"

    again = await plan(setup, *SYNC_OPTIONS, "--diff")
    assert again.code == 0, again.out + again.err
    assert would(again) == [] and "Plan for primary: 0 users to change: nothing to do" in again.out


async def test_apply_sends_exactly_the_plan(setup: Setup) -> None:
    planned = await plan(setup, *SYNC_OPTIONS, "--out", "plan.json")
    assert planned.code == 7, planned.out + planned.err
    users_read = await setup.requests("users")
    applied = await apply(setup, setup.folder / "plan.json", "--summary-json", "summary.json")
    assert applied.code == 0, applied.out + applied.err
    assert "Checking the plan of" in applied.out and "reading its 5 users on both sides again" in applied.out
    assert await setup.requests("users") - users_read == 5  # one lookup per planned user, no listing of the org
    assert await setup.users() == {
        email("alice"): ["Sales Team"], email("keeper"): ["Keep", "Sales Team"], "visitor@example.net": ["Sales Team"],
        email("bob"): ["Eng Team", "Photoshop", "Sales Team"], email("carol"): ["Eng Team", "Other Team", "Photoshop"],
        email("dave"): ["Eng Team", "Photoshop"]}
    document = json.loads((setup.folder / "plan.json").read_text())
    planned_changes = [line for entry in document["orgs"][0]["commands"]
                       for line in describe_change(command_from_json(entry["command"]))]
    assert sorted(change for line in applied.out.splitlines() for change in planned_changes
                  if line.endswith(" " + change)) == sorted(planned_changes)  # logged once: when sent, not re-read
    assert "Number of new Adobe users added: 1" in applied.out
    assert "Number of matching Adobe users updated: 2" in applied.out
    summary = json.loads((setup.folder / "summary.json").read_text())
    assert summary["exit_code"] == 0
    again = await plan(setup, *SYNC_OPTIONS)
    assert again.code == 0, again.out


@pytest.mark.parametrize("check", [(), ("--full-check",)], ids=["planned users read", "full read"])
async def test_apply_refused_after_a_change_in_the_directory(setup: Setup, check: tuple[str, ...]) -> None:
    planned = await plan(setup, *SYNC_OPTIONS, "--out", "plan.json")
    assert planned.code == 7, planned.out
    bob = f"uid=bob,ou=people,{BASE_DN}"
    setup.directory.modify_ldif(f"dn: {bob}\nchangetype: modify\nreplace: givenName\ngivenName: Robert\n")
    try:
        applied = await apply(setup, setup.folder / "plan.json", *check)
    finally:
        setup.directory.modify_ldif(f"dn: {bob}\nchangetype: modify\nreplace: givenName\ngivenName: Bob\n")
    assert applied.code == 8, applied.out + applied.err
    assert f"changed since it was made, in the directory or the Adobe org: federatedID,bob@e2e.test,,bob@e2e.test" \
        in applied.out
    assert "nothing was sent" in applied.out
    assert await action_requests(setup) == 0


@pytest.mark.parametrize("check", [(), ("--full-check",)], ids=["planned users read", "full read"])
async def test_apply_refused_after_a_change_in_the_org(setup: Setup, check: tuple[str, ...]) -> None:
    planned = await plan(setup, *SYNC_OPTIONS, "--out", "plan.json")
    assert planned.code == 7, planned.out
    state = (await setup._get("state"))
    for user in state["users"]:
        if user["email"] == email("gone1"):
            user["groups"] = ["Other Team"]
    await reset_org(setup, state)
    applied = await apply(setup, setup.folder / "plan.json", *check)
    assert applied.code == 8, applied.out + applied.err
    assert "federatedID,gone1@e2e.test,,gone1@e2e.test" in applied.out
    assert "bob@e2e.test" not in applied.out.split("changed since it was made")[1].splitlines()[0]
    assert await action_requests(setup) == 0


async def test_apply_refuses_a_plan_too_old(setup: Setup) -> None:
    planned = await plan(setup, *SYNC_OPTIONS, "--out", "plan.json")
    assert planned.code == 7, planned.out
    plan_file = setup.folder / "plan.json"
    document = json.loads(plan_file.read_text())
    document["created"] = (datetime.now(timezone.utc) - timedelta(hours=25)).isoformat()
    plan_file.write_text(json.dumps(document))
    applied = await apply(setup, plan_file)
    assert applied.code == 8, applied.out + applied.err
    assert "more than --max-plan-age 24.0 h: make a new plan" in applied.out
    assert await action_requests(setup) == 0
    (setup.folder / "other.json").write_text('{"format": 1}')
    not_a_plan = await apply(setup, setup.folder / "other.json")
    assert not_a_plan.code == 2, not_a_plan.out + not_a_plan.err
    assert f"in {setup.folder / 'other.json'}: not a plan written by 'async-usersync plan'" in not_a_plan.err
    with RunLock(setup.folder / "sync.lock"):  # a sync is running: apply holds the same run lock
        locked = await apply(setup, plan_file, "--max-plan-age", "26h")
    assert locked.code == 5, locked.out + locked.err
    assert await action_requests(setup) == 0
    within = await apply(setup, plan_file, "--max-plan-age", "26h", "--full-check")
    assert within.code == 0, within.out + within.err
    assert "reading both sides again" in within.out
    assert await setup.users() == PRIMARY_AFTER_REMOVE


async def explain(setup: Setup, user: str, *arguments: str) -> list[str]:
    run = await command(setup, "explain", user, "-c", str(setup.config_file), *SYNC_OPTIONS, *arguments)
    assert run.code == 0, run.out + run.err
    return [line.strip() for line in run.out.splitlines()]


async def test_explain_a_user_in_each_situation(setup: Setup) -> None:
    """Each explain reads one user: one UMAPI user lookup (and no listing), and nothing is sent."""
    new = await explain(setup, email("dave"))
    assert "adobe: no Adobe account" in new
    assert any(line.startswith("create as federatedID: directory user (uid=dave,ou=people,dc=e2e,dc=test) has no "
                               "Adobe account") for line in new)
    assert ('add group "Eng Team": directory group "Engineering" maps to "Eng Team" (directory_users.groups) '
            '(--process-groups)') in new

    changed = await explain(setup, email("carol"))
    assert any(line.startswith('remove group "Sales Team": "Sales Team" is mapped from directory group \'sales\'')
               for line in changed)
    assert 'keep group "Eng Team": directory group "Engineering" maps to "Eng Team" (directory_users.groups)' in changed
    assert 'keep group "Other Team": not mapped, so never removed' in changed

    unchanged = await explain(setup, email("alice"))
    assert 'keep group "Sales Team": directory group "Sales" maps to "Sales Team" (directory_users.groups)' in unchanged
    assert "keep firstname 'Alice'" in unchanged
    assert not any(line.startswith(("add ", "remove ", "update ", "create ")) for line in unchanged)

    adobe_only = await explain(setup, email("gone1"))
    assert "directory: not found (by email or username)" in adobe_only
    assert ("remove-from-org: Adobe-only user (no selected directory user matches it): --adobe-only-user-action "
            "remove") in adobe_only

    excluded = await explain(setup, email("keeper"))
    assert 'excluded: exclude_adobe_groups lists its group "Keep", so this Adobe user is never changed or removed' \
        in excluded
    assert ("excluded: exclude_identity_types lists adobeID, so this Adobe user is never changed or removed"
            in await explain(setup, "visitor@example.net"))

    not_selected = await explain(setup, email("frank"))
    assert any(line.startswith("not selected: the user is not in the groups --users reads") for line in not_selected)
    assert "adobe: no Adobe account" in not_selected
    stats = (await setup._get("stats"))["families"]
    assert stats["users"]["requests"] == 7 and stats["action"]["requests"] == 0  # one lookup per explain


async def test_secondary_orgs_are_planned_and_applied_per_org(setup: Setup, trustees: Any) -> None:
    orgs = await trustees(["org2", "org3"])
    planned = await plan(setup, *SYNC_OPTIONS, "--diff", "--out", "plan.json")
    assert planned.code == 7, planned.out + planned.err
    lines = would(planned)
    assert f'Would add user {email("alice")} to group "Acrobat" in org2' in lines
    assert f'Would remove user {email("carol")} from group "Acrobat" in org2' in lines
    assert f"Would remove user stray2@e2e.test from the org in org2" in lines
    assert f"Would create federatedID user {email('dave')} in org3" in lines
    assert [line for line in planned.out.splitlines() if line.startswith("Plan for ")] == [
        "Plan for primary: 5 users to change: 4 add, 1 create, 1 remove, 2 remove-from-org",
        "Plan for org2: 4 users to change: 2 add, 1 create, 1 remove, 1 remove-from-org",
        "Plan for org3: 4 users to change: 3 add, 3 create, 1 remove-from-org"]
    for server in orgs.values():
        assert (await setup._get("stats", server))["families"]["action"]["requests"] == 0
    applied = await apply(setup, setup.folder / "plan.json")
    assert applied.code == 0, applied.out + applied.err
    assert await setup.users() == PRIMARY_AFTER_REMOVE
    assert await setup.users(orgs["org2"]) == ORG2_AFTER
    assert await setup.users(orgs["org3"]) == ORG3_AFTER
    assert "Number of org2 UMAPI actions sent (total, success, error): (4, 4, 0)" in applied.out
    again = await plan(setup, *SYNC_OPTIONS)
    assert again.code == 0, again.out


async def test_a_csv_file_and_an_extension_hook_are_explained(setup: Setup) -> None:
    (setup.folder / "extension-config.yml").write_text(
        "extended_attributes: []\nextended_adobe_groups: []\nafter_mapping_hook: |\n"
        "  if source_attributes.get('firstname') == 'Zed':\n      target_groups.add('Photoshop')\n")
    setup.write(main={"directory_users": {"user_identity_type": "federatedID", "default_country_code": "US",
                                          "connectors": {"ldap": "connector-ldap.yml"}, "groups": MAPPING,
                                          "extension": "extension-config.yml"}})
    users_file = setup.folder / "users.csv"
    users_file.write_text(f"email,firstname,lastname,country,groups\n{email('alice')},Alice,Tester,US,Sales\n"
                          f"{email('zed')},Zed,Tester,,Sales\n")
    csv_options = ("--connector", "csv", str(users_file))
    planned = await plan(setup, *SYNC_OPTIONS, *csv_options, "--diff")
    assert planned.code == 7, planned.out + planned.err
    assert (f'Would add user {email("zed")} to group "Photoshop"  # the extension hook (after_mapping_hook) added it '
            f"(--process-groups)") in planned.out.splitlines()
    explained = await explain(setup, email("zed"), *csv_options)
    assert f"directory: federatedID,zed@e2e.test,,zed@e2e.test (line 3 of {users_file}), groups ['Sales']" in explained
    assert any(line.startswith("create as federatedID: directory user (line 3 of") and line.endswith(
        "has no Adobe account; country US from default_country_code") for line in explained)
    assert ('add group "Sales Team": directory group "Sales" maps to "Sales Team" (directory_users.groups), kept by '
            'the extension hook (--process-groups)') in explained
    assert 'add group "Photoshop": the extension hook (after_mapping_hook) added it (--process-groups)' in explained


async def test_a_plan_is_written_only_from_complete_reads(setup: Setup) -> None:
    unwritable = setup.folder / "a-file"  # not a folder: nothing can be created under it
    unwritable.write_text("")
    refused = await plan(setup, *SYNC_OPTIONS, "--out", str(unwritable / "plan.json"))
    assert refused.code == 2, refused.out + refused.err
    assert f"option --out: cannot write {unwritable / 'plan.json'}" in refused.err
    assert (await setup._get("stats"))["families"]["users"]["requests"] == 0  # checked before anything is read
    setup.write(ldap={"base_dn": "ou=missing,dc=e2e,dc=test"})
    failed = await plan(setup, *SYNC_OPTIONS, "--out", "plan.json")
    assert failed.code == 3, failed.out + failed.err
    assert "reading the directory failed: base_dn 'ou=missing,dc=e2e,dc=test' does not exist" in failed.err
    assert not (setup.folder / "plan.json").exists()
