"""connector-ldap.yml: User Sync's keys and defaults, and errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from async_usersync.config.connector_ldap import read_connector_ldap
from async_usersync.config.settings import DEFAULT_ALL_USERS_FILTER, DEFAULT_PAGE_SIZE
from async_usersync.errors import ConfigError


def connector_file(tmp_path: Path, **keys: Any) -> Path:
    """A connector-ldap.yml bound as a user with a password; a key given as None is left out."""
    data: dict[str, Any] = {"host": "ldap://ldap.example.org", "base_dn": "dc=example,dc=org", "username": "cn=admin",
                            "password": "the-password", "search_page_size": 500} | keys
    file = tmp_path / "connector-ldap.yml"
    file.write_text(yaml.safe_dump({key: value for key, value in data.items() if value is not None}))
    return file


def test_defaults_are_user_syncs(tmp_path: Path) -> None:
    file = tmp_path / "connector-ldap.yml"
    file.write_text("host: ldap://ldap.example.org\nbase_dn: dc=example,dc=org\nusername: cn=u\npassword: s3cr3t-value\n")
    settings, notes = read_connector_ldap(file)
    assert notes == ()
    assert settings.search_page_size == DEFAULT_PAGE_SIZE == 200
    assert settings.all_users_filter == DEFAULT_ALL_USERS_FILTER
    assert settings.group_member_filter_format == "(memberOf={group_dn})"
    assert (settings.user_email_format, settings.user_given_name_format, settings.user_surname_format,
            settings.user_country_code_format) == ("{mail}", "{givenName}", "{sn}", "{c}")
    assert settings.authentication_method == "simple" and settings.tls_verify and not settings.require_tls_cert
    assert "s3cr3t-value" not in repr(settings)


@pytest.mark.parametrize("keys, key, message", [
    ({"hots": "x"}, "hots", "unknown key"),
    ({"host": "http://x"}, "host", "expected ldap://"),
    ({"host": "ldap://x:99999"}, "host", "port"),
    ({"host": "ldaps://x:abc"}, "host", "port"),
    ({"host": "ldap://"}, "host", "expected ldap://"),
    # an unbalanced filter was found by the server: exit 3, "Bad search filter", naming no key
    ({"all_users_filter": "(objectClass=inetOrgPerson"}, "all_users_filter", "parentheses do not balance"),
    ({"all_users_filter": "(a=1))(b=2)"}, "all_users_filter", "parentheses do not balance"),
    ({"group_filter_format": "(&(cn={group})"}, "group_filter_format", "parentheses do not balance"),
    ({"authentication_method": "magic"}, "authentication_method", "unknown method 'magic'"),
    ({"search_page_size": -1}, "search_page_size", "0 \\(unpaged\\) or more"),
    ({"user_email_format": "{mail!r}"}, "user_email_format", "plain attribute names"),
    ({"group_filter_format": "(cn={name})"}, "group_filter_format", "must contain {group}"),
    ({"user_identity_type": "martian"}, "user_identity_type", "unknown identity type"),
    ({"string_encoding": "klingon"}, "string_encoding", "unknown encoding"),
    ({"ca_cert_file": "missing.pem"}, "ca_cert_file", "file not found"),
    ({"two_steps_lookup": {"nested_group": True}}, "two_steps_lookup.group_member_attribute_name", "a value is required"),
    ({"two_steps_lookup": {"group_member_attribute_name": "member", "deep": 1}}, "two_steps_lookup.deep", "unknown key"),
    ({"two_steps_lookup": {"group_member_attribute_name": "member"}, "group_member_filter_format": "(x={group_dn})"},
     "group_member_filter_format", "not be set together"),
    ({"require_tls_cert": True, "tls_verify": False}, "tls_verify", "cannot be false"),
    ({"password": None}, "password", "a value is required"),
])
def test_config_errors_name_file_and_key(tmp_path: Path, keys: dict, key: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"connector-ldap.yml, key '{key}': .*{message}"):
        read_connector_ldap(connector_file(tmp_path, **keys))
