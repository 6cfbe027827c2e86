"""Issue 10: a wrong or partial picture of one side never becomes a removal (real slapd, the sandbox,
the real command). See conftest.py for the directory and the starting org."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from async_usersync.sandbox import SandboxServer
from async_usersync.demo.slapd import LocalSlapd, start_slapd
from async_usersync.demo.directory_data import group_ldif, people_ou_ldif, user_ldif

from tests.e2e.conftest import MAPPING, Setup, email

REMOVE_ALL = ("--users", "mapped", "--process-groups", "--adobe-only-user-action", "remove")


def main_config(groups: list, **directory: object) -> dict:
    return {"directory_users": {"user_identity_type": "federatedID", "default_country_code": "US",
                                "connectors": {"ldap": "connector-ldap.yml"}, "groups": groups} | directory}


async def test_a_missing_mapped_group_removes_its_adobe_groups_from_nobody(setup: Setup) -> None:
    setup.write(main=main_config(MAPPING + [{"directory_group": "Design", "adobe_groups": ["Other Team"]}]))
    run = await setup.sync(*REMOVE_ALL)
    assert run.code == 3, run.out + run.err
    assert "WARNING" in run.out and "No group found for: Design" in run.out
    assert "CRITICAL" in run.out and "the directory group(s) 'Design' were not found in the directory" in run.out
    assert "no Adobe-only user was touched" in run.out
    users = await setup.users()
    assert users[email("carol")] == ["Eng Team", "Other Team", "Photoshop"]  # Other Team kept; stale Sales Team gone
    assert users[email("gone1")] == ["Other Team", "Sales Team"] and users[email("gone2")] == []  # not removed
    assert users[email("bob")] == ["Eng Team", "Photoshop", "Sales Team"]  # the rest still goes out
    assert users[email("dave")] == ["Eng Team", "Photoshop"]


async def test_additional_groups_without_dynamic_group_member_attribute_stop_at_start(setup: Setup) -> None:
    setup.write(main=main_config(MAPPING, additional_groups=[{"source": "ACL-(.+)", "target": "ACL-Grp-\\1"}]))
    before = await setup.users()
    run = await setup.sync(*REMOVE_ALL)
    assert run.code == 2, run.out + run.err
    assert "connector-ldap.yml" in run.err and "key 'dynamic_group_member_attribute'" in run.err
    assert "Traceback" not in run.err
    assert await setup.users() == before
    assert await setup.requests("users") == 0


SCHOOL_DN = "dc=school,dc=example"


@pytest.fixture(scope="module")
def school_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSlapd]:
    """A directory whose users log in by username: B7700123's email has moved to mail.school.example."""
    server = start_slapd(tmp_path_factory.mktemp("school-slapd"), SCHOOL_DN)
    try:
        server.add_ldif("".join([
            people_ou_ldif(SCHOOL_DN),
            user_ldif(SCHOOL_DN, "B7700123", "Ann", "Student", "a.student@mail.school.example", "US"),
            user_ldif(SCHOOL_DN, "B7700124", "Ben", "Student", "b.student@school.example", "US"),
            people_ou_ldif(SCHOOL_DN, "groups"),
            group_ldif(SCHOOL_DN, "Sales", [f"uid=B7700123,ou=people,{SCHOOL_DN}", f"uid=B7700124,ou=people,{SCHOOL_DN}"]),
        ]))
        yield server
    finally:
        server.stop()


async def test_a_username_whose_email_moved_domain_is_neither_replaced_nor_removed(
        tmp_path: Path, school_directory: LocalSlapd, org: SandboxServer) -> None:
    org.state.add_user({"email": "a.student@school.example", "username": "B7700123", "domain": "school.example",
                        "type": "federatedID", "firstname": "Ann", "lastname": "Student", "country": "US",
                        "groups": ["Sales Team"]})
    setup = Setup(tmp_path, school_directory, org)
    setup.write(main=main_config([{"directory_group": "Sales", "adobe_groups": ["Sales Team"]}]),
                ldap={"user_username_format": "{uid}"})
    run = await setup.sync(*REMOVE_ALL)
    assert run.code == 0, run.out + run.err
    (warning,) = [line for line in run.out.splitlines() if "share the username B7700123" in line]
    assert "WARNING" in warning
    assert "federatedID,b7700123,mail.school.example,a.student@mail.school.example" in warning
    assert "federatedID,b7700123,school.example,a.student@school.example" in warning
    assert "user_domain_format" in warning
    users = await setup.users()
    assert users["a.student@school.example"] == ["Sales Team"]  # kept, with its groups
    assert "a.student@mail.school.example" not in users  # no second account
    assert users["b.student@school.example"] == ["Sales Team"]  # the rest still goes out
    assert email("gone1") not in users  # and real Adobe-only users still leave

    # Told which domain the directory's usernames are in, the run finds the account again.
    setup.write(main=main_config([{"directory_group": "Sales", "adobe_groups": ["Sales Team"]}]),
                ldap={"user_username_format": "{uid}", "user_domain_format": "school.example"})
    # (The first run removed the e2e org's users, who are not in this directory: the Adobe side shrank.)
    fixed = await setup.sync(*REMOVE_ALL, "--update-user-info", "--adobe-only-user-action", "preserve", "--accept-shrink")
    assert fixed.code == 0, fixed.out + fixed.err
    assert "share the username" not in fixed.out
    users = await setup.users()
    assert users["a.student@mail.school.example"] == ["Sales Team"] and "a.student@school.example" not in users
