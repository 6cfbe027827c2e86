"""A wrong or partial picture of the directory never becomes a removal (issue 10, paths 1-3 and 7):
real runs of ``async-usersync`` against slapd and the sandbox, each checking the org's final state.

The org is conftest's ``starting_org()`` plus zoe (``Sales Team`` and the unmapped ``Other Team``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import AsyncIterator, Callable, Iterator

import pytest

from async_usersync.sandbox import SandboxConfig, SandboxServer, run_sandbox
from async_usersync.demo.slapd import LocalSlapd, start_slapd
from tests.e2e.conftest import BASE_DN, Setup, adobe_user, directory_ldif, email, starting_org

REMOVE = ("--users", "mapped", "--process-groups", "--adobe-only-user-action", "remove")
BRANCH_URL = f"ldap://branch.e2e.test/ou=branch,{BASE_DN}"
AD_PARTITION_URL = f"ldap://e2e.test/DC=DomainDnsZones,{BASE_DN}"


def referral_ldif(rdn: str, url: str) -> str:
    name, value = rdn.split("=")
    object_class = "dcObject" if name == "dc" else "extensibleObject"
    return f"dn: {rdn},{BASE_DN}\nobjectClass: referral\nobjectClass: {object_class}\n{name}: {value}\nref: {url}\n\n"


@pytest.fixture
async def org(tmp_path: Path) -> AsyncIterator[SandboxServer]:
    state = starting_org()
    state["users"].append(adobe_user("zoe", ["Sales Team", "Other Team"]))
    state_file = tmp_path / "org.json"
    state_file.write_text(json.dumps(state))
    async with run_sandbox(SandboxConfig(port=0, throttle=False, state_file=str(state_file))) as server:
        yield server


@pytest.fixture
def directory_with(tmp_path: Path) -> Iterator[Callable[..., LocalSlapd]]:
    """Starts a slapd of conftest's directory plus ``more_sales`` people and ``referrals`` (LDIF
    added with ManageDsaIT, as a referral entry needs)."""
    servers: list[LocalSlapd] = []

    def start(more_sales: tuple[tuple[str, ...], ...] = (), referrals: str = "") -> LocalSlapd:
        server = start_slapd(tmp_path / f"slapd{len(servers)}", BASE_DN)
        servers.append(server)
        server.add_ldif(directory_ldif(more_sales))
        if referrals:
            server.add_ldif(referrals, manage_dsa_it=True)
        return server

    yield start
    for server in servers:
        server.stop()


async def test_a_referral_under_base_dn_is_an_incomplete_read(tmp_path: Path, org: SandboxServer,
                                                              directory_with: Callable[..., LocalSlapd]) -> None:
    directory = directory_with(referrals=referral_ldif("ou=branch", BRANCH_URL)
                               + referral_ldif("dc=DomainDnsZones", AD_PARTITION_URL))
    setup = Setup(tmp_path, directory, org)
    setup.write()
    before = await setup.users()
    run = await setup.sync(*REMOVE)
    assert run.code == 3, run.out + run.err
    assert f"reference to {BRANCH_URL.replace('.test/', '.test:389/')}??sub, under base_dn" in run.out
    assert "Ignoring Active Directory's reference to its partition ldap://e2e.test:389/dc=DomainDnsZones" in run.out
    assert "the directory read is incomplete: 1 referral(s)" in run.out and "ignore_referrals" in run.out
    users = await setup.users()
    for gone in ("gone1", "gone2"):  # the users behind the referral look gone, and are kept as they are
        assert users[email(gone)] == before[email(gone)]
    assert users[email("carol")] == before[email("carol")]  # no mapped group removed (her stale Sales Team)

    setup.write(ldap={"ignore_referrals": True})  # the documented opt-out: the read counts as complete
    run = await setup.sync(*REMOVE)
    assert run.code == 0, run.out + run.err
    assert "(ignore_referrals: true)" in run.out
    assert email("gone1") not in await setup.users()


async def test_active_directory_partition_references_alone_are_expected(
        tmp_path: Path, org: SandboxServer, directory_with: Callable[..., LocalSlapd]) -> None:
    directory = directory_with(referrals=referral_ldif("dc=DomainDnsZones", AD_PARTITION_URL)
                               + referral_ldif("dc=ForestDnsZones", f"ldap://e2e.test/DC=ForestDnsZones,{BASE_DN}"))
    setup = Setup(tmp_path, directory, org)
    setup.write()
    run = await setup.sync(*REMOVE)
    assert run.code == 0, run.out + run.err
    assert run.out.count("Ignoring Active Directory's reference to its partition") == 2
    assert email("gone1") not in await setup.users()


async def test_an_entry_that_cannot_be_decoded_keeps_its_adobe_account_untouched(
        tmp_path: Path, org: SandboxServer, directory_with: Callable[..., LocalSlapd]) -> None:
    # Zoë Ångström (in Adobe) and Yann Ørsted (not) are in Sales, but their names are not ASCII.
    directory = directory_with(more_sales=(("zoe", "Zoë", "Ångström"), ("yann", "Yann", "Ørsted")))
    setup = Setup(tmp_path, directory, org)
    setup.write(ldap={"string_encoding": "ascii"})
    run = await setup.sync(*REMOVE, "--update-user-info")
    assert run.code == 0, run.out + run.err
    users = await setup.users()
    assert users[email("zoe")] == ["Other Team", "Sales Team"]  # not removed, nothing added or taken away
    assert email("yann") not in users  # not created
    assert email("gone1") not in users  # the others still go on
    assert (f"Directory user with DN 'uid=zoe,ou=people,{BASE_DN}' cannot be read (attribute 'givenName' cannot be "
            "decoded with string_encoding ascii)") in run.out
    assert f"uid=yann,ou=people,{BASE_DN}" in run.out
    assert "zoe" not in "".join(line for line in run.out.splitlines() if "user key" in line)


async def test_an_entry_whose_email_cannot_be_decoded_makes_the_read_incomplete(
        tmp_path: Path, org: SandboxServer, directory_with: Callable[..., LocalSlapd]) -> None:
    directory = directory_with(more_sales=(("zoe", "Zoë", "Ångström"),))
    setup = Setup(tmp_path, directory, org)
    setup.write(ldap={"string_encoding": "ascii", "user_email_format": "{givenName}@e2e.test"})
    before = await setup.users()
    run = await setup.sync(*REMOVE)
    assert run.code == 3, run.out + run.err
    assert f"the entry with DN 'uid=zoe,ou=people,{BASE_DN}' cannot be identified: attribute 'givenName'" in run.out
    users = await setup.users()
    assert users[email("gone1")] == before[email("gone1")] and users[email("zoe")] == before[email("zoe")]


async def test_a_csv_row_with_an_unusable_value_keeps_its_adobe_account_untouched(setup: Setup) -> None:
    users_file = setup.folder / "users.csv"
    users_file.write_text(f"email,groups,type\n{email('alice')},Sales,\n{email('gone1')},Engineering,martianID\n")
    run = await setup.sync("--users", "file", str(users_file), "--process-groups", "--adobe-only-user-action", "remove")
    assert run.code == 0, run.out + run.err
    users = await setup.users()
    assert users[email("gone1")] == ["Other Team", "Sales Team"]  # neither removed nor moved to Eng Team
    assert email("gone2") not in users
    assert f"Directory user at line 3 of {users_file} cannot be read (column 'type': unknown identity type" in run.out


async def test_a_one_megabyte_cell_keeps_only_its_users_adobe_account_untouched(setup: Setup) -> None:
    """Issue 14: a 1 MB cell stopped the whole read (exit 3) before the per-user checks."""
    users_file = setup.folder / "users.csv"
    users_file.write_text(f"email,groups,firstname,lastname\n{email('bob')},Engineering,Bob,Tester\n"
                          f"{email('gone1')},Engineering,Gone,\"{'x' * 1_000_000}\"\n{email('dave')},Sales,Dave,Tester\n")
    run = await setup.sync("--users", "file", str(users_file), "--process-groups", "--adobe-only-user-action", "remove")
    assert run.code == 0, run.out + run.err
    users = await setup.users()
    assert users[email("gone1")] == ["Other Team", "Sales Team"]  # neither removed nor moved to Eng Team
    assert users[email("bob")] == ["Eng Team", "Photoshop"] and users[email("dave")] == ["Sales Team"]
    assert (f"Directory user at line 3 of {users_file} cannot be read (column 'lastname' holds 1,000,000 characters, "
            "over the limit of 131,072") in run.out


async def test_an_empty_users_file_is_a_failed_read(setup: Setup) -> None:
    users_file = setup.folder / "users.csv"
    users_file.write_bytes(b"")
    before = await setup.users()
    run = await setup.sync("--users", "file", str(users_file), "--process-groups", "--adobe-only-user-action", "remove")
    assert run.code == 3, run.out + run.err
    assert f"the CSV file {users_file} is empty" in run.out
    assert await setup.users() == before


@pytest.mark.parametrize("in_process", ["0", "1"])
async def test_two_entries_with_one_email_are_one_user_with_both_groups(
        tmp_path: Path, org: SandboxServer, directory_with: Callable[..., LocalSlapd], monkeypatch,
        in_process: str) -> None:
    """carol (in Adobe: Sales Team, Eng Team, Photoshop, Other Team) is in Engineering; a second
    entry with her email is in Sales: she keeps every group, and nothing flaps."""
    monkeypatch.setenv("ASYNC_USERSYNC_LDAP_IN_PROCESS", in_process)
    directory = directory_with(more_sales=(("carol2", "Carol", "Tester", email("carol")),))
    setup = Setup(tmp_path, directory, org)
    setup.write()
    run = await setup.sync("--users", "mapped", "--process-groups")
    assert run.code == 0, run.out + run.err
    users = await setup.users()
    assert users[email("carol")] == ["Eng Team", "Other Team", "Photoshop", "Sales Team"]
    assert "carol" not in "".join(line for line in run.out.splitlines() if "user key" in line)  # no flap, no create
    assert (f"Directory entries 'uid=carol,ou=people,{BASE_DN}' and 'uid=carol2,ou=people,{BASE_DN}' have the same "
            f"email or username" in run.out or f"Directory entries 'uid=carol2,ou=people,{BASE_DN}' and "
            f"'uid=carol,ou=people,{BASE_DN}' have the same email or username" in run.out)

    posts = await setup.requests("action")
    again = await setup.sync("--users", "mapped", "--process-groups")
    assert again.code == 0, again.out + again.err
    assert again.summary()["Number of UMAPI actions sent (total, success, error)"] == "(0, 0, 0)"
    assert await setup.requests("action") == posts


async def test_a_read_whose_every_entry_lacks_an_email_is_a_failed_read(setup: Setup) -> None:
    """A wrong email format (an attribute no entry has) skipped every entry, so the first run took the
    whole org for Adobe-only users and removed them."""
    setup.write(ldap={"user_email_format": "{email}"})  # inetOrgPerson has mail, not email
    before = await setup.users()
    run = await setup.sync(*REMOVE)
    assert run.code == 3, run.out + run.err
    assert "no entry read has a valid email address" in run.out and "check user_email_format '{email}'" in run.out
    assert await setup.users() == before


async def test_a_users_file_whose_email_column_is_empty_is_a_failed_read(setup: Setup) -> None:
    users_file = setup.folder / "users.csv"
    users_file.write_text("email,groups\n,Sales\n ,Engineering\n")
    before = await setup.users()
    run = await setup.sync("--users", "file", str(users_file), "--process-groups", "--adobe-only-user-action", "remove")
    assert run.code == 3, run.out + run.err
    assert f"check the column 'email' of {users_file}" in run.out
    assert await setup.users() == before


async def test_some_entries_without_an_email_are_skipped_and_the_read_goes_on(setup: Setup) -> None:
    users_file = setup.folder / "users.csv"
    users_file.write_text(f"email,groups\n,Sales\n{email('bob')},Engineering\n")
    run = await setup.sync("--users", "file", str(users_file), "--process-groups")
    assert run.code == 0, run.out + run.err
    assert "Skipping user at line 2" in run.out and "no entry read has a valid email" not in run.out
