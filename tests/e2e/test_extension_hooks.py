"""Extension hooks (User Sync's ``directory_users.extension``) in real runs: a slapd of its own and
the same people as a CSV file, a sandbox org, the ``async-usersync`` command.

Each hook's expected org follows User Sync 2.10's rules: the hook runs once per selected user after
the mapping; ``extended_adobe_groups`` count as mapped (so ``--process-groups`` removes them from a
user the hook does not give them); ``--exclude-unmapped-users`` does not create a user left without
groups; a Federated ID without a country is not created. Where we differ on purpose (the user key is
built after the hook, User Sync's issue 818) the test says so.

The people, all in the directory group Staff (mapped to All Apps):
    ann  businessCategory JP1234567, o Company 1                    (in the org, in Company 2 Users)
    ben  businessCategory GB0070008, o Company 2, departmentNumber Design
    cat  businessCategory FR4444444, o Company 3, employeeType contractor
    eve  no country, l DE
    fay  mail fay@old.test                                          (the org has fay@new.test)
    dan  no mail
The org also holds gone@hooks.test (Adobe-only, in All Apps).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import pytest

from async_usersync.config.example import EXAMPLE_FILES
from async_usersync.demo.directory_data import group_ldif, people_ou_ldif, user_ldif
from async_usersync.demo.slapd import LocalSlapd, start_slapd
from async_usersync.sandbox import SandboxConfig, SandboxServer, run_sandbox
from tests.e2e.conftest import Setup, adobe_user

BASE_DN = "dc=hooks,dc=test"
PEOPLE: list[tuple[str, str | None, dict[str, str]]] = [
    ("ann", "ann@hooks.test", {"c": "US", "businessCategory": "JP1234567", "o": "Company 1"}),
    ("ben", "ben@hooks.test", {"c": "US", "businessCategory": "GB0070008", "o": "Company 2", "departmentNumber": "Design"}),
    ("cat", "cat@hooks.test", {"c": "US", "businessCategory": "FR4444444", "o": "Company 3", "employeeType": "contractor"}),
    ("eve", "eve@hooks.test", {"l": "DE"}),
    ("fay", "fay@old.test", {"c": "US"}),
    ("dan", None, {"c": "US"}),
]
"""uid, mail, other attributes (LDAP names, and the CSV file's columns)."""
COLUMNS = ("businessCategory", "o", "departmentNumber", "employeeType", "l")
SOURCES = ["ldap", "csv"]

EXAMPLE_HOOK = EXAMPLE_FILES["extension-config.yml"]
"""``example-config``'s extension file: what User Sync's shipped example does (the country from the
first two letters of a business code, a company's user group from the company attribute)."""


@pytest.fixture(scope="module")
def hook_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSlapd]:
    server = start_slapd(tmp_path_factory.mktemp("hooks-slapd"), BASE_DN)
    try:
        people = []
        for uid, mail, attributes in PEOPLE:
            extra = {name: value for name, value in attributes.items() if name != "c"}
            people.append(user_ldif(BASE_DN, uid, uid.title(), "Hooked", mail, attributes.get("c"), extra=extra))
        members = [f"uid={uid},ou=people,{BASE_DN}" for uid, _, _ in PEOPLE]
        server.add_ldif("".join([people_ou_ldif(BASE_DN), *people, people_ou_ldif(BASE_DN, "groups"),
                                 group_ldif(BASE_DN, "Staff", members)]))
        yield server
    finally:
        server.stop()


@pytest.fixture
async def hook_org(tmp_path: Path) -> AsyncIterator[SandboxServer]:
    state = {
        "org_id": SandboxConfig().org_id,
        "groups": [{"groupName": "All Apps", "type": "PRODUCT_PROFILE", "productName": "Creative Cloud"},
                   *({"groupName": name, "type": "USER_GROUP"} for name in ("Company 1 Users", "Company 2 Users",
                                                                             "Design Apps"))],
        "users": [adobe_user("ann", ["All Apps", "Company 2 Users"], domain="hooks.test"),
                  adobe_user("fay", [], domain="new.test"),
                  adobe_user("gone", ["All Apps"], domain="hooks.test")],
    }
    state_file = tmp_path / "org.json"
    state_file.write_text(json.dumps(state))
    async with run_sandbox(SandboxConfig(port=0, throttle=False, state_file=str(state_file))) as server:
        yield server


@pytest.fixture
def hooks(tmp_path: Path, hook_directory: LocalSlapd, hook_org: SandboxServer) -> Setup:
    return Setup(tmp_path, hook_directory, hook_org)


def configure(setup: Setup, source: str, extension: str | None, email_from_uid: bool = False) -> tuple[str, ...]:
    """Writes the config files for ``source`` with ``extension`` as extension-config.yml (None: no
    extension key), and returns the run's arguments. ``email_from_uid``: the email read is
    ``uid@upn.test`` (LDAP's user_email_format; the CSV file's email column) and ``mail`` is a
    separate attribute or column."""
    directory_users: dict[str, Any] = {
        "user_identity_type": "federatedID", "groups": [{"directory_group": "Staff", "adobe_groups": ["All Apps"]}],
        "connectors": {source: f"connector-{source}.yml"},
    }
    if extension is not None:
        (setup.folder / "extension-config.yml").write_text(extension)
        directory_users["extension"] = "extension-config.yml"
    ldap = {"all_users_filter": "(objectClass=inetOrgPerson)",
            "two_steps_lookup": {"group_member_attribute_name": "member"}}
    if email_from_uid:
        ldap["user_email_format"] = "{uid}@upn.test"
    setup.write(main={"directory_users": directory_users, "limits": {"max_adobe_only_users": 10}}, ldap=ldap)
    if source == "ldap":
        return ("--users", "mapped")
    users_file = setup.folder / "users.csv"
    rows = ["email,firstname,lastname,country,groups,mail," + ",".join(COLUMNS)]
    for uid, mail, attributes in PEOPLE:
        email = f"{uid}@upn.test" if email_from_uid else (mail or "")
        rows.append(",".join([email, uid.title(), "Hooked", attributes.get("c", ""), "Staff", mail or "",
                              *(attributes.get(column, "") for column in COLUMNS)]))
    users_file.write_text("\n".join(rows) + "\n")
    (setup.folder / "connector-csv.yml").write_text("delimiter: ','\n")
    return ("--users", "mapped", "--connector", "csv", str(users_file))


def hook(body: str, attributes: tuple[str, ...] = (), groups: tuple[str, ...] = ()) -> str:
    """An extension file: the extended attributes and groups, then ``body`` as the hook's code."""
    lines = ["extended_attributes:", *(f"  - {name}" for name in attributes),
             "extended_adobe_groups:", *(f"  - {name}" for name in groups), "after_mapping_hook: |"]
    lines += [f"  {line}" for line in body.strip("\n").splitlines()]
    return "\n".join(lines) + "\n"


def countries(users: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {email: user["country"] for email, user in users.items()}


@pytest.mark.parametrize("source", SOURCES)
async def test_user_syncs_example_hook_sets_countries_and_company_groups(hooks: Setup, source: str) -> None:
    run = await hooks.sync(*configure(hooks, source, EXAMPLE_HOOK), "--process-groups")
    assert run.code == 0, run.out + run.err
    users = await hooks.org_users()
    groups = await hooks.users()
    assert groups["ann@hooks.test"] == ["All Apps", "Company 1 Users"]  # Company 2 Users is extended, so mapped
    assert groups["ben@hooks.test"] == ["All Apps", "Company 2 Users"]
    assert groups["cat@hooks.test"] == ["All Apps"]
    assert groups["fay@old.test"] == ["All Apps"]
    assert {email: countries(users)[email] for email in ("ben@hooks.test", "cat@hooks.test", "fay@old.test")} == {
        "ben@hooks.test": "GB", "cat@hooks.test": "FR", "fay@old.test": "US"}
    assert "eve@hooks.test" not in users  # no country from the directory nor the hook: as User Sync, an error
    assert "User cannot be added without a specified country code: federatedID,eve@hooks.test" in run.out


@pytest.mark.parametrize("source", SOURCES)
async def test_a_hook_takes_the_country_from_another_attribute(hooks: Setup, source: str) -> None:
    body = """
if not target_attributes['country'] and source_attributes.get('l'):
    target_attributes['country'] = source_attributes['l'][:2].upper()
"""
    run = await hooks.sync(*configure(hooks, source, hook(body, ("l",))), "--process-groups")
    assert run.code == 0, run.out + run.err
    users = await hooks.org_users()
    assert (users["eve@hooks.test"]["country"], users["eve@hooks.test"]["groups"]) == ("DE", ["All Apps"])
    assert users["ben@hooks.test"]["country"] == "US"


@pytest.mark.parametrize("source", SOURCES)
async def test_a_hook_falls_back_to_another_email_attribute_and_the_user_matches_by_it(hooks: Setup, source: str) -> None:
    """The email read is uid@upn.test; the hook prefers ``mail``. ann matches her Adobe account by the
    email the hook chose (the key is built after the hook), so no ann@upn.test is created."""
    body = """
mail = source_attributes.get('mail')
if mail:
    target_attributes['email'] = mail
"""
    run = await hooks.sync(*configure(hooks, source, hook(body, ("mail",)), email_from_uid=True), "--process-groups")
    assert run.code == 0, run.out + run.err
    groups = await hooks.users()
    assert "ann@upn.test" not in groups and "ben@upn.test" not in groups
    assert groups["ben@hooks.test"] == ["All Apps"] and groups["dan@upn.test"] == ["All Apps"]
    assert run.summary()["Number of new Adobe users added"] == "4"  # ben, cat, fay (old.test), dan (upn.test)


@pytest.mark.parametrize("source", SOURCES)
async def test_a_hook_adds_a_group_by_department(hooks: Setup, source: str) -> None:
    body = """
if source_attributes.get('departmentNumber') == 'Design':
    target_groups.add('Design Apps')
"""
    run = await hooks.sync(*configure(hooks, source, hook(body, ("departmentNumber",), ("Design Apps",))),
                           "--process-groups")
    assert run.code == 0, run.out + run.err
    groups = await hooks.users()
    assert groups["ben@hooks.test"] == ["All Apps", "Design Apps"]
    assert groups["cat@hooks.test"] == ["All Apps"]
    assert groups["ann@hooks.test"] == ["All Apps", "Company 2 Users"]  # not mapped in this config: left alone


@pytest.mark.parametrize("source", SOURCES)
async def test_a_hook_skips_a_user_by_leaving_no_groups_with_exclude_unmapped_users(hooks: Setup, source: str) -> None:
    body = """
if source_attributes.get('employeeType') == 'contractor':
    target_groups.clear()
"""
    run = await hooks.sync(*configure(hooks, source, hook(body, ("employeeType",))), "--process-groups",
                           "--exclude-unmapped-users")
    assert run.code == 0, run.out + run.err
    groups = await hooks.users()
    assert "cat@hooks.test" not in groups
    assert groups["ben@hooks.test"] == ["All Apps"]


@pytest.mark.parametrize("source", SOURCES)
async def test_an_email_rewrite_changes_whom_the_user_matches(hooks: Setup, source: str) -> None:
    """fay is fay@old.test in the directory and fay@new.test in the org. The key is built after the
    hook (User Sync builds it before: its issue 818), so she matches fay@new.test, gets her group,
    and is neither created under the old address nor taken for Adobe-only."""
    body = "target_attributes['email'] = target_attributes['email'].replace('@old.test', '@new.test')"
    run = await hooks.sync(*configure(hooks, source, hook(body)), "--process-groups",
                           "--adobe-only-user-action", "remove")
    assert run.code == 0, run.out + run.err
    groups = await hooks.users()
    assert groups["fay@new.test"] == ["All Apps"]
    assert "fay@old.test" not in groups
    assert "gone@hooks.test" not in groups  # the real Adobe-only user still goes
    assert "Managing groups for user key: federatedID,fay@new.test,,fay@new.test added: {'All Apps'}" in run.out


@pytest.mark.parametrize("source", SOURCES)
async def test_a_hook_that_raises_for_one_user_leaves_them_alone_and_removes_nobody(hooks: Setup, source: str) -> None:
    body = """
company = source_attributes.get('o')
if company == 'Company 1':
    raise ValueError('no rule for ' + company)
group = {'Company 2': 'Company 2 Users'}.get(company)
if group:
    target_groups.add(group)
"""
    extension = hook(body, ("o",), ("Company 1 Users", "Company 2 Users"))
    raise_line = extension.splitlines().index("      raise ValueError('no rule for ' + company)") + 1
    run = await hooks.sync(*configure(hooks, source, extension), "--process-groups", "--adobe-only-user-action", "remove")
    assert run.code == 3, run.out + run.err
    groups = await hooks.users()
    assert groups["ann@hooks.test"] == ["All Apps", "Company 2 Users"]  # no change: not even her mapped groups
    assert groups["gone@hooks.test"] == ["All Apps"]  # no Adobe-only action in a run the hook failed in
    assert groups["ben@hooks.test"] == ["All Apps", "Company 2 Users"]  # the other users' changes still go
    error_lines = [line for line in run.out.splitlines() if "ann@hooks.test" in line and "ERROR" in line]
    assert any("ValueError: no rule for Company 1" in line
               and f"at line {raise_line} of {hooks.folder / 'extension-config.yml'}" in line for line in error_lines), run.out
    assert "the extension hook failed for 1 directory user(s)" in run.out + run.err


async def test_a_syntax_error_in_the_hook_stops_the_run_at_start_naming_the_file_and_line(hooks: Setup) -> None:
    extension = hook("country = source_attributes.get('l')\nif country\n    target_attributes['country'] = country",
                     ("l",))
    bad_line = extension.splitlines().index("  if country") + 1
    run = await hooks.sync(*configure(hooks, "ldap", extension), "--process-groups")
    assert run.code == 2, run.out + run.err
    message = run.out + run.err
    assert f"in {hooks.folder / 'extension-config.yml'}, key 'after_mapping_hook'" in message
    assert f"at line {bad_line}" in message and "Traceback" not in message
    assert "ben@hooks.test" not in await hooks.users()


async def test_ust_extension_0_forbids_any_extension_key(hooks: Setup) -> None:
    arguments = configure(hooks, "ldap", EXAMPLE_HOOK)
    run = await hooks.sync(*arguments, "--process-groups", env={"UST_EXTENSION": "0"})
    assert run.code == 2, run.out + run.err
    assert "key 'directory_users.extension'" in run.out + run.err and "UST_EXTENSION=0" in run.out + run.err
    assert "ben@hooks.test" not in await hooks.users()
    run = await hooks.sync(*arguments, "--process-groups", env={"UST_EXTENSION": "1"})
    assert run.code == 0, run.out + run.err



async def test_the_hook_runs_in_the_syncs_own_process_not_the_ldap_readers(hooks: Setup) -> None:
    """The LDAP read runs in a child process; the hook must run in the sync's process, whose id the
    log's lines carry (a line the child logs is relayed, so its text would name the child's id)."""
    body = """
import os
if not hook_storage:
    hook_storage['pid'] = os.getpid()
    logger.info('hook ran in process %d', os.getpid())
"""
    run = await hooks.sync(*configure(hooks, "ldap", hook(body)), env={"ASYNC_USERSYNC_LDAP_IN_PROCESS": "0"})
    assert run.code == 0, run.out + run.err
    (line,) = [line for line in run.out.splitlines() if "hook ran in process" in line]
    assert line.split()[2] == line.rsplit(" ", 1)[1]  # "date time PID LEVEL logger - hook ran in process PID"
