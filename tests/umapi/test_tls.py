"""Whom the client trusts over TLS: server.ca_file, then REQUESTS_CA_BUNDLE / SSL_CERT_FILE, then the system."""

from __future__ import annotations

import logging

import pytest

from async_usersync.umapi import UmapiClient, UmapiError
from tests.umapi.conftest import client_settings


@pytest.fixture(autouse=True)
def no_bundle_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(variable, raising=False)


async def user_count(settings) -> int:
    async with UmapiClient(settings) as client:
        return len([user async for user in client.users()])


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
async def test_a_ca_bundle_named_in_the_environment_is_trusted(sandbox, monkeypatch, variable: str) -> None:
    settings = client_settings(sandbox, ca_file=None)
    with pytest.raises(UmapiError, match="not trusted"):
        await user_count(settings)
    monkeypatch.setenv(variable, str(sandbox.ca_cert))
    assert await user_count(settings) == 20


async def test_server_ca_file_wins_over_the_environment(sandbox_factory, monkeypatch) -> None:
    server, other = await sandbox_factory(), await sandbox_factory()
    monkeypatch.setenv("SSL_CERT_FILE", str(other.ca_cert))  # a valid bundle, but not this server's CA
    assert await user_count(client_settings(server)) == 20
    with pytest.raises(UmapiError, match="not trusted"):
        await user_count(client_settings(server, ca_file=None))


async def test_turning_verification_off_warns_loudly(sandbox, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="async_usersync")
    assert await user_count(client_settings(sandbox, ca_file=None, ssl_verify=False)) == 20
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert any("verification is OFF for UMAPI and Adobe IMS" in message and "anyone on the network path" in message
               for message in warnings), warnings
