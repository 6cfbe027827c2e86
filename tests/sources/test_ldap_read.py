"""Reading users from a real slapd: selections, groups, formats and values."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from async_usersync.records import IdentityType
from async_usersync.sources.base import UserSelection
from async_usersync.sources.ldap import LdapSettings, LdapSource
from async_usersync.sources.local_slapd import LocalSlapd
from tests.sources.helpers import collect, ldap_config
from tests.support.slapd import BIG_GROUP_SIZE, METACHAR_GROUP


def source(tmp_path: Path, slapd: LocalSlapd, **keys) -> LdapSource:
    return LdapSource(LdapSettings.from_config(ldap_config(tmp_path, slapd, **keys)), IdentityType.FEDERATED_ID)


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
