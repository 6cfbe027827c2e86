"""Whole runs of ``async-usersync --connector okta`` against the fake Okta org and the UMAPI sandbox.

The Okta org mirrors the LDAP one of conftest.py (Okta groups do not nest, so dave is a direct
member of Engineering): alice [Sales], bob [Sales, Engineering], carol [Engineering], dave
[Engineering], erin [no group], frank [Marketing, not mapped], ivy [Engineering, deprovisioned: the
default all_users_filter leaves her out]. The org is conftest's ``starting_org``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from async_usersync.sandbox import SandboxServer
from async_usersync.sandbox.faults import parse_fault_plan
from async_usersync.sandbox.okta import OKTA_FAULT_FAMILIES, OktaDirectory, OktaSandboxServer
from tests.e2e.conftest import MAPPING, Setup, email

MAPPED_RUN = ("--connector", "okta", "--users", "mapped", "--process-groups", "--adobe-only-user-action", "remove")
EXCLUDED = {email("keeper"): ["Keep", "Sales Team"], "visitor@example.net": ["Sales Team"]}
STARTING = EXCLUDED | {
    email("alice"): ["Sales Team"],
    email("bob"): ["Sales Team"],
    email("carol"): ["Eng Team", "Other Team", "Photoshop", "Sales Team"],
    email("gone1"): ["Other Team", "Sales Team"],
    email("gone2"): [],
}
SYNCED = EXCLUDED | {
    email("alice"): ["Sales Team"],
    email("bob"): ["Eng Team", "Photoshop", "Sales Team"],
    email("carol"): ["Eng Team", "Other Team", "Photoshop"],  # stale mapped group gone, unmapped kept
    email("dave"): ["Eng Team", "Photoshop"],  # created
}


@pytest.fixture
def okta_directory() -> OktaDirectory:
    directory = OktaDirectory()
    ids = {name: directory.add_user(email(name), name.title(), "Tester", countryCode="US")
           for name in ("alice", "bob", "carol", "dave", "erin", "frank")}
    ids["ivy"] = directory.add_user(email("ivy"), "Ivy", "Tester", status="DEPROVISIONED")
    directory.add_group("Sales", [ids["alice"], ids["bob"]])
    directory.add_group("Engineering", [ids["bob"], ids["carol"], ids["dave"], ids["ivy"]])
    directory.add_group("Marketing", [ids["frank"]])
    return directory


class OktaSetup(Setup):
    """conftest's ``Setup`` with connector-okta.yml in place of connector-ldap.yml."""

    okta: OktaSandboxServer

    def write_okta(self, main: dict[str, Any] | None = None, **okta_keys: Any) -> None:
        okta = self.okta
        connector = {"host": okta.host, "api_token": okta.api_token, "ca_file": str(okta.ca_cert), "page_size": 1,
                     "rate_window": 0.01} | okta_keys
        (self.folder / "connector-okta.yml").write_text(yaml.safe_dump(connector, sort_keys=False), encoding="utf8")
        directory_users = {"user_identity_type": "federatedID", "default_country_code": "US",
                           "connectors": {"okta": "connector-okta.yml"}, "groups": MAPPING}
        self.write(main={"directory_users": directory_users} | (main or {}))


@pytest.fixture
def okta_setup(tmp_path: Path, org: SandboxServer, okta: OktaSandboxServer) -> OktaSetup:
    setup = OktaSetup(tmp_path, None, org)  # type: ignore[arg-type]  # no LDAP server: Okta is the directory
    setup.okta = okta
    # Setup.write fills connector-ldap.yml from the LDAP server: give it a stand-in it only reads names from.
    setup.directory = type("NoLdap", (), {"url": "ldap://unused", "base_dn": "dc=unused", "admin_dn": "cn=unused",
                                          "admin_password": "unused"})()  # type: ignore[assignment]
    setup.write_okta()
    return setup


def faults(okta: OktaSandboxServer, spec: str) -> None:
    okta.sandbox.config.faults = parse_fault_plan(spec, OKTA_FAULT_FAMILIES)


async def test_mapped_groups_process_groups_and_removals_then_nothing_left_to_do(okta_setup: OktaSetup) -> None:
    run = await okta_setup.sync(*MAPPED_RUN)
    assert run.code == 0, run.err
    assert await okta_setup.users() == SYNCED  # gone1 and gone2 removed; keeper and visitor excluded
    summary = run.summary()
    assert (summary["Number of directory users read"], summary["Number of new Adobe users added"],
            summary["Number of Adobe-only users removed"]) == ("4", "1", "2")
    again = await okta_setup.sync(*MAPPED_RUN)
    assert again.code == 0, again.err
    assert again.summary()["Number of UMAPI actions sent (total, success, error)"] == "(0, 0, 0)"


async def test_users_group_reads_only_the_named_group_and_with_process_groups_all_mapped_groups(
        okta_setup: OktaSetup) -> None:
    run = await okta_setup.sync("--connector", "okta", "--users", "group", "Engineering")
    assert run.code == 0, run.err
    users = await okta_setup.users()
    assert email("dave") in users and email("alice") in users  # created; alice untouched
    assert users[email("bob")] == ["Sales Team"]  # no group changes without --process-groups
    run = await okta_setup.sync("--connector", "okta", "--users", "group", "Sales", "--process-groups")
    assert run.code == 0, run.err
    users = await okta_setup.users()
    assert users[email("bob")] == ["Eng Team", "Photoshop", "Sales Team"]  # carries every mapped group it is in
    assert users[email("alice")] == ["Sales Team"]


async def test_a_page_failing_mid_read_removes_nobody(okta_setup: OktaSetup) -> None:
    # With seed 0 the fourth members page fails (draws 0.84, 0.76, 0.42, 0.26): Sales's two pages and
    # Engineering's first (bob) are read, carol's page answers 500.
    faults(okta_setup.okta, "members:500=0.3")
    run = await okta_setup.sync(*MAPPED_RUN)
    assert run.code == 3, run.err
    assert "with 500: E0000009 Internal Server Error" in run.out + run.err
    users = await okta_setup.users()
    assert users[email("bob")] == ["Eng Team", "Photoshop", "Sales Team"]  # read before the failure: groups added
    assert {name: users[name] for name in STARTING if name != email("bob")} == {
        name: groups for name, groups in STARTING.items() if name != email("bob")}  # carol, gone1, gone2 untouched


async def test_a_429_storm_is_ridden_out(okta_setup: OktaSetup) -> None:
    faults(okta_setup.okta, "members:429=0.5@0.05;groups:429=0.5@0.05")
    run = await okta_setup.sync(*MAPPED_RUN)
    assert run.code == 0, run.err
    assert await okta_setup.users() == SYNCED
    assert okta_setup.okta.stats("groups").throttled > 3


async def test_a_429_storm_past_max_outage_removes_nobody(okta_setup: OktaSetup) -> None:
    okta_setup.write_okta(max_outage=1)
    faults(okta_setup.okta, "members:429=1@0.3")
    run = await okta_setup.sync(*MAPPED_RUN)
    assert run.code == 3, run.err
    assert "accepted no request for" in run.out + run.err and "max_outage 1 s" in run.out + run.err
    assert await okta_setup.users() == STARTING


async def test_a_wrong_token_is_exit_3_naming_the_key_and_removes_nobody(okta_setup: OktaSetup) -> None:
    okta_setup.write_okta(api_token="00wrongWrongWrongWrong")
    run = await okta_setup.sync(*MAPPED_RUN)
    assert run.code == 3, run.err
    output = run.out + run.err
    assert "refused the API token (401: E0000011 Invalid token provided): check api_token in" in output
    assert "00wrongWrongWrongWrong" not in output + (okta_setup.folder / "logs" / "sync.log").read_text()
    assert await okta_setup.users() == STARTING


async def test_an_email_format_no_member_has_is_a_failed_read_that_removes_nobody(okta_setup: OktaSetup) -> None:
    """Every member skipped for lacking an email looked like an empty directory: with --process-groups the
    first run took the whole org for Adobe-only users."""
    okta_setup.write_okta(user_email_format="{mail}")
    run = await okta_setup.sync(*MAPPED_RUN)
    assert run.code == 3, run.out + run.err
    assert "no entry read has a valid email address" in run.out and "check user_email_format '{mail}'" in run.out
    assert await okta_setup.users() == STARTING


async def test_an_unknown_group_keeps_its_adobe_groups_and_ends_with_exit_3(okta_setup: OktaSetup) -> None:
    okta_setup.okta.directory.groups.pop(okta_setup.okta.directory.group_id("Engineering"))
    run = await okta_setup.sync(*MAPPED_RUN)
    assert run.code == 3, run.err
    assert "No group found for: Engineering" in run.out
    users = await okta_setup.users()
    assert users[email("carol")] == STARTING[email("carol")]  # Engineering's Adobe groups removed from nobody
    assert users[email("gone1")] == STARTING[email("gone1")]  # no Adobe-only action


@pytest.mark.parametrize("arguments, okta_keys, message", [
    (MAPPED_RUN, {"all_users_filter": "user.profile.login.endswith('e2e.test')"},
     "key 'all_users_filter': 'user.profile.login.endswith('e2e.test')' is outside the filter grammar"),
    (("--connector", "okta", "--users", "all"), {}, "option --users: the okta connector has no notion of all users"),
])
async def test_bad_input_is_exit_2_naming_it_before_anything_is_read(
        okta_setup: OktaSetup, arguments: tuple[str, ...], okta_keys: dict[str, Any], message: str) -> None:
    okta_setup.write_okta(**okta_keys)
    run = await okta_setup.sync(*arguments)
    assert run.code == 2, run.err
    assert message in run.err
    assert okta_setup.okta.stats("groups").requests == 0
    assert await okta_setup.users() == STARTING


async def test_check_looks_up_the_first_group_and_reads_one_page(okta_setup: OktaSetup) -> None:
    from tests.e2e.test_check import check, line_of, steps

    run = await check(okta_setup, "--connector", "okta", "--users", "mapped")
    assert run.code == 0, run.out + run.err
    assert steps(run)["directory"] == "ok"
    assert (f"https://{okta_setup.okta.host}: token accepted, group 'Sales' found, first page: 1 users"
            in line_of(run, "directory"))
    okta_setup.write_okta(api_token="00wrongWrongWrongWrong")
    run = await check(okta_setup, "--connector", "okta", "--users", "mapped")
    assert run.code == 3 and steps(run)["directory"] == "FAILED"
    assert "refused the API token" in line_of(run, "directory")
