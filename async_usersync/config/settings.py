"""The plain, frozen settings records the configuration readers produce.

``umapi/``, ``sources/`` and ``logs/`` import their settings from here and never a reader: the
readers (``config/connector_umapi.py``, ``connector_ldap.py``, ``connector_csv.py``,
``connector_adobe_console.py``, ``user_sync_config.py``, ``options.py``) turn files and options into these records once, at start,
and ``config/run_settings.py`` hands them on. Nothing here reads a file.
"""

from __future__ import annotations

import logging
import re
import string
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import CodeType
from typing import Literal

from async_usersync.config.okta_filter import DEFAULT_ALL_USERS_FILTER as DEFAULT_OKTA_FILTER, UserFilter, parse_user_filter
from async_usersync.records import IdentityType
from async_usersync.tls import TlsKeys, TlsTrust

# --- connector-umapi.yml ---------------------------------------------------------------------------

FAMILIES = ("action", "users", "groups")
"""UMAPI's endpoint families, each with its own rate limit."""


@dataclass(frozen=True)
class RateLimits:
    """Requests allowed per ``window`` seconds for each endpoint family (Adobe's documented limits).

    ``window`` is 60 s against Adobe; a sandbox run at ``--time-scale X`` uses ``60 / X``.
    """

    action: float = 10
    users: float = 25
    groups: float = 5
    window: float = 60.0

    def per_second(self, family: str) -> float:
        """The limit of ``family`` (one of ``FAMILIES``) in requests per second."""
        value: float = getattr(self, family)
        return value / self.window


@dataclass(frozen=True)
class UmapiSettings:
    """One org's UMAPI connection, from connector-umapi.yml (``server``, ``enterprise``) and
    ``invocation_defaults.ssl_cert_verify``. Times are in seconds."""

    org_id: str
    client_id: str
    client_secret: str = field(repr=False)
    host: str = "usermanagement.adobe.io"
    endpoint: str = "/v2/usermanagement"
    auth_host: str = "ims-na1.adobelogin.com"
    auth_endpoint: str = "/ims/token/v2"
    timeout: float = 120.0
    retries: int = 3
    """Total attempts per request, as User Sync's ``server.retries``."""
    ssl_verify: bool = True
    ca_file: Path | None = None
    """A PEM bundle to trust instead of the system's (a private CA, or the sandbox's certificate)."""
    tls_keys: TlsKeys = TlsKeys("server.ssl_verify", "server.ca_file")
    """The keys that set ``ssl_verify`` and ``ca_file``, for messages (with their file, once read)."""
    limits: RateLimits = RateLimits()
    backoff_base: float = 3.0
    """First wait (seconds) of the exponential backoff used when a retryable answer has no Retry-After."""
    backoff_jitter: float = 2.0
    """Up to this many seconds of random extra wait, so that many clients do not retry in step."""
    backoff_max: float = 60.0
    """The longest backoff step (seconds, before jitter) of an outage."""
    max_outage: float = 900.0
    """Seconds a family may go without an accepted request before the run gives up on it and reports
    its remaining commands as not sent (``server.max_outage``, our addition)."""
    max_retry_after: float = 3600.0
    """The longest single wait a 429's Retry-After may impose (seconds); a longer one stops the family
    at once, its remaining commands not sent (``server.max_retry_after``, our addition). Adobe's have
    been seen up to 55 minutes."""
    long_wait: float = 60.0
    """A pause at least this long is announced at WARNING with the local time sending resumes..."""
    wait_reminder: float = 300.0
    """...and announced again every this many seconds while it lasts."""
    token_margin: float = 300.0
    """Refresh the access token this long before it expires (capped at a tenth of its lifetime)."""
    max_in_flight: int = 64
    """Requests of one family on the wire at once; the throttle, not this, sets the pace."""
    user_group_entries: bool = True
    """Pack membership changes many users share into entries rooted at the user group (up to 100
    users an entry; ``server.user_group_entries``, our addition; false sends one entry per user, as
    User Sync does)."""

    @property
    def base_url(self) -> str:
        """``https://host/endpoint``, the root of every UMAPI request."""
        return f"https://{self.host}/{self.endpoint.strip('/')}"

    @property
    def token_url(self) -> str:
        """``https://auth_host/auth_endpoint``, where IMS hands out access tokens."""
        return f"https://{self.auth_host}/{self.auth_endpoint.strip('/')}"


# --- connector-ldap.yml ----------------------------------------------------------------------------

DEFAULT_ALL_USERS_FILTER = "(&(objectClass=user)(objectCategory=person)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"
DEFAULT_GROUP_FILTER_FORMAT = "(&(|(objectCategory=group)(objectClass=groupOfNames)(objectClass=posixGroup))(cn={group}))"
DEFAULT_GROUP_MEMBER_FILTER_FORMAT = "(memberOf={group_dn})"
DEFAULT_PAGE_SIZE = 200  # User Sync's code default (its manual says 1000)

SASL_MECHANISMS = {
    "simple": "SIMPLE", "ntlm": "NTLM", "kerberos": "GSSAPI", "gssapi": "GSSAPI", "gss-spnego": "GSS-SPNEGO",
    "digest-md5": "DIGEST-MD5", "external": "EXTERNAL",
}
"""authentication_method -> bonsai mechanism. ``anonymous`` binds without credentials."""


def template_fields(text: str) -> list[str]:
    """The ``{name}`` fields of a User Sync value or filter format, in order; raises ValueError on
    anything fancier than a plain attribute name (a format spec, a conversion, an index)."""
    names = []
    for _, name, format_spec, conversion in string.Formatter().parse(text):
        if name is None:
            continue
        if not name or format_spec or conversion or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]*(;[A-Za-z0-9-]+)*", name):
            raise ValueError(f"'{text}': placeholders must be plain attribute names such as {{mail}}")
        names.append(name)
    return names


@dataclass(frozen=True)
class TwoStepsLookup:
    """For servers without memberOf: read the group's member attribute, then each member."""

    member_attribute: str
    nested: bool = False


@dataclass(frozen=True)
class LdapSettings:
    """connector-ldap.yml with User Sync's defaults. The ``user_*_format`` values are User Sync's
    value formats (``{givenName}``, ``{uid}@example.com``; checked with ``template_fields``), None
    where the key is unset and has no default. Timeouts are in seconds."""

    host: str
    base_dn: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    authentication_method: str = "simple"
    require_tls_cert: bool = False
    ca_cert_file: Path | None = None
    tls_verify: bool = True
    tls_keys: TlsKeys = TlsKeys("tls_verify", "ca_cert_file", environment=False)
    """The keys that set ``tls_verify`` and ``ca_cert_file``, for messages (with their file, once read)."""
    string_encoding: str = "utf8"
    user_identity_type: IdentityType | None = None
    search_page_size: int = DEFAULT_PAGE_SIZE
    all_users_filter: str = DEFAULT_ALL_USERS_FILTER
    group_filter_format: str = DEFAULT_GROUP_FILTER_FORMAT
    group_member_filter_format: str = DEFAULT_GROUP_MEMBER_FILTER_FORMAT
    two_steps_lookup: TwoStepsLookup | None = None
    dynamic_group_member_attribute: str | None = None
    user_email_format: str = "{mail}"
    user_username_format: str | None = None
    user_domain_format: str | None = None
    user_given_name_format: str = "{givenName}"
    user_surname_format: str = "{sn}"
    user_country_code_format: str = "{c}"
    user_identity_type_format: str | None = None
    connect_timeout: float = 30.0
    search_timeout: float = 120.0
    ignore_referrals: bool = False

    @property
    def uses_start_tls(self) -> bool:
        """True when an ``ldap://`` connection is upgraded with StartTLS (``require_tls_cert``)."""
        return self.require_tls_cert and self.host.lower().startswith("ldap://")

    @property
    def uses_tls(self) -> bool:
        """True when the connection is encrypted (``ldaps://`` or StartTLS)."""
        return self.uses_start_tls or self.host.lower().startswith("ldaps://")

    @property
    def trust(self) -> TlsTrust:
        """How the server's certificate is checked, for the warning and the remedy messages (libldap
        itself is told ``tls_verify`` and ``ca_cert_file``). Raises ConfigError when ``ca_cert_file``
        no longer exists."""
        return TlsTrust.resolve(self.tls_verify, self.ca_cert_file, keys=self.tls_keys)


# --- connector-csv.yml -----------------------------------------------------------------------------

@dataclass(frozen=True)
class CsvSettings:
    """connector-csv.yml with User Sync's column names; ``file_path`` is the file read (the
    command line's file when one is given)."""

    file_path: Path | None = None
    delimiter: str | None = None
    """None: a comma for a .csv file, a tab for anything else (as User Sync)."""
    string_encoding: str = "utf8"
    email_column_name: str = "email"
    first_name_column_name: str = "firstname"
    last_name_column_name: str = "lastname"
    country_column_name: str = "country"
    groups_column_name: str = "groups"
    username_column_name: str = "username"
    domain_column_name: str = "domain"
    identity_type_column_name: str = "type"
    user_identity_type: IdentityType | None = None


# --- the extension file (directory_users.extension) ----------------------------------------------

@dataclass(frozen=True)
class ExtensionSettings:
    """User Sync's extension file, read and compiled once at start (``config/extension.py``)."""

    file: Path
    """The extension file, for messages: the hook's line numbers are this file's lines."""
    after_mapping_hook: CodeType = field(repr=False)
    """The hook's Python code, compiled with ``file`` as its file name and line numbers counted from
    the file's first line (not the code block's)."""
    extended_attributes: tuple[str, ...] = ()
    """Extra directory attributes (LDAP) or columns (CSV) the hook reads from ``source_attributes``."""
    extended_adobe_groups: tuple[str, ...] = ()
    """Adobe groups the hook may assign besides the mapped ones; they count as mapped."""


# --- connector-adobe-console.yml -------------------------------------------------------------------

@dataclass(frozen=True)
class AdobeConsoleSettings:
    """connector-adobe-console.yml: another Admin Console org read as a directory (User Sync's
    ``adobe_console`` connector). ``umapi`` is that org's own connection (its credential under
    ``integration:``, its own token and throttle); ``identity_type_filter`` keeps only users of one
    type (None: ``all``, User Sync's default)."""

    umapi: UmapiSettings
    identity_type_filter: IdentityType | None = None
    file: Path | None = None
    """The connector file, for messages."""


# --- connector-okta.yml ----------------------------------------------------------------------------

@dataclass(frozen=True)
class OktaSettings:
    """connector-okta.yml with User Sync's keys and defaults (its connector/directory_okta.py). ``host``
    is ``https://name[:port]`` (https forced as User Sync does); the ``user_*_format`` values are
    value formats over the Okta profile (``{email}``; checked with ``template_fields``). Times are in
    seconds; ``rate_limit`` requests per ``rate_window`` is where pacing starts (Okta's headers and
    429s then steer it)."""

    host: str
    api_token: str = field(repr=False)
    all_users_filter: UserFilter = field(default_factory=lambda: parse_user_filter(DEFAULT_OKTA_FILTER))
    group_filter_format: str = "{group}"
    string_encoding: str = "utf8"
    user_identity_type: IdentityType | None = None
    user_email_format: str = "{email}"
    user_username_format: str | None = None
    user_domain_format: str | None = None
    user_given_name_format: str = "{firstName}"
    user_surname_format: str = "{lastName}"
    user_country_code_format: str = "{countryCode}"
    user_identity_type_format: str | None = None
    ca_file: Path | None = None
    tls_keys: TlsKeys = TlsKeys("tls_verify", "ca_file")
    tls_verify: bool = True
    token_key: str = "api_token"
    """The key that gave the token (``api_token in FILE`` or ``secure_api_token_key in FILE``), for messages."""
    page_size: int = 200
    """Members asked for per page (Okta recommends 200 at most)."""
    rate_limit: float = 500.0
    """Okta's documented limit for /api/v1/groups and below (Workforce Identity orgs; 600 on others)."""
    rate_window: float = 60.0
    timeout: float = 120.0
    retries: int = 3
    """Attempts per page for a 502, 503, 504 or an answer that never came."""
    max_outage: float = 900.0
    """Seconds without an accepted request (429s, outages) before the read fails."""

    @property
    def trust(self) -> TlsTrust:
        """How Okta's certificate is checked. Raises ConfigError when the bundle does not exist."""
        return TlsTrust.resolve(self.tls_verify, self.ca_file, keys=self.tls_keys)


# --- the logging section of user-sync-config.yml ---------------------------------------------------

LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
"""User Sync's level names -> ``logging`` levels."""


@dataclass(frozen=True)
class LogSettings:
    """The ``logging:`` section with User Sync's keys and defaults (paths already resolved)."""

    log_to_file: bool = False
    file_log_directory: Path = Path("logs")
    file_log_name_format: str = "{:%Y-%m-%d}.log"
    """A ``str.format`` pattern applied to the start time: a date pattern gives one file a day,
    a fixed name suits logrotate."""
    file_log_level: str = "info"
    console_log_level: str = "info"
    log_progress: bool = True
    json_log_file: Path | None = None
    """Our addition: one JSON object a line (run id, level, logger, message, structured fields)."""
    notes: tuple[str, ...] = field(default=(), compare=False)
    """Warnings found while reading the settings; the log stream logs them once it is open."""
    config_file: Path | None = field(default=None, compare=False)
    """The file the section was read from, for messages about its paths (None: the defaults)."""

    def file_log_path(self, started: datetime) -> Path:
        """The log file of a run started at ``started``."""
        return self.file_log_directory / self.file_log_name_format.format(started)

    @property
    def file_level(self) -> int:
        """``file_log_level`` as a ``logging`` level."""
        return LEVELS[self.file_log_level]

    @property
    def console_level(self) -> int:
        """``console_log_level`` as a ``logging`` level."""
        return LEVELS[self.console_log_level]


# --- --users ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UserSelection:
    """User Sync's ``--users``: all | mapped | group g1,g2, as the directory source reads it.

    ``groups`` are directory group names: for ``mapped`` the mapping's directory groups, for
    ``group`` the named ones. For ``all`` they are optional: every user is read, and those in
    the listed groups carry them in ``DirectoryUser.groups`` (so mapped groups still apply).
    Raises ValueError for an unknown ``kind``.
    """

    kind: Literal["all", "mapped", "group"]
    groups: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("all", "mapped", "group"):
            raise ValueError(f"unknown user selection {self.kind!r} (expected all, mapped or group)")
