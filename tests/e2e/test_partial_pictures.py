"""Issue 10: a wrong or partial picture of one side never becomes a removal (real slapd, the sandbox,
the real command). See conftest.py for the directory and the starting org."""

from __future__ import annotations

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
