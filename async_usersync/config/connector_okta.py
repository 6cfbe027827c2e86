"""connector-okta.yml, read with User Sync's keys and defaults into ``OktaSettings``.

User Sync's keys (its connector/directory_okta.py): ``host`` (``https://`` added when missing, any
other scheme refused), ``api_token`` or ``secure_api_token_key`` (a keyring entry's user is the
host, as in User Sync), ``group_filter_format``, ``all_users_filter`` (see ``okta_filter``),
``string_encoding``, ``user_*_format``, ``user_identity_type``, ``logger_name`` (ignored).

Keys beyond User Sync's (all optional):
  ca_file      PEM file of the CA that signed Okta's certificate (a TLS-inspecting proxy)
  tls_verify   false turns certificate verification off (default true; warned)
  page_size    members asked for per page (default 200, Okta's recommended most)
  rate_limit   requests per rate_window to start pacing at (default 500, Okta's documented limit
               for /api/v1/groups and below on Workforce Identity orgs)
  rate_window  seconds (default 60)
  timeout      seconds for one answer (default 120)
  retries      attempts per page for 502, 503, 504 or no answer (default 3)
  max_outage   seconds without an accepted request (a 429 storm, an outage) before the read fails
               (default 900)
"""

from __future__ import annotations

from pathlib import Path

from async_usersync.config.connector_ldap import filter_format, positive_seconds, user_formats
from async_usersync.config.okta_filter import DEFAULT_ALL_USERS_FILTER, parse_user_filter
from async_usersync.config.secrets import read_secret
from async_usersync.config.section import ConfigSection, checked_address, read_config_file, text_encoding
from async_usersync.config.settings import OktaSettings
from async_usersync.records import IdentityType
from async_usersync.tls import TlsKeys


def read_connector_okta(file: Path, encoding: str = "utf8") -> tuple[OktaSettings, tuple[str, ...]]:
    """Reads connector-okta.yml: its settings and warnings for the run's log. Raises ConfigError
    naming the file and the key (an ``all_users_filter`` outside the grammar names the expression)."""
    return read_config_file(file, encoding, okta_settings)


def okta_settings(section: ConfigSection) -> OktaSettings:
    """Reads every key of a connector-okta.yml mapping. Raises ConfigError naming the file and key."""
    host: str = section.require("host", str).strip().rstrip("/")
    if "://" not in host:
        host = "https://" + host
    elif not host.lower().startswith("https://"):
        raise section.error("host", f"Okta is reached over https only, got '{host}'")
    if host == "https://":
        raise section.error("host", "expected the Okta org's host name, such as example.okta.com")
    checked_address(section, "host", host, "the Okta org's host name, such as example.okta.com")
    token_key = "secure_api_token_key" if "secure_api_token_key" in section else "api_token"
    api_token = read_secret(section, "api_token", host.removeprefix("https://"))
    filter_text: str = section.get("all_users_filter", DEFAULT_ALL_USERS_FILTER, str)
    try:
        all_users_filter = parse_user_filter(filter_text)
    except ValueError as error:
        raise section.error("all_users_filter", str(error)) from None
    ca_file = section.path("ca_file")
    if ca_file is not None and not ca_file.is_file():
        raise section.error("ca_file", f"file not found: {ca_file}")
    page_size: int = section.get("page_size", 200, int)
    if not 1 <= page_size <= 10_000:
        raise section.error("page_size", "must be between 1 and 10000")
    retries: int = section.get("retries", 3, int)
    if retries < 1:
        raise section.error("retries", "must be 1 or more")
    section.ignore("logger_name")
    return OktaSettings(
        host=host, api_token=api_token, token_key=section.where(token_key),
        all_users_filter=all_users_filter,
        group_filter_format=filter_format(section, "group_filter_format", "{group}", "group"),
        string_encoding=section.get("string_encoding", "utf8", text_encoding),
        user_identity_type=section.get("user_identity_type", kind=IdentityType.parse),
        **user_formats(section, email="{email}", given_name="{firstName}", surname="{lastName}", country="{countryCode}"),
        ca_file=ca_file, tls_verify=section.get("tls_verify", True, bool),
        tls_keys=TlsKeys(section.where("tls_verify"), section.where("ca_file")),
        page_size=page_size,
        rate_limit=_positive_number(section, "rate_limit", 500.0),
        rate_window=positive_seconds(section, "rate_window", 60.0),
        timeout=positive_seconds(section, "timeout", 120.0),
        retries=retries,
        max_outage=positive_seconds(section, "max_outage", 900.0),
    )


def _positive_number(section: ConfigSection, key: str, default: float) -> float:
    value: float = section.get(key, default, float)
    if value <= 0:
        raise section.error(key, "must be more than 0")
    return value
