"""Several Adobe orgs in one run (issue 16): the primary and secondary (trustee) orgs, each its own
sandbox, against slapd. See conftest.py for the directory and the primary's starting org.

The mapping adds ``org2::Acrobat`` to Sales and ``org3::Substance`` to Engineering. org2 starts with
alice (without Acrobat), carol (Acrobat, no longer in Sales), stray2 (in org2 only: Adobe-only there,
which User Sync never handles, its issue 788) and keeper (excluded in the primary, by its group).
org3 starts with gone1 (Adobe-only in the primary too).
"""

from __future__ import annotations

import csv
import json
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import yaml

from async_usersync.sandbox import SandboxConfig, SandboxServer, run_sandbox
from async_usersync.sandbox.faults import parse_fault_plan

from tests.e2e.conftest import Setup, adobe_user, connector_umapi, email

ORGS = {
    "org2": {"groups": ["Acrobat", "Local Team"],
             "users": [adobe_user("alice", ["Local Team"]), adobe_user("carol", ["Acrobat", "Local Team"]),
                       adobe_user("stray2", ["Acrobat"]), adobe_user("keeper", ["Acrobat"])]},
    "org3": {"groups": ["Substance"], "users": [adobe_user("gone1", ["Substance"])]},
}
MAPPING = [
    {"directory_group": "Sales", "adobe_groups": ["Sales Team", "org2::Acrobat"]},
    {"directory_group": "Engineering", "adobe_groups": ["Eng Team", "Photoshop", "org3::Substance"]},
]
PRIMARY_AFTER_REMOVE = {
    email("alice"): ["Sales Team"],
    email("keeper"): ["Keep", "Sales Team"],
    "visitor@example.net": ["Sales Team"],
    email("bob"): ["Eng Team", "Photoshop", "Sales Team"],
    email("carol"): ["Eng Team", "Other Team", "Photoshop"],
    email("dave"): ["Eng Team", "Photoshop"],
}
ORG2_AFTER = {
    email("alice"): ["Acrobat", "Local Team"],
    email("bob"): ["Acrobat"],  # created: in Sales
    email("carol"): ["Local Team"],  # left Sales: its mapped group removed, the unmapped one kept
    email("keeper"): ["Acrobat"],  # excluded in the primary, so left alone here
}
ORG3_AFTER = {email(name): ["Substance"] for name in ("bob", "carol", "dave")}


def mapping_for(names: list[str]) -> list[dict[str, Any]]:
    """``MAPPING`` without the groups of the secondaries not started."""
    return [{"directory_group": entry["directory_group"],
             "adobe_groups": [group for group in entry["adobe_groups"] if "::" not in group or group.split("::")[0] in names]}
            for entry in MAPPING]


async def start_orgs(stack: AsyncExitStack, folder: Path, names: list[str], faults: dict[str, str]) -> dict[str, SandboxServer]:
    """A sandbox per secondary org, holding ``ORGS[name]``, with its own org id and client."""
    servers = {}
    for number, name in enumerate(names, start=2):
        org_id = f"{number:024X}@AdobeOrg"
        state = folder / f"{name}.json"
        state.write_text(json.dumps({
            "org_id": org_id, "users": ORGS[name]["users"],
            "groups": [{"groupName": group, "type": "USER_GROUP"} for group in ORGS[name]["groups"]]}))
        config = SandboxConfig(port=0, throttle=False, state_file=str(state), org_id=org_id, client_id=f"{name}-client",
                               faults=parse_fault_plan(faults.get(name, "")))
        servers[name] = await stack.enter_async_context(run_sandbox(config))
    return servers


@pytest.fixture
async def trustees(setup: Setup) -> AsyncIterator[Any]:
    """``await trustees(["org2", "org3"], faults={"org3": "users:500=1"})`` starts the secondaries and
    writes the config listing them after the primary."""
    async with AsyncExitStack() as stack:
        async def start(names: list[str], faults: dict[str, str] | None = None,
                        mapping: list[dict[str, Any]] | None = None, **directory_users: Any) -> dict[str, SandboxServer]:
            servers = await start_orgs(stack, setup.folder, names, faults or {})
            for name, server in servers.items():
                (setup.folder / f"connector-{name}.yml").write_text(yaml.safe_dump(connector_umapi(server)))
            umapi = ["connector-umapi.yml", *({name: f"connector-{name}.yml"} for name in names)]
            setup.write(main={
                "adobe_users": {"connectors": {"umapi": umapi}, "exclude_identity_types": ["adobeID"],
                                "exclude_adobe_groups": ["Keep"]},
                "directory_users": {"user_identity_type": "federatedID", "default_country_code": "US",
                                    "connectors": {"ldap": "connector-ldap.yml"},
                                    "groups": mapping or mapping_for(names)} | directory_users})
            return servers

        yield start


async def test_three_orgs_get_user_syncs_rules_and_the_primarys_removals_go_last(setup: Setup, trustees: Any) -> None:
    orgs = await trustees(["org2", "org3"])
    run = await setup.sync("--users", "mapped", "--process-groups", "--adobe-only-user-action", "remove",
                           "--summary-json", "summary.json")
    assert run.code == 0, run.out + run.err
    assert await setup.users() == PRIMARY_AFTER_REMOVE
    assert await setup.users(orgs["org2"]) == ORG2_AFTER  # stray2, Adobe-only in org2 alone, removed
    assert await setup.users(orgs["org3"]) == ORG3_AFTER  # gone1 removed here too; alice has no org3 group
    summary = run.summary()
    assert summary["Number of Adobe users added to secondaries"] == "4"
    assert summary["Number of primary UMAPI actions sent (total, success, error)"] == "(5, 5, 0)"
    assert summary["Number of org2 UMAPI actions sent (total, success, error)"] == "(4, 4, 0)"
    assert summary["Number of org3 UMAPI actions sent (total, success, error)"] == "(4, 4, 0)"
    assert summary["Number of new Adobe users added"] == "1"
    assert "Number of UMAPI actions sent (total, success, error)" not in summary
    for line in ("Adding user to org2 with user key: federatedID,bob@e2e.test,,bob@e2e.test",
                 "Managing groups in org2 for user key: federatedID,carol@e2e.test,,carol@e2e.test added: {} "
                 "removed: {'Acrobat'}",
                 "Removing Adobe-only user from org2 with user key: federatedID,stray2@e2e.test,,stray2@e2e.test"):
        assert line in run.out
    # User Sync's order: the secondaries' commands first, the primary's removals last
    last_secondary = run.out.index("Removing Adobe-only user from org3 with user key: federatedID,gone1@e2e.test")
    assert run.out.index("Removing Adobe-only user with user key: federatedID,gone1@e2e.test") > last_secondary
    report = json.loads((setup.folder / "summary.json").read_text())
    assert report["counters"]["umapi_actions_succeeded"] == 5
    assert {name: (org["counters"]["primary_users_created"], org["counters"]["umapi_actions_succeeded"],
                   org["counters"]["primary_strays_processed"]) for name, org in report["orgs"].items()} == {
        "org2": (1, 4, 1), "org3": (3, 4, 1)}

    again = await setup.sync("--users", "mapped", "--process-groups", "--adobe-only-user-action", "remove")
    assert again.code == 0, again.out
    assert {label: value for label, value in again.summary().items() if "UMAPI actions sent" in label} == {
        f"Number of {org} UMAPI actions sent (total, success, error)": "(0, 0, 0)" for org in ("primary", "org2", "org3")}


async def test_delete_removes_from_a_secondary_and_write_file_names_its_org(setup: Setup, trustees: Any) -> None:
    orgs = await trustees(["org2"])
    run = await setup.sync("--users", "mapped", "--adobe-only-user-action", "write-file", "strays.csv")
    assert run.code == 0, run.out + run.err
    with (setup.folder / "strays.csv").open(newline="") as stream:
        rows = [(row["email"], row["umapi"]) for row in csv.DictReader(stream)]
    # keeper is excluded in the primary, so it is no Adobe-only user of org2 either
    assert sorted(rows) == [(email("gone1"), ""), (email("gone2"), ""), (email("stray2"), "org2")]
    listed = await setup.sync("--adobe-only-user-list", "strays.csv", "--adobe-only-user-action", "delete")
    assert listed.code == 0, listed.out + listed.err
    assert email("stray2") not in await setup.users(orgs["org2"])
    assert email("carol") in await setup.users(orgs["org2"])
    primary = await setup.users()
    assert email("gone1") not in primary and email("gone2") not in primary and email("alice") in primary
    assert "Removing Adobe-only user from org2 with user key: federatedID,stray2@e2e.test" in listed.out
    assert "Deleting Adobe-only user with user key: federatedID,gone1@e2e.test" in listed.out


async def test_a_failed_secondary_read_holds_back_only_that_orgs_adobe_only_actions(setup: Setup, trustees: Any) -> None:
    orgs = await trustees(["org2", "org3"], faults={"org3": "users:500=1"})
    run = await setup.sync("--users", "mapped", "--process-groups", "--adobe-only-user-action", "remove")
    assert run.code == 3, run.out + run.err
    assert "reading the Adobe users of org3 failed" in run.out
    assert await setup.users() == PRIMARY_AFTER_REMOVE  # gone1 and gone2 removed from the primary all the same
    assert await setup.users(orgs["org2"]) == ORG2_AFTER
    assert await setup.users(orgs["org3"]) == {email("gone1"): ["Substance"]}
    assert run.summary()["Number of org3 UMAPI actions sent (total, success, error)"] == "(0, 0, 0)"


async def test_push_creates_in_a_secondary_only_users_with_groups_there(setup: Setup, trustees: Any) -> None:
    orgs = await trustees(["org2"])
    run = await setup.sync("--users", "mapped", "--strategy", "push", "--process-groups")
    assert run.code == 0, run.out + run.err
    org2 = await setup.users(orgs["org2"])
    assert org2[email("bob")] == ["Acrobat"] and org2[email("alice")] == ["Acrobat", "Local Team"]
    assert email("dave") not in org2 and org2[email("stray2")] == ["Acrobat"]  # push never touches Adobe-only users
    assert run.summary()["Number of Adobe users pushed to secondaries"] == "2"


async def test_auto_create_makes_each_orgs_missing_user_groups_there(setup: Setup, trustees: Any) -> None:
    orgs = await trustees(["org2"], mapping=[{"directory_group": "Sales", "adobe_groups": ["Sales Team", "org2::New Team"]}],
                          group_sync_options={"auto_create": True})
    run = await setup.sync("--users", "mapped", "--process-groups")
    assert run.code == 0, run.out + run.err
    assert "Created Adobe user group in org2: New Team" in run.out
    assert (await setup.users(orgs["org2"]))[email("bob")] == ["New Team"]
    assert run.summary()["Number of Adobe user-groups created"] == "1"


async def test_a_missing_directory_group_keeps_its_groups_in_the_secondaries_too(setup: Setup, trustees: Any) -> None:
    mapping = [*MAPPING, {"directory_group": "Ghosts", "adobe_groups": ["org2::Acrobat"]}]
    orgs = await trustees(["org2", "org3"], mapping=mapping)
    run = await setup.sync("--users", "mapped", "--process-groups", "--adobe-only-user-action", "remove")
    assert run.code == 3, run.out + run.err
    assert "No group found for: Ghosts" in run.out or "'Ghosts' were not found" in run.out
    org2 = await setup.users(orgs["org2"])
    assert org2[email("carol")] == ["Acrobat", "Local Team"] and org2[email("stray2")] == ["Acrobat"]
    assert org2[email("bob")] == ["Acrobat"]  # additions still go
    assert email("gone1") in await setup.users(orgs["org3"])  # no Adobe-only action anywhere


async def test_an_extension_hook_sees_and_chooses_each_orgs_groups_by_their_org_prefix(setup: Setup, trustees: Any) -> None:
    """Issues 15 and 16 together: ``target_groups`` holds a secondary's mapped groups as ``org2::Group``
    (User Sync's qualified names); what the hook leaves with that prefix is what org2 gets, and an
    ``extended_adobe_groups`` entry with the prefix counts as mapped in org2 alone."""
    (setup.folder / "extension-config.yml").write_text(
        "extended_adobe_groups:\n  - org2::Local Team\n"
        "after_mapping_hook: |\n"
        "  email = source_attributes['email']\n"
        "  if email.startswith('alice'):\n"
        "      target_groups.add('org2::Local Team')\n"
        "  if email.startswith('bob'):\n"
        "      target_groups.discard('org2::Acrobat')\n")
    orgs = await trustees(["org2"], extension="extension-config.yml")
    run = await setup.sync("--users", "mapped", "--process-groups")
    assert run.code == 0, run.out + run.err
    assert await setup.users(orgs["org2"]) == {
        email("alice"): ["Acrobat", "Local Team"],
        email("carol"): [],  # Acrobat and the extended Local Team are mapped in org2, and the hook gave her neither
        email("keeper"): ["Acrobat"],
        email("stray2"): [],  # Adobe-only there: --process-groups takes its mapped group, as User Sync does
    }  # bob: the hook took his only org2 group, so he is not created there
    assert (await setup.users())[email("bob")] == ["Eng Team", "Photoshop", "Sales Team"]  # the primary's groups kept
