"""Failures end the read with a clear ReadError, never with a short list of users."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from async_usersync.config.settings import UserSelection
from async_usersync.errors import ReadError
from async_usersync.records import IdentityType
from async_usersync.demo.slapd import LocalSlapd, free_port
from async_usersync.demo.directory_data import generated_users
from async_usersync.sources.ldap import LdapSource
from tests.sources.helpers import collect, ldap_settings

ALL = UserSelection("all")


def source(tmp_path: Path, slapd: LocalSlapd, **keys) -> LdapSource:
    return LdapSource(ldap_settings(tmp_path, slapd, **keys), IdentityType.FEDERATED_ID)


async def test_unreachable_server(tmp_path: Path, slapd: LocalSlapd) -> None:
    url = f"ldap://127.0.0.1:{free_port()}"
    with pytest.raises(ReadError, match=f"cannot reach the LDAP server at {url}: .*refused"):
        await collect(source(tmp_path, slapd, host=url).users(ALL))


async def test_bad_password(tmp_path: Path, slapd: LocalSlapd) -> None:
    with pytest.raises(ReadError, match=r"refused the credentials of 'cn=admin,dc=example,dc=org' \(Invalid credentials"):
        await collect(source(tmp_path, slapd, password="wrong").users(ALL))


@pytest.mark.parametrize("page_size", [0, 100])
async def test_missing_base_dn(tmp_path: Path, slapd: LocalSlapd, page_size: int) -> None:
    with pytest.raises(ReadError, match="base_dn 'ou=gone,dc=example,dc=org' does not exist"):
        await collect(source(tmp_path, slapd, base_dn="ou=gone,dc=example,dc=org", search_page_size=page_size).users(ALL))


async def test_ambiguous_group_name(tmp_path: Path, slapd: LocalSlapd) -> None:
    with pytest.raises(ReadError, match="more than one group matches the name 'Twin'"):
        await collect(source(tmp_path, slapd).users(UserSelection("group", ("Twin",))))


async def test_a_page_that_times_out_ends_the_read(tmp_path: Path, fresh_slapd: LocalSlapd) -> None:
    """The server stops answering mid-read: the stream raises instead of ending short, and
    the event loop keeps running other tasks while the worker thread waits."""
    fresh_slapd.add_ldif("".join(generated_users(fresh_slapd.base_dn, 60)))
    ldap = source(tmp_path, fresh_slapd, search_page_size=10, search_timeout=1)
    received = []
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticking = asyncio.create_task(ticker())
    try:
        with pytest.raises(ReadError, match="did not answer within 1 s"):
            async for user in ldap.users(ALL):
                received.append(user)
                if len(received) == 1:
                    fresh_slapd.pause()
                    ticks = 0
    finally:
        fresh_slapd.resume()
        ticking.cancel()
    assert 0 < len(received) < 61
    assert ticks > 0


@pytest.mark.parametrize("scheme, message", [
    ("ldap", "did not complete the connection and bind within 1 s"),
    ("starttls", "did not complete the connection and bind within 1 s"),
    ("ldaps", "no TLS handshake within 1 s"),
])
async def test_a_server_that_accepts_but_never_answers(tmp_path: Path, fresh_slapd: LocalSlapd, scheme: str,
                                                      message: str) -> None:
    """TCP connects succeed (the kernel accepts them) but nothing answers. On ldaps:// bonsai
    would hold the GIL through the handshake and freeze the process: the probe catches it."""
    host = fresh_slapd.ldaps_url if scheme == "ldaps" else fresh_slapd.url
    ldap = source(tmp_path, fresh_slapd, host=host, require_tls_cert=scheme == "starttls",
                  ca_cert_file=str(fresh_slapd.ca_cert_file), connect_timeout=1, search_timeout=1)
    fresh_slapd.pause()
    try:
        with pytest.raises(ReadError, match=message):
            await collect(ldap.users(ALL))
    finally:
        fresh_slapd.resume()
