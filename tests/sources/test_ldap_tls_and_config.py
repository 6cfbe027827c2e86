"""TLS (ldaps:// and StartTLS against a private CA) and reading connector-ldap.yml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from async_usersync.config.settings import UserSelection
from async_usersync.errors import ConfigError, ReadError
from async_usersync.records import IdentityType
from async_usersync.demo.slapd import LocalSlapd
from async_usersync.sources.ldap import LdapSource
from tests.sources.helpers import collect, ldap_config, ldap_settings

SALES = UserSelection("group", ("Sales",))


def source(tmp_path: Path, slapd: LocalSlapd, **keys) -> LdapSource:
    return LdapSource(ldap_settings(tmp_path, slapd, **keys), IdentityType.FEDERATED_ID)


async def test_ldaps_with_the_private_ca_given_relative_to_the_config(tmp_path: Path, slapd: LocalSlapd) -> None:
    (tmp_path / "ca.pem").write_bytes(slapd.ca_cert_file.read_bytes())
    ldap = source(tmp_path, slapd, host=slapd.ldaps_url, ca_cert_file="ca.pem")
    assert ldap.settings.ca_cert_file == tmp_path / "ca.pem"
    assert set(await collect(ldap.users(SALES))) == {"alice@example.org", "bob@example.org"}


async def test_start_tls_with_require_tls_cert(tmp_path: Path, slapd: LocalSlapd) -> None:
    ldap = source(tmp_path, slapd, require_tls_cert=True, ca_cert_file=str(slapd.ca_cert_file))
    assert ldap.settings.uses_start_tls
    assert len(await collect(ldap.users(SALES))) == 2


@pytest.mark.parametrize("scheme_keys", [{"host": "ldaps"}, {"require_tls_cert": True}])
async def test_an_untrusted_certificate_is_refused(tmp_path: Path, slapd: LocalSlapd, scheme_keys: dict) -> None:
    keys = {**scheme_keys, "host": slapd.ldaps_url if "host" in scheme_keys else slapd.url}
    with pytest.raises(ReadError, match="TLS with the LDAP server .* not trusted .*ca_cert_file"):
        await collect(source(tmp_path, slapd, **keys).users(SALES))


def test_verification_can_be_turned_off_and_then_stays_refused(tmp_path: Path, slapd: LocalSlapd) -> None:
    """In a process of its own: libldap keeps 'no verification' for the whole process, so the
    source refuses a verifying connection after it (and this test process stays verifying)."""
    unverified = ldap_config(tmp_path / "off", slapd, host=slapd.ldaps_url, tls_verify=False)
    verified = ldap_config(tmp_path / "on", slapd, host=slapd.ldaps_url)
    script = f"""
import asyncio
from async_usersync.config.connector_ldap import read_connector_ldap
from async_usersync.config.settings import UserSelection
from async_usersync.errors import ReadError
from async_usersync.records import IdentityType
from async_usersync.sources.ldap import LdapSource

async def count(file):
    source = LdapSource(read_connector_ldap(file)[0], IdentityType.FEDERATED_ID)
    return len([user async for user in source.users(UserSelection("group", ("Sales",)))])

print(asyncio.run(count({str(unverified)!r})))
try:
    asyncio.run(count({str(verified)!r}))
except ReadError as error:
    print(error)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.splitlines()
    assert first == "2"
    assert "tls_verify: false" in second and "start a new process" in second


class MemoryKeyring(KeyringBackend):
    """A real keyring backend that keeps its entries in memory (no OS keyring runs here)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


async def test_bind_password_from_the_keyring_under_the_username(tmp_path: Path, slapd: LocalSlapd) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        keyring.set_password("ldap-bind", slapd.admin_dn, slapd.admin_password)
        ldap = source(tmp_path, slapd, password=None, secure_password_key="ldap-bind")
        assert len(await collect(ldap.users(SALES))) == 2
        with pytest.raises(ConfigError, match="key 'secure_password_key': no keyring entry for service 'other'"):
            source(tmp_path, slapd, password=None, secure_password_key="other")
    finally:
        keyring.set_keyring(previous)


def test_active_directory_nested_membership_rule_is_accepted(tmp_path: Path, slapd: LocalSlapd) -> None:
    nested = "(memberOf:1.2.840.113556.1.4.1941:={group_dn})"
    settings = ldap_settings(tmp_path, slapd, group_member_filter_format=nested)
    source = LdapSource(settings, IdentityType.FEDERATED_ID)
    assert source.member_filter("cn=R&D (x),dc=ad") == (
        "(&(memberOf:1.2.840.113556.1.4.1941:=cn=R&D \\28x\\29,dc=ad)(objectClass=inetOrgPerson))")
