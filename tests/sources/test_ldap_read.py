"""Reading users from a real slapd: selections, groups, formats and values."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from async_usersync.config.settings import UserSelection
from async_usersync.errors import ReadError
from async_usersync.records import IdentityType, UnreadableDirectoryUser
from async_usersync.demo.slapd import LocalSlapd
from async_usersync.sources.ldap import LdapSource
from tests.sources.helpers import collect, ldap_settings
from tests.support.slapd import BIG_GROUP_SIZE, METACHAR_GROUP


def source(tmp_path: Path, slapd: LocalSlapd, **keys) -> LdapSource:
    return LdapSource(ldap_settings(tmp_path, slapd, **keys), IdentityType.FEDERATED_ID)


async def test_all_users_are_read_once_with_their_values(tmp_path: Path, slapd: LocalSlapd, caplog) -> None:
    caplog.set_level(logging.WARNING, "async_usersync.sources")
    users = await collect(source(tmp_path, slapd).users(UserSelection("all")))
    assert len(users) == 4 + BIG_GROUP_SIZE  # everyone but the user without mail
    zoe = users["zoe@example.org"]
    assert (zoe.firstname, zoe.lastname, zoe.country) == ("Zoë", "Ångström", "SE")
    assert (zoe.username, zoe.domain, zoe.identity_type) == ("zoe@example.org", None, IdentityType.FEDERATED_ID)
    assert zoe.groups == frozenset()
    assert zoe.source_attributes == {"mail": "zoe@example.org", "givenName": "Zoë", "sn": "Ångström", "c": "se"}
    assert "uid=nomail,ou=people,dc=example,dc=org" in caplog.text
    assert "no valid email" in caplog.text


async def test_mapped_groups_read_only_their_members_each_once_with_all_groups(tmp_path: Path, slapd: LocalSlapd) -> None:
    selection = UserSelection("mapped", ("Sales", "Engineering", METACHAR_GROUP))
    users = await collect(source(tmp_path, slapd).users(selection))
    assert {email: set(user.groups) for email, user in users.items()} == {
        "alice@example.org": {"Sales"},
        "bob@example.org": {"Sales", "Engineering"},
        "zoe@example.org": {"Engineering", METACHAR_GROUP},
    }


async def test_one_group_of_1600_members_streams_all(tmp_path: Path, slapd: LocalSlapd) -> None:
    users = await collect(source(tmp_path, slapd, search_page_size=300).users(UserSelection("group", ("Big",))))
    assert len(users) == BIG_GROUP_SIZE
    assert all(user.groups == {"Big"} for user in users.values())


async def test_all_with_groups_labels_members(tmp_path: Path, slapd: LocalSlapd) -> None:
    users = await collect(source(tmp_path, slapd).users(UserSelection("all", ("Sales", "Engineering"))))
    assert len(users) == 4 + BIG_GROUP_SIZE
    assert users["bob@example.org"].groups == {"Sales", "Engineering"}
    assert users["carol@example.org"].groups == frozenset()


async def test_formats_keep_raw_values_and_per_user_identity_type(tmp_path: Path, slapd: LocalSlapd, caplog) -> None:
    caplog.set_level(logging.WARNING, "async_usersync.sources")
    ldap = source(tmp_path, slapd, user_username_format="{employeeNumber}", user_domain_format="corp.example.org",
                  user_identity_type_format="{employeeType}ID", user_country_code_format="{c}")
    users = await collect(ldap.users(UserSelection("group", ("Sales", "Engineering"))))
    alice, bob = users["alice@example.org"], users["bob@example.org"]
    assert (alice.username, alice.domain, alice.identity_type) == ("0123", "corp.example.org", IdentityType.FEDERATED_ID)
    assert alice.source_attributes["employeeNumber"] == "0123"  # not the int 123
    assert bob.username == "bob@example.org" and bob.identity_type == IdentityType.ENTERPRISE_ID
    zoe = users["zoe@example.org"]  # employeeType 'nonsense' is no identity type
    assert isinstance(zoe, UnreadableDirectoryUser) and zoe.where == "with DN 'uid=zoe,ou=people,dc=example,dc=org'"
    assert "user_identity_type_format '{employeeType}ID'" in zoe.problem and "nonsenseID" in zoe.problem


async def test_connector_identity_type_and_literal_text_in_formats(tmp_path: Path, slapd: LocalSlapd) -> None:
    ldap = source(tmp_path, slapd, user_identity_type="enterpriseID", user_email_format="{uid}@corp.example.org")
    users = await collect(ldap.users(UserSelection("group", ("Sales",))))
    assert set(users) == {"alice@corp.example.org", "bob@corp.example.org", "nomail@corp.example.org"}
    assert {user.identity_type for user in users.values()} == {IdentityType.ENTERPRISE_ID}


async def test_dynamic_group_member_attribute_adds_direct_group_names(tmp_path: Path, slapd: LocalSlapd) -> None:
    ldap = source(tmp_path, slapd, dynamic_group_member_attribute="memberOf")
    users = await collect(ldap.users(UserSelection("group", ("Engineering",))))
    assert users["zoe@example.org"].groups == {"Engineering", METACHAR_GROUP}
    assert users["bob@example.org"].groups == {"Engineering", "Sales", "Twin"}


@pytest.mark.parametrize("nested, expected", [
    (False, {"bob@example.org", "zoe@example.org"}),
    (True, {"bob@example.org", "zoe@example.org", "carol@example.org"}),
])
async def test_two_steps_lookup_reads_members_and_nested_groups(tmp_path: Path, slapd: LocalSlapd, nested: bool,
                                                                expected: set[str]) -> None:
    ldap = source(tmp_path, slapd, two_steps_lookup={"group_member_attribute_name": "member", "nested_group": nested})
    users = await collect(ldap.users(UserSelection("mapped", ("Engineering", "Sales"))))
    assert set(users) == expected | {"alice@example.org"}
    assert users["bob@example.org"].groups == {"Engineering", "Sales"}


async def test_two_steps_lookup_warns_when_a_group_has_no_member_attribute(tmp_path: Path, slapd: LocalSlapd,
                                                                           caplog) -> None:
    """A misspelt group_member_attribute_name read every mapped group as empty without a word, so a
    --process-groups run took the mapped groups from everyone."""
    caplog.set_level(logging.WARNING, "async_usersync.sources")
    ldap = source(tmp_path, slapd, two_steps_lookup={"group_member_attribute_name": "membr"})
    assert await collect(ldap.users(UserSelection("mapped", ("Engineering",)))) == {}
    assert ("The group Engineering (cn=Engineering,ou=groups,dc=example,dc=org) has no 'membr' values "
            "(two_steps_lookup.group_member_attribute_name of the LDAP connector): it is read as a group "
            "without members") in caplog.text


async def test_two_steps_lookup_of_a_large_group_and_all(tmp_path: Path, slapd: LocalSlapd) -> None:
    ldap = source(tmp_path, slapd, two_steps_lookup={"group_member_attribute_name": "member"})
    big = await collect(ldap.users(UserSelection("group", ("Big",))))
    assert len(big) == BIG_GROUP_SIZE
    everyone = await collect(ldap.users(UserSelection("all", ("Sales",))))
    assert len(everyone) == 4 + BIG_GROUP_SIZE
    assert everyone["alice@example.org"].groups == {"Sales"} and everyone["zoe@example.org"].groups == frozenset()


async def test_missing_groups_warn_and_posix_groups_resolve(tmp_path: Path, slapd: LocalSlapd, caplog) -> None:
    caplog.set_level(logging.WARNING, "async_usersync.sources")
    missing: list[str] = []
    selection = UserSelection("group", ("Nobody\x00*", "posix-team", "Sales"))
    users = await collect(source(tmp_path, slapd).users(selection, missing.append))
    assert set(users) == {"alice@example.org", "bob@example.org"}
    assert "No group found for: Nobody" in caplog.text
    assert missing == ["Nobody\x00*"]
    assert "posix-team" not in caplog.text


async def test_anonymous_and_non_admin_binds(tmp_path: Path, slapd: LocalSlapd) -> None:
    from tests.support.slapd import READER_DN, READER_PASSWORD
    anonymous = source(tmp_path, slapd, username=None, password=None)
    assert anonymous.settings.authentication_method == "anonymous"
    assert len(await collect(anonymous.users(UserSelection("group", ("Sales",))))) == 2
    reader = source(tmp_path, slapd, username=READER_DN, password=READER_PASSWORD)
    assert len(await collect(reader.users(UserSelection("group", ("Sales",))))) == 2


async def test_unpaged_search(tmp_path: Path, slapd: LocalSlapd) -> None:
    users = await collect(source(tmp_path, slapd, search_page_size=0).users(UserSelection("all")))
    assert len(users) == 4 + BIG_GROUP_SIZE


async def test_stopping_early_releases_the_connections(tmp_path: Path, slapd: LocalSlapd) -> None:
    ldap = source(tmp_path, slapd, search_page_size=100)
    stream = ldap.users(UserSelection("all"))
    first = [await stream.__anext__() for _ in range(150)]
    await stream.aclose()
    assert len({user.email for user in first}) == 150
    assert len(await collect(ldap.users(UserSelection("all")))) == 4 + BIG_GROUP_SIZE


async def test_mapped_groups_are_read_without_a_full_scan(tmp_path: Path) -> None:
    """The searches the server receives: the base check, one lookup per group, one DN-only pass
    and one member search per group (two groups selected), never all_users_filter alone."""
    from async_usersync.demo.slapd import start_slapd
    from tests.support.slapd import BASE_DN, directory_ldif
    server = start_slapd(tmp_path / "slapd", BASE_DN, log_searches=True)
    try:
        server.add_ldif(directory_ldif())
        users = await collect(source(tmp_path, server).users(UserSelection("mapped", ("Sales", "Engineering"))))
        filters = [search_filter for _, search_filter in server.searches()]
    finally:
        server.stop()
    assert set(users) == {"alice@example.org", "bob@example.org", "zoe@example.org"}
    # slapd logs filters normalised: values lower-cased, an attribute it does not know marked '?'.
    lookups = [f"(&(|(?objectCategory=group)(objectClass=groupOfNames)(objectClass=posixGroup))(cn={name}))"
               for name in ("sales", "engineering")]
    member_searches = [f"(&(memberOf=cn={name},ou=groups,dc=example,dc=org)(objectClass=inetOrgPerson))"
                       for name in ("sales", "engineering")]
    assert filters[0] == "(objectClass=*)"
    assert sorted(filters[1:3]) == sorted(lookups)
    assert sorted(filters[3:5]) == sorted(member_searches)  # the DN-only pass
    assert filters[5:] == member_searches


async def test_a_value_that_does_not_decode_makes_the_user_unreadable_naming_dn_and_attribute(
        tmp_path: Path, slapd: LocalSlapd) -> None:
    users = await collect(source(tmp_path, slapd, string_encoding="ascii").users(UserSelection("group", ("Engineering",))))
    assert set(users) == {"bob@example.org", "zoe@example.org"}  # Zoë Ångström is not ASCII
    zoe = users["zoe@example.org"]
    assert isinstance(zoe, UnreadableDirectoryUser)
    assert (zoe.where, zoe.username, zoe.domain) == ("with DN 'uid=zoe,ou=people,dc=example,dc=org'", "zoe@example.org", None)
    assert zoe.problem == "attribute 'givenName' cannot be decoded with string_encoding ascii"


async def test_an_entry_whose_email_does_not_decode_makes_the_read_incomplete(tmp_path: Path, slapd: LocalSlapd,
                                                                               caplog) -> None:
    caplog.set_level(logging.ERROR, "async_usersync.sources")
    ldap = source(tmp_path, slapd, string_encoding="ascii", user_email_format="{givenName}@example.org")
    with pytest.raises(ReadError, match=r"incomplete: 1 entry could not be identified \(the entry with DN "
                                        r"'uid=zoe,ou=people,dc=example,dc=org' cannot be identified: attribute 'givenName'"):
        await collect(ldap.users(UserSelection("group", ("Engineering",))))
    assert "uid=zoe,ou=people,dc=example,dc=org" in caplog.text
