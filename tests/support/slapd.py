"""Fixtures that start a real OpenLDAP server (slapd) on a free loopback port.

``slapd`` (session scoped) serves ldap:// (with StartTLS) and ldaps:// from a private CA
(``slapd.ca_cert_file``) and holds DIRECTORY_LDIF: users, groupOfNames (one nested, one of
1,600 members, one whose name has filter metacharacters), a posixGroup, the memberOf overlay,
non-ASCII names and a user without mail. ``fresh_slapd`` is an empty one of its own, for tests
that pause or break the server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from async_usersync.demo.slapd import LocalSlapd, start_slapd
from async_usersync.demo.directory_data import generated_users, group_ldif, people_ou_ldif, user_ldif

BASE_DN = "dc=example,dc=org"
PEOPLE = f"ou=people,{BASE_DN}"
GROUPS = f"ou=groups,{BASE_DN}"
BIG_GROUP_SIZE = 1600
METACHAR_GROUP = "R&D (core) *all* \\ team"
"""A group name with every filter metacharacter but NUL (a DN cannot hold NUL)."""
READER_DN = f"cn=reader,{BASE_DN}"
READER_PASSWORD = "reader-secret"


def user_dn(uid: str) -> str:
    return f"uid={uid},{PEOPLE}"


def directory_ldif() -> str:
    people = [
        user_ldif(BASE_DN, "alice", "Alice", "Smith", "alice@example.org", "us",
                  extra={"employeeNumber": "0123", "employeeType": "federated"}),
        user_ldif(BASE_DN, "bob", "Bob", "Jones", "bob@example.org", "DE", extra={"employeeType": "enterprise"}),
        user_ldif(BASE_DN, "carol", "Carol", "White", "carol@example.org", "fr"),
        user_ldif(BASE_DN, "zoe", "Zoë", "Ångström", "zoe@example.org", "se", extra={"employeeType": "nonsense"}),
        user_ldif(BASE_DN, "nomail", "No", "Mail", None),
    ]
    big_members = [user_dn(f"user{number:07d}") for number in range(BIG_GROUP_SIZE)]
    groups = [
        group_ldif(BASE_DN, "Sales", [user_dn("alice"), user_dn("bob"), user_dn("nomail")]),
        group_ldif(BASE_DN, "Platform", [user_dn("carol")]),
        group_ldif(BASE_DN, "Engineering", [user_dn("bob"), user_dn("zoe"), f"cn=Platform,{GROUPS}"]),
        group_ldif(BASE_DN, "Big", big_members),
        f"dn: cn={METACHAR_GROUP.replace(chr(92), chr(92) + '5C')},{GROUPS}\nobjectClass: groupOfNames\n"
        f"cn: {METACHAR_GROUP}\nmember: {user_dn('zoe')}\n\n",
        group_ldif(BASE_DN, "Twin", [user_dn("alice")]),
        group_ldif(BASE_DN, "Twin", [user_dn("bob")], ou="moregroups"),
        "dn: cn=posix-team,ou=groups,dc=example,dc=org\nobjectClass: posixGroup\ncn: posix-team\n"
        "gidNumber: 5000\nmemberUid: alice\n\n",
    ]
    return "".join([
        people_ou_ldif(BASE_DN),
        *people,
        *generated_users(BASE_DN, BIG_GROUP_SIZE),
        people_ou_ldif(BASE_DN, "groups"),
        people_ou_ldif(BASE_DN, "moregroups"),
        f"dn: {READER_DN}\nobjectClass: person\ncn: reader\nsn: reader\nuserPassword: {READER_PASSWORD}\n\n",
        *groups,
    ])


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSlapd]:
    server = start_slapd(tmp_path_factory.mktemp("slapd"), BASE_DN)
    try:
        server.add_ldif(directory_ldif())  # online, so the memberOf overlay fills memberOf
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_slapd(tmp_path: Path) -> Iterator[LocalSlapd]:
    server = start_slapd(tmp_path / "slapd", BASE_DN)
    try:
        server.add_ldif(people_ou_ldif(BASE_DN) + user_ldif(BASE_DN, "alice", "Alice", "Smith", "alice@example.org"))
        yield server
    finally:
        server.stop()
