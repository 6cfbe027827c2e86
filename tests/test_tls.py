"""Trusting the sandbox's self-signed certificate through each way of naming a CA bundle."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

from async_usersync.errors import ConfigError
from async_usersync.sandbox import SandboxServer
from async_usersync.tls import TlsKeys, TlsTrust


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


async def test_the_remedy_names_the_bundle_in_use_or_the_key_to_set(sandbox: SandboxServer, tmp_path: Path) -> None:
    """Issue 14: the remedy names the keys actually involved, as the config readers word them."""
    keys = TlsKeys("server.ssl_verify in /etc/c.yml", "server.ca_file in /etc/c.yml")
    other = tmp_path / "other.pem"
    other.write_bytes(b"")
    from_environment = TlsTrust.resolve(keys=keys, environ={"SSL_CERT_FILE": str(other)})
    assert from_environment.untrusted("UMAPI at h", "self-signed") == (
        f"the TLS certificate of UMAPI at h is not trusted (self-signed); add the CA that signed it to {other} "
        "(named by the environment variable SSL_CERT_FILE); set server.ssl_verify in /etc/c.yml to false only for "
        "a test server")
    assert TlsTrust.resolve(keys=keys, environ={}).remedy() == (
        "give the CA that signed it in server.ca_file in /etc/c.yml (or REQUESTS_CA_BUNDLE / SSL_CERT_FILE); set "
        "server.ssl_verify in /etc/c.yml to false only for a test server")
    ldap_keys = TlsKeys("tls_verify in /etc/l.yml", "ca_cert_file in /etc/l.yml", environment=False)
    assert TlsTrust.resolve(keys=ldap_keys, environ={"SSL_CERT_FILE": str(other)}).ca_bundle is None  # libldap's own
