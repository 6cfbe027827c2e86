"""Issue 14: one TLS warning and one remedy for LDAP, Adobe IMS and UMAPI, each naming the key that
was actually set, with its file (real slapd over ldaps://, the sandbox's self-signed certificate, the
real command). See conftest.py for the directory and the org."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import Run, Setup

OFF = "TLS certificate verification is OFF for"


def warnings_of(run: Run) -> list[str]:
    return [line for line in run.out.splitlines() if OFF in line]


def key(setup: Setup, file: str, name: str) -> str:
    return f"{name} in {setup.folder / file}"


async def test_umapi_verification_off_in_server_ssl_verify_warns_naming_that_key(setup: Setup) -> None:
    setup.write(server={"ssl_verify": False, "ca_file": None})
    run = await setup.sync("--users", "mapped")
    assert run.code == 0, run.out + run.err
    [warning] = warnings_of(run)
    assert f"UMAPI and Adobe IMS ({key(setup, 'connector-umapi.yml', 'server.ssl_verify')} is false)" in warning
    assert "ssl_cert_verify" not in warning


async def test_umapi_verification_off_in_invocation_defaults_warns_naming_that_key(setup: Setup) -> None:
    setup.write(main={"invocation_defaults": {"ssl_cert_verify": False}}, server={"ca_file": None})
    run = await setup.sync("--users", "mapped")
    assert run.code == 0, run.out + run.err
    [warning] = warnings_of(run)
    assert f"({key(setup, 'user-sync-config.yml', 'invocation_defaults.ssl_cert_verify')} is false)" in warning


async def test_ldap_verification_off_warns_naming_tls_verify(setup: Setup) -> None:
    setup.write(ldap={"host": setup.directory.ldaps_url, "tls_verify": False})
    run = await setup.sync("--users", "mapped")
    assert run.code == 0, run.out + run.err
    [warning] = warnings_of(run)
    assert (f"{OFF} the LDAP server at {setup.directory.ldaps_url} "
            f"({key(setup, 'connector-ldap.yml', 'tls_verify')} is false)") in warning
    assert f"in {key(setup, 'connector-ldap.yml', 'ca_cert_file')} instead" in warning


async def test_an_untrusted_ldap_certificate_names_ca_cert_file_and_tls_verify(setup: Setup) -> None:
    setup.write(ldap={"host": setup.directory.ldaps_url})
    run = await setup.sync("--users", "mapped")
    assert run.code == 3, run.out + run.err
    assert (f"give the CA that signed it in {key(setup, 'connector-ldap.yml', 'ca_cert_file')}; set "
            f"{key(setup, 'connector-ldap.yml', 'tls_verify')} to false only for a test server") in run.out
    assert "REQUESTS_CA_BUNDLE" not in run.out  # libldap does not read it


async def test_an_untrusted_ims_certificate_gets_the_remedy_naming_server_ca_file(setup: Setup, sandbox_factory) -> None:
    """IMS on a second sandbox whose certificate the bundle does not hold; UMAPI trusted."""
    ims = await sandbox_factory()
    setup.write(server={"auth_host": f"{ims.host}:{ims.port}"})
    run = await setup.sync("--users", "mapped")
    assert run.code == 3, run.out + run.err
    assert (f"the TLS certificate of Adobe IMS at {ims.host} is not trusted (") in run.out
    assert (f"add the CA that signed it to {setup.org.ca_cert} (named by "
            f"{key(setup, 'connector-umapi.yml', 'server.ca_file')}); set "
            f"{key(setup, 'connector-umapi.yml', 'server.ssl_verify')} to false only for a test server") in run.out


async def test_an_untrusted_umapi_certificate_gets_the_same_remedy(setup: Setup, sandbox_factory, tmp_path: Path) -> None:
    """IMS trusted (the bundle holds its CA), UMAPI on a second sandbox whose certificate it does not hold."""
    umapi = await sandbox_factory()
    setup.write(server={"host": f"{umapi.host}:{umapi.port}"})
    run = await setup.sync("--users", "mapped")
    assert run.code == 3, run.out + run.err
    assert f"the TLS certificate of UMAPI at {umapi.host} is not trusted (" in run.out
    assert (f"add the CA that signed it to {setup.org.ca_cert} (named by "
            f"{key(setup, 'connector-umapi.yml', 'server.ca_file')}); set "
            f"{key(setup, 'connector-umapi.yml', 'server.ssl_verify')} to false only for a test server") in run.out
