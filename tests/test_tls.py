"""Trusting the sandbox's self-signed certificate through each way of naming a CA bundle."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

from async_usersync.errors import ConfigError
from async_usersync.sandbox import SandboxServer
from async_usersync.tls import TlsTrust


async def fetch(server: SandboxServer, trust: TlsTrust) -> int:
    async with aiohttp.ClientSession() as session:
        async with session.get(server.base_url, ssl=trust.ssl_context("the sandbox")) as response:
            return response.status


async def test_the_systems_store_does_not_trust_the_sandbox(sandbox: SandboxServer) -> None:
    with pytest.raises(aiohttp.ClientConnectorCertificateError, match="CERTIFICATE_VERIFY_FAILED"):
        await fetch(sandbox, TlsTrust.resolve(environ={}))


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
async def test_a_bundle_from_the_environment_is_trusted(sandbox: SandboxServer, variable: str) -> None:
    trust = TlsTrust.resolve(environ={variable: str(sandbox.ca_cert)})
    assert (trust.ca_bundle, trust.source) == (sandbox.ca_cert, f"the environment variable {variable}")
    assert await fetch(sandbox, trust) < 500


async def test_the_config_option_wins_over_the_environment(sandbox: SandboxServer, tmp_path: Path) -> None:
    trust = TlsTrust.resolve(ca_bundle=sandbox.ca_cert, environ={"REQUESTS_CA_BUNDLE": "/nonexistent.pem"})
    assert trust.source == "ca_file"
    assert await fetch(sandbox, trust) < 500
    with pytest.raises(ConfigError, match="the CA bundle /nonexistent.pem named by the environment variable "
                                          "REQUESTS_CA_BUNDLE does not exist"):
        TlsTrust.resolve(environ={"REQUESTS_CA_BUNDLE": "/nonexistent.pem"})
    broken = tmp_path / "broken.pem"
    broken.write_text("not a certificate")
    with pytest.raises(ConfigError, match=f"the CA bundle {broken} named by ca_file cannot be loaded"):
        TlsTrust.resolve(ca_bundle=broken).ssl_context("UMAPI")


async def test_verification_off_connects_and_warns_loudly(sandbox: SandboxServer, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="async_usersync.tls"):
        assert await fetch(sandbox, TlsTrust.resolve(verify=False, environ={})) < 500
    assert caplog.records[0].levelname == "WARNING"
    assert caplog.records[0].getMessage().startswith("TLS certificate verification is OFF for the sandbox")
