"""Helpers shared by the source tests: config sections written to real files, and collecting users."""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator

import yaml

from async_usersync.config.connector_ldap import read_connector_ldap
from async_usersync.config.settings import LdapSettings
from async_usersync.records import DirectoryUser
from async_usersync.demo.slapd import LocalSlapd


def ldap_settings(tmp_path: Path, slapd: LocalSlapd, **keys: Any) -> LdapSettings:
    """``ldap_config``'s file, read."""
    return read_connector_ldap(ldap_config(tmp_path, slapd, **keys))[0]


def ldap_config(tmp_path: Path, slapd: LocalSlapd, **keys: Any) -> Path:
    """A connector-ldap.yml for the test server, bound as admin, with inetOrgPerson users;
    a key given as None is left out."""
    data: dict[str, Any] = {
        "host": slapd.url, "base_dn": slapd.base_dn, "username": slapd.admin_dn, "password": slapd.admin_password,
        "all_users_filter": "(objectClass=inetOrgPerson)", "search_page_size": 500,
    }
    data.update(keys)
    data = {key: value for key, value in data.items() if value is not None}
    tmp_path.mkdir(parents=True, exist_ok=True)
    file = tmp_path / "connector-ldap.yml"
    file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf8")
    return file


async def collect(users: AsyncIterator[DirectoryUser]) -> dict[str, DirectoryUser]:
    """Users by email; fails on a user yielded twice."""
    by_email: dict[str, DirectoryUser] = {}
    async for user in users:
        assert user.email not in by_email, f"{user.email} yielded twice"
        by_email[user.email] = user
    return by_email
