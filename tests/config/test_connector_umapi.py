"""connector-umapi.yml parsing: values, defaults, and errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from async_usersync.config.connector_umapi import read_connector_umapi
from async_usersync.config.settings import RateLimits, UmapiSettings
from async_usersync.errors import ConfigError

GOOD = """
authentication_method: oauth
server:
  host: umapi.example.test:8443
  endpoint: /v2/usermanagement/
  auth_host: ims.example.test
  timeout: 30
  retries: 5
  ca_file: ca.pem
  limits: {action: 20, window: 30}
enterprise:
  org_id: ABC@AdobeOrg
  client_id: the-client
  client_secret: the-secret
"""


def read_from(tmp_path: Path, text: str) -> tuple[UmapiSettings, bool | None, tuple[str, ...]]:
    (tmp_path / "ca.pem").write_text("not read here\n")
    file = tmp_path / "connector-umapi.yml"
    file.write_text(text)
    return read_connector_umapi(file)


def settings_from(tmp_path: Path, text: str) -> UmapiSettings:
    return read_from(tmp_path, text)[0]


def test_a_full_file_is_read(tmp_path):
    settings = settings_from(tmp_path, GOOD)
    assert (settings.org_id, settings.client_id, settings.client_secret) == ("ABC@AdobeOrg", "the-client", "the-secret")
    assert settings.base_url == "https://umapi.example.test:8443/v2/usermanagement"
    assert settings.token_url == "https://ims.example.test/ims/token/v2"
    assert (settings.timeout, settings.retries, settings.ssl_verify) == (30.0, 5, True)
    assert settings.ca_file == tmp_path / "ca.pem"
    assert settings.limits == RateLimits(action=20, users=25, groups=5, window=30)
    assert "the-secret" not in repr(settings)


def test_defaults_and_the_ssl_setting_left_to_the_invocation(tmp_path):
    settings, ssl_verify, notes = read_from(tmp_path, "enterprise: {org_id: A@AdobeOrg, client_id: c, client_secret: s}\n")
    assert settings.base_url == "https://usermanagement.adobe.io/v2/usermanagement"
    assert settings.token_url == "https://ims-na1.adobelogin.com/ims/token/v2"
    assert (settings.timeout, settings.retries, settings.ssl_verify, ssl_verify, notes) == (120.0, 3, True, None, ())
    assert settings.limits == RateLimits()
    assert (settings.max_outage, settings.max_retry_after) == (900.0, 3600.0)


def test_the_outage_limit_and_the_retry_after_ceiling_are_read(tmp_path):
    settings = settings_from(tmp_path, GOOD.replace("  retries: 5", "  retries: 5\n  max_outage: 120\n  max_retry_after: 600"))
    assert (settings.max_outage, settings.max_retry_after) == (120.0, 600.0)


def test_user_group_entries_are_on_unless_turned_off(tmp_path):
    assert settings_from(tmp_path, GOOD).user_group_entries is True
    settings = settings_from(tmp_path, GOOD.replace("  retries: 5", "  retries: 5\n  user_group_entries: false"))
    assert settings.user_group_entries is False


@pytest.mark.parametrize(("change", "key", "words"), [
    (("authentication_method: oauth", "authentication_method: jwt"), "key 'authentication_method'", "switched off by Adobe in 2026"),
    (("authentication_method: oauth", "authentication_method: saml"), "key 'authentication_method'", "expected 'oauth'"),
    (("  retries: 5", "  retries: 0"), "key 'server.retries'", "at least 1"),
    (("  timeout: 30", "  timeout: soon"), "key 'server.timeout'", "expected a number"),
    (("  retries: 5", "  retries: 5\n  max_outage: 0"), "key 'server.max_outage'", "above 0"),
    (("  retries: 5", "  retries: 5\n  max_retry_after: -5"), "key 'server.max_retry_after'", "above 0"),
    (("  retries: 5", "  retries: 5\n  retry_delay: 3"), "key 'server.retry_delay'", "unknown key"),
    (("  retries: 5", "  retries: 5\n  user_group_entries: sometimes"), "key 'server.user_group_entries'", "expected"),
    (("  client_id: the-client", "  client_id: the-client\n  colour: blue"), "key 'enterprise.colour'", "unknown key"),
    (("  org_id: ABC@AdobeOrg\n", ""), "key 'enterprise.org_id'", "a value is required"),
    (("  client_id: the-client", "  client_id: the-client\n  api_key: old"), "key 'enterprise.api_key'", "not both"),
    (("  ca_file: ca.pem", "  ca_file: missing.pem"), "key 'server.ca_file'", "file not found"),
    (("  limits: {action: 20, window: 30}", "  limits: {action: -1}"), "key 'server.limits.action'", "above 0"),
    (("  client_secret: the-secret", "  client_secret: the-secret\n  tech_acct_id: x@techacct.adobe.com"),
     "key 'enterprise.tech_acct_id'", "only used by JWT"),
    (("authentication_method: oauth\n", "surprise: 1\n"), "key 'surprise'", "unknown key"),
    # a bad port or a scheme in the host was an internal error (exit 1) or a doubled https:// at the first request
    (("umapi.example.test:8443", "umapi.example.test:84430"), "key 'server.host'", "port"),
    (("umapi.example.test:8443", "umapi.example.test:https"), "key 'server.host'", "port"),
    (("umapi.example.test:8443", "https://umapi.example.test"), "key 'server.host'", "without https://"),
    (("auth_host: ims.example.test", "auth_host: 'ims.example.test:4x3'"), "key 'server.auth_host'", "port"),
    (("auth_host: ims.example.test", "ims_host: ims.example.test:0"), "key 'server.ims_host'", "port"),
])
def test_errors_name_the_file_and_the_key(tmp_path, change, key, words):
    old, new = change
    assert old in GOOD
    with pytest.raises(ConfigError) as caught:
        settings_from(tmp_path, GOOD.replace(old, new))
    message = str(caught.value)
    assert str(tmp_path / "connector-umapi.yml") in message and key in message and words in message
    assert "the-secret" not in message


def test_jwt_keys_without_a_method_get_the_jwt_advice(tmp_path):
    text = "enterprise: {org_id: A@AdobeOrg, client_id: c, client_secret: s, priv_key_path: k.pem, tech_acct_id: t}\n"
    with pytest.raises(ConfigError, match="switched off by Adobe in 2026"):
        settings_from(tmp_path, text)


def test_server_ssl_verify_is_read_and_returned_for_the_invocation_setting(tmp_path):
    settings, ssl_verify, _ = read_from(tmp_path, GOOD.replace("  retries: 5", "  retries: 5\n  ssl_verify: false"))
    assert (settings.ssl_verify, ssl_verify) == (False, False)


def test_keys_user_sync_only_warns_about_are_noted(tmp_path):
    _, _, notes = read_from(tmp_path, GOOD + "uses_business_id: true\nssl_verify: false\n")
    assert notes == (f"in {tmp_path / 'connector-umapi.yml'}, key 'uses_business_id': is deprecated and has no effect; remove it",
                     f"in {tmp_path / 'connector-umapi.yml'}, key 'ssl_verify': is not read at the top level; only "
                     "server.ssl_verify is (or invocation_defaults.ssl_cert_verify)")
