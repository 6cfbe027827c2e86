"""connector-ldap.yml, read with User Sync's keys and defaults into ``LdapSettings``.

Keys beyond User Sync's (all optional):
  ca_cert_file     PEM file of the CA that signed the server's certificate (private CAs)
  tls_verify       false turns certificate verification off (default true, also for ldaps://)
  connect_timeout  seconds to connect and bind (default 30)
  search_timeout   seconds to wait for one page or one lookup (default 120)
  ignore_referrals true lets a read with referrals under base_dn count as complete (default
                   false: such a read fails, as the users behind them would look gone)
"""

from __future__ import annotations

from pathlib import Path
from typing import TypedDict

from async_usersync.config.secrets import read_secret
from async_usersync.config.section import ConfigSection, checked_address, read_config_file, text_encoding
from async_usersync.config.settings import (
    DEFAULT_ALL_USERS_FILTER, DEFAULT_GROUP_FILTER_FORMAT, DEFAULT_GROUP_MEMBER_FILTER_FORMAT, DEFAULT_PAGE_SIZE,
    SASL_MECHANISMS, LdapSettings, TwoStepsLookup, template_fields,
)
from async_usersync.records import IdentityType
from async_usersync.tls import TlsKeys

_NEEDS_NO_USERNAME = {"kerberos", "gssapi", "gss-spnego", "external"}


def read_connector_ldap(file: Path, encoding: str = "utf8") -> tuple[LdapSettings, tuple[str, ...]]:
    """Reads connector-ldap.yml: its settings and warnings for the run's log. Raises ConfigError
    naming the file and the key."""
    return read_config_file(file, encoding, ldap_settings)


def ldap_settings(section: ConfigSection) -> LdapSettings:
    """Reads every key of a connector-ldap.yml mapping. As User Sync: no username means an anonymous
    bind, and credentials with ``authentication_method: anonymous`` are refused. Raises ConfigError
    naming the file and key (an unknown key too, once the caller finishes the section)."""
    host: str = section.require("host", str).strip()
    expected = "ldap://host[:port] or ldaps://host[:port]"
    if not host.lower().startswith(("ldap://", "ldaps://")):
        raise section.error("host", f"expected {expected}, got '{host}'")
    checked_address(section, "host", host, expected)
    base_dn: str = section.require("base_dn", str)
    username: str | None = section.get("username", kind=str)
    method: str = section.get("authentication_method", "simple", str).strip().lower()
    if method != "anonymous" and method not in SASL_MECHANISMS:
        known = ", ".join(["anonymous", *SASL_MECHANISMS])
        raise section.error("authentication_method", f"unknown method '{method}' (expected one of {known})")
    if method == "anonymous":  # as User Sync: credentials with an anonymous bind are an error
        for key in ("username", "password", "secure_password_key"):
            if key in section:
                raise section.error(key, "is not allowed with 'authentication_method: anonymous', which binds "
                                         "without credentials; remove it, or set authentication_method: simple")
    if username is None and method not in _NEEDS_NO_USERNAME:
        method = "anonymous"  # as User Sync: no username means an anonymous bind
    password: str | None = None
    if method == "anonymous":
        section.ignore("password", "secure_password_key")
    else:
        password = read_secret(section, "password", username, required=method not in _NEEDS_NO_USERNAME)
    require_tls_cert: bool = section.get("require_tls_cert", False, bool)
    tls_verify: bool = section.get("tls_verify", True, bool)
    if require_tls_cert and not tls_verify:
        raise section.error("tls_verify", "cannot be false when require_tls_cert is true")
    ca_cert_file = section.path("ca_cert_file")
    if ca_cert_file is not None and not ca_cert_file.is_file():
        raise section.error("ca_cert_file", f"file not found: {ca_cert_file}")
    page_size: int = section.get("search_page_size", DEFAULT_PAGE_SIZE, int)
    if page_size < 0:
        raise section.error("search_page_size", "must be 0 (unpaged) or more")

    two_steps = _two_steps_lookup(section)
    if two_steps is not None and "group_member_filter_format" in section:
        raise section.error("group_member_filter_format", "must not be set together with two_steps_lookup")
    section.ignore("logger_name")
    return LdapSettings(
        host=host, base_dn=base_dn, username=username, password=password, authentication_method=method,
        require_tls_cert=require_tls_cert, ca_cert_file=ca_cert_file, tls_verify=tls_verify,
        tls_keys=TlsKeys(section.where("tls_verify"), section.where("ca_cert_file"), environment=False),
        string_encoding=section.get("string_encoding", "utf8", text_encoding),
        user_identity_type=section.get("user_identity_type", kind=IdentityType.parse),
        search_page_size=page_size,
        all_users_filter=balanced_filter(section, "all_users_filter",
                                         section.get("all_users_filter", DEFAULT_ALL_USERS_FILTER, str)),
        group_filter_format=filter_format(section, "group_filter_format", DEFAULT_GROUP_FILTER_FORMAT, "group"),
        group_member_filter_format=filter_format(section, "group_member_filter_format",
                                                  DEFAULT_GROUP_MEMBER_FILTER_FORMAT, "group_dn"),
        two_steps_lookup=two_steps,
        dynamic_group_member_attribute=section.get("dynamic_group_member_attribute", kind=str),
        **user_formats(section, email="{mail}", given_name="{givenName}", surname="{sn}", country="{c}"),
        connect_timeout=positive_seconds(section, "connect_timeout", 30.0),
        search_timeout=positive_seconds(section, "search_timeout", 120.0),
        ignore_referrals=section.get("ignore_referrals", False, bool),
    )


def _two_steps_lookup(section: ConfigSection) -> TwoStepsLookup | None:
    if "two_steps_lookup" not in section:
        section.ignore("two_steps_lookup")
        return None
    inner = section.section("two_steps_lookup")
    lookup = TwoStepsLookup(member_attribute=inner.require("group_member_attribute_name", str),
                            nested=inner.get("nested_group", False, bool))
    inner.finish()
    return lookup


def filter_format(section: ConfigSection, key: str, default: str, placeholder: str) -> str:
    """The filter format at ``key``; raises ConfigError unless it holds ``{placeholder}`` and no other field."""
    text: str = section.get(key, default, str)
    try:
        fields = template_fields(text)
    except ValueError as error:
        raise section.error(key, str(error)) from None
    if any(name != placeholder for name in fields) or placeholder not in fields:
        raise section.error(key, f"must contain {{{placeholder}}} and no other placeholder")
    return balanced_filter(section, key, text)


def balanced_filter(section: ConfigSection, key: str, text: str) -> str:
    """``text``, an LDAP search filter (or its format), when its parentheses balance (a value's own
    parentheses are escaped as ``\\28`` and ``\\29``, RFC 4515); the server would refuse it only at the
    first search, naming no key. Raises ConfigError naming the file and key."""
    depth = 0
    for character in text:
        depth += {"(": 1, ")": -1}.get(character, 0)
        if depth < 0:
            break
    if depth != 0:
        raise section.error(key, f"'{text}' is not an LDAP search filter: its parentheses do not balance")
    return text


class UserFormats(TypedDict):
    """The ``user_*_format`` keys User Sync's directory connectors share (LDAP, Okta), as the keyword
    arguments of their settings records."""

    user_email_format: str
    user_username_format: str | None
    user_domain_format: str | None
    user_given_name_format: str
    user_surname_format: str
    user_country_code_format: str
    user_identity_type_format: str | None


def user_formats(section: ConfigSection, email: str, given_name: str, surname: str, country: str) -> UserFormats:
    """The section's ``user_*_format`` values, with the connector's defaults for the four that have
    one. Raises ConfigError for a fancy placeholder."""
    return UserFormats(
        user_email_format=_value_format(section, "user_email_format", email),
        user_username_format=_optional_value_format(section, "user_username_format"),
        user_domain_format=_optional_value_format(section, "user_domain_format"),
        user_given_name_format=_value_format(section, "user_given_name_format", given_name),
        user_surname_format=_value_format(section, "user_surname_format", surname),
        user_country_code_format=_value_format(section, "user_country_code_format", country),
        user_identity_type_format=_optional_value_format(section, "user_identity_type_format"),
    )


def _value_format(section: ConfigSection, key: str, default: str) -> str:
    """The value format at ``key`` (``default`` when unset); raises ConfigError for a fancy placeholder."""
    return _optional_value_format(section, key) or default


def _optional_value_format(section: ConfigSection, key: str) -> str | None:
    """The value format at ``key``, None when unset; raises ConfigError for a fancy placeholder."""
    text: str | None = section.get(key, None, str)
    if text is None:
        return None
    try:
        template_fields(text)
    except ValueError as error:
        raise section.error(key, str(error)) from None
    return text


def positive_seconds(section: ConfigSection, key: str, default: float) -> float:
    """Seconds at ``key``; raises ConfigError unless more than 0."""
    value: float = section.get(key, default, float)
    if value <= 0:
        raise section.error(key, "must be more than 0 seconds")
    return value
