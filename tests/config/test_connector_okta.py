"""connector-okta.yml: User Sync's keys and defaults, the all_users_filter grammar, and errors that
name the file and the key (or the expression)."""

from __future__ import annotations

from pathlib import Path

import pytest

from async_usersync.config import load_run_settings
from async_usersync.config.connector_okta import read_connector_okta
from async_usersync.config.okta_filter import parse_user_filter
from async_usersync.errors import ConfigError
from async_usersync.records import IdentityType
from async_usersync.redaction import redact
from tests.config.test_user_sync_config import write_config

TOKEN = "00aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789"


def write(tmp_path: Path, text: str) -> Path:
    config = tmp_path / "connector-okta.yml"
    config.write_text(text)
    return config


def test_defaults_https_forced_and_the_token_kept_out_of_logs(tmp_path: Path) -> None:
    settings, notes = read_connector_okta(write(tmp_path, f"host: example.okta.com\napi_token: '{TOKEN}'\n"))
    assert (settings.host, settings.group_filter_format, settings.user_email_format, settings.user_country_code_format,
            settings.all_users_filter.text, settings.user_identity_type) == (
        "https://example.okta.com", "{group}", "{email}", "{countryCode}", 'user.status == "ACTIVE"', None)
    assert TOKEN not in repr(settings)
    assert TOKEN not in redact(f"Authorization: SSWS {TOKEN}")
    assert notes == ()


def test_the_token_comes_through_the_secrets_mechanism(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OKTA_TOKEN", TOKEN)
    settings, _ = read_connector_okta(write(tmp_path, "host: https://example.okta.com\n"
                                                      "secure_api_token_key: env:OKTA_TOKEN\nuser_identity_type: adobeID\n"))
    assert settings.api_token == TOKEN and settings.user_identity_type is IdentityType.ADOBE_ID
    assert settings.token_key == f"secure_api_token_key in {tmp_path / 'connector-okta.yml'}"


@pytest.mark.parametrize("text, key, message", [
    ("host: http://example.okta.com\napi_token: x0123456789\n", "host", "over https only"),
    ("host: example.okta.com\n", "api_token", "a value is required"),
    (f"host: h\napi_token: {TOKEN}\ngroup_filter_format: '{{name}}'\n", "group_filter_format", "must contain {group}"),
    (f"host: h\napi_token: {TOKEN}\nall_users_filter: '__import__(\"os\").system(\"id\")'\n", "all_users_filter",
     "'__import__\\(\"os\"\\).system\\(\"id\"\\)' is outside the filter grammar"),
    (f"host: h\napi_token: {TOKEN}\nuser_email_fromat: '{{mail}}'\n", "user_email_fromat", "unknown key"),
    (f"host: h\napi_token: {TOKEN}\nrate_limit: 0\n", "rate_limit", "more than 0"),
    (f"host: h:144465\napi_token: {TOKEN}\n", "host", "port"),
    (f"host: https://h:x/\napi_token: {TOKEN}\n", "host", "port"),
])
def test_errors_name_the_file_and_the_key(tmp_path: Path, text: str, key: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"connector-okta.yml, key '{key}': .*{message}"):
        read_connector_okta(write(tmp_path, text))


USER = {"id": "00u1", "status": "ACTIVE", "profile": {"department": "R&D", "level": 3, "login": "a@example.org"}}


@pytest.mark.parametrize("text, expected", [
    ('user.status == "ACTIVE"', True),
    ("user.status != 'ACTIVE'", False),
    ('user.status in ["ACTIVE", "PROVISIONED"] and user.profile.level == 3', True),
    ('not (user.profile.department == "R&D" or user.profile.level in (1, 2))', False),
    ('user.profile.missing == None and "example" in user.profile.login', True),
    ('user.profile.level not in [3] or user.id == "00u1"', True),
])
def test_user_syncs_expressions_are_evaluated_without_eval(text: str, expected: bool) -> None:
    assert parse_user_filter(text).matches(USER) is expected


@pytest.mark.parametrize("text, part", [
    ('user.status.lower() == "active"', 'user.status.lower()'),
    ("len(user.profile.login) > 3", "len(user.profile.login) > 3"),
    ('user.__class__ == "x"', None),
    ("user.profile.level < 3", "user.profile.level < 3"),
    ("[x for x in user.profile]", "[x for x in user.profile]"),
    ("user.credentials.password == 1", "user.credentials.password"),
    ("lambda: 1", "lambda: 1"),
    ("user.status ==", None),
])
def test_anything_outside_the_grammar_is_refused_naming_the_expression(text: str, part: str | None) -> None:
    with pytest.raises(ValueError) as caught:
        parse_user_filter(text)
    assert str(caught.value).startswith(f"'{text}' is ")
    if part is not None:
        assert f"at '{part}'" in str(caught.value)


def test_the_okta_connector_refuses_additional_groups_as_user_sync_does(tmp_path: Path) -> None:
    write(tmp_path, f"host: h\napi_token: {TOKEN}\n")
    path = write_config(tmp_path, directory_users={
        "connectors": {"okta": "connector-okta.yml"}, "groups": [{"directory_group": "A", "adobe_groups": ["B"]}],
        "additional_groups": [{"source": "ACL-(.+)", "target": "ACL-Grp-\\1"}]})
    with pytest.raises(ConfigError, match="key 'directory_users.additional_groups': additional group rules are not "
                                          "supported by the okta connector"):
        load_run_settings(path, {"connector": "okta", "users": "mapped"})
