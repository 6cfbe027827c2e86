"""connector-adobe-console.yml (issue 19): User Sync's keys, read by the same credential reader as
connector-umapi.yml, and the command line's TLS default applied where the file is silent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from async_usersync.config.connector_adobe_console import read_connector_adobe_console
from async_usersync.config.run_settings import load_run_settings
from async_usersync.config.settings import AdobeConsoleSettings
from async_usersync.errors import ConfigError
from async_usersync.records import IdentityType

CREDENTIAL = {"org_id": "SOURCE@AdobeOrg", "client_id": "source-id", "client_secret": "source-secret"}


def write(folder: Path, **keys: Any) -> Path:
    """The file with ``keys`` (``integration`` set to None leaves it out)."""
    file = folder / "connector-adobe-console.yml"
    data = {"integration": CREDENTIAL} | keys
    file.write_text(yaml.safe_dump({key: value for key, value in data.items() if value is not None}))
    return file


def test_user_sync_keys_and_defaults(tmp_path: Path) -> None:
    settings, ssl_verify, notes = read_connector_adobe_console(write(
        tmp_path, identity_type_filter="federatedID", user_identity_type="enterpriseID", ssl_cert_verify=False,
        server={"host": "source.example:443", "ims_host": "ims.example", "retries": 2}))
    assert settings.identity_type_filter is IdentityType.FEDERATED_ID
    umapi = settings.umapi
    assert (umapi.org_id, umapi.client_id, umapi.client_secret) == ("SOURCE@AdobeOrg", "source-id", "source-secret")
    assert (umapi.host, umapi.auth_host, umapi.auth_endpoint) == ("source.example:443", "ims.example", "/ims/token/v2")
    assert umapi.retries == 3  # User Sync gives this connector retries + 1 attempts
    assert settings.file == tmp_path / "connector-adobe-console.yml" and ssl_verify is None and umapi.ssl_verify
    assert [note.split("key ")[1].split(":")[0] for note in notes] == ["'user_identity_type'", "'ssl_cert_verify'"]
    assert read_connector_adobe_console(write(tmp_path))[0].identity_type_filter is None  # 'all' by default


def test_invocation_defaults_ssl_cert_verify_applies_where_the_file_is_silent(tmp_path: Path) -> None:
    write(tmp_path)
    (tmp_path / "connector-umapi.yml").write_text(yaml.safe_dump({"enterprise": CREDENTIAL}))
    (tmp_path / "user-sync-config.yml").write_text(yaml.safe_dump({
        "adobe_users": {"connectors": {"umapi": "connector-umapi.yml"}},
        "directory_users": {"connectors": {"adobe_console": "connector-adobe-console.yml"},
                            "groups": [{"directory_group": "Sales", "adobe_groups": ["Sales Team"]}]},
        "limits": {"max_adobe_only_users": 10},
        "invocation_defaults": {"ssl_cert_verify": False}}))
    settings = load_run_settings(tmp_path / "user-sync-config.yml", {"connector": ["adobe_console"]})
    assert isinstance(settings.directory, AdobeConsoleSettings)
    assert settings.directory.umapi.ssl_verify is False and settings.umapi.ssl_verify is False
    assert "invocation_defaults.ssl_cert_verify" in settings.directory.umapi.tls_keys.verify


@pytest.mark.parametrize("keys, key, message", [
    ({"identity_type_filter": "robots"}, "identity_type_filter", "expected 'all' or an identity type"),
    ({"integration": {"org_id": "SOURCE@AdobeOrg"}}, "integration.client_id", "required"),
    ({"integration": None, "enterprise": CREDENTIAL}, "enterprise", "credential under 'integration:'"),
    ({"integration": None}, "integration", "required"),
    ({"server": {"retries": 0}}, "server.retries", "at least 1"),
])
def test_bad_keys_name_the_file_and_key(tmp_path: Path, keys: dict[str, Any], key: str, message: str) -> None:
    file = write(tmp_path, **keys)
    with pytest.raises(ConfigError, match=message) as raised:
        read_connector_adobe_console(file)
    assert f"in {file}, key '{key}'" in str(raised.value)
