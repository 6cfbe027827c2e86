"""connector-ldap.yml, read with User Sync's keys and defaults.

Keys beyond User Sync's (all optional):
  ca_cert_file     PEM file of the CA that signed the server's certificate (private CAs)
  tls_verify       false turns certificate verification off (default true, also for ldaps://)
  connect_timeout  seconds to connect and bind (default 30)
  search_timeout   seconds to wait for one page or one lookup (default 120)
  ignore_referrals true lets a read with referrals under base_dn count as complete (default
                   false: such a read fails, as the users behind them would look gone)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from async_usersync.config.secrets import read_secret
from async_usersync.config.section import ConfigSection, text_encoding
from async_usersync.records import IdentityType
from async_usersync.sources.ldap_values import AttributeTemplate, template_fields

DEFAULT_ALL_USERS_FILTER = "(&(objectClass=user)(objectCategory=person)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"
DEFAULT_GROUP_FILTER_FORMAT = "(&(|(objectCategory=group)(objectClass=groupOfNames)(objectClass=posixGroup))(cn={group}))"
DEFAULT_GROUP_MEMBER_FILTER_FORMAT = "(memberOf={group_dn})"
DEFAULT_PAGE_SIZE = 200  # User Sync's code default (its manual says 1000)

SASL_MECHANISMS = {
    "simple": "SIMPLE", "ntlm": "NTLM", "kerberos": "GSSAPI", "gssapi": "GSSAPI", "gss-spnego": "GSS-SPNEGO",
    "digest-md5": "DIGEST-MD5", "external": "EXTERNAL",
}
"""authentication_method -> bonsai mechanism. ``anonymous`` binds without credentials."""
_NEEDS_NO_USERNAME = {"kerberos", "gssapi", "gss-spnego", "external"}


@dataclass(frozen=True)
class TwoStepsLookup:
    """For servers without memberOf: read the group's member attribute, then each member."""

    member_attribute: str
    nested: bool = False


@dataclass(frozen=True)
class LdapSettings:
    host: str
    base_dn: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    authentication_method: str = "simple"
    require_tls_cert: bool = False
    ca_cert_file: Path | None = None
    tls_verify: bool = True
    string_encoding: str = "utf8"
    user_identity_type: IdentityType | None = None
    search_page_size: int = DEFAULT_PAGE_SIZE
    all_users_filter: str = DEFAULT_ALL_USERS_FILTER
    group_filter_format: str = DEFAULT_GROUP_FILTER_FORMAT
    group_member_filter_format: str = DEFAULT_GROUP_MEMBER_FILTER_FORMAT
    two_steps_lookup: TwoStepsLookup | None = None
    dynamic_group_member_attribute: str | None = None
    user_email_format: AttributeTemplate = AttributeTemplate("{mail}")
    user_username_format: AttributeTemplate | None = None
    user_domain_format: AttributeTemplate | None = None
    user_given_name_format: AttributeTemplate = AttributeTemplate("{givenName}")
    user_surname_format: AttributeTemplate = AttributeTemplate("{sn}")
    user_country_code_format: AttributeTemplate = AttributeTemplate("{c}")
    user_identity_type_format: AttributeTemplate | None = None
    connect_timeout: float = 30.0
    search_timeout: float = 120.0
    ignore_referrals: bool = False

    @property
    def uses_start_tls(self) -> bool:
        return self.require_tls_cert and self.host.lower().startswith("ldap://")

    @property
    def uses_tls(self) -> bool:
        return self.uses_start_tls or self.host.lower().startswith("ldaps://")

    @property
    def user_templates(self) -> tuple[AttributeTemplate, ...]:
        return tuple(template for template in (
            self.user_email_format, self.user_username_format, self.user_domain_format, self.user_given_name_format,
            self.user_surname_format, self.user_country_code_format, self.user_identity_type_format,
        ) if template is not None)

    @classmethod
    def from_config(cls, section: ConfigSection) -> "LdapSettings":
        """Reads every key of connector-ldap.yml; unknown keys are errors naming file and key."""
        host = section.require("host", str).strip()
        if not host.lower().startswith(("ldap://", "ldaps://")):
            raise section.error("host", f"expected ldap://host[:port] or ldaps://host[:port], got '{host}'")
        base_dn = section.require("base_dn", str)
        username = section.get("username", kind=str)
        method = section.get("authentication_method", "simple", str).strip().lower()
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
        if method == "anonymous":
            section.ignore("password", "secure_password_key")
            password = None
        else:
            password = read_secret(section, "password", username, required=method not in _NEEDS_NO_USERNAME)
        require_tls_cert = section.get("require_tls_cert", False, bool)
        tls_verify = section.get("tls_verify", True, bool)
        if require_tls_cert and not tls_verify:
            raise section.error("tls_verify", "cannot be false when require_tls_cert is true")
        ca_cert_file = section.path("ca_cert_file")
        if ca_cert_file is not None and not ca_cert_file.is_file():
            raise section.error("ca_cert_file", f"file not found: {ca_cert_file}")
        encoding = section.get("string_encoding", "utf8", text_encoding)
        parsed_identity_type = section.get("user_identity_type", kind=IdentityType.parse)
        page_size = section.get("search_page_size", DEFAULT_PAGE_SIZE, int)
        if page_size < 0:
            raise section.error("search_page_size", "must be 0 (unpaged) or more")

        two_steps = _two_steps_lookup(section)
        if two_steps is not None and "group_member_filter_format" in section:
            raise section.error("group_member_filter_format", "must not be set together with two_steps_lookup")
        section.ignore("logger_name")
        settings = cls(
            host=host, base_dn=base_dn, username=username, password=password, authentication_method=method,
            require_tls_cert=require_tls_cert, ca_cert_file=ca_cert_file, tls_verify=tls_verify,
            string_encoding=encoding, user_identity_type=parsed_identity_type, search_page_size=page_size,
            all_users_filter=section.get("all_users_filter", DEFAULT_ALL_USERS_FILTER, str),
            group_filter_format=_filter_format(section, "group_filter_format", DEFAULT_GROUP_FILTER_FORMAT, "group"),
            group_member_filter_format=_filter_format(section, "group_member_filter_format",
                                                      DEFAULT_GROUP_MEMBER_FILTER_FORMAT, "group_dn"),
            two_steps_lookup=two_steps,
            dynamic_group_member_attribute=section.get("dynamic_group_member_attribute", kind=str),
            user_email_format=_template(section, "user_email_format", "{mail}"),
            user_username_format=_template(section, "user_username_format", None),
            user_domain_format=_template(section, "user_domain_format", None),
            user_given_name_format=_template(section, "user_given_name_format", "{givenName}"),
            user_surname_format=_template(section, "user_surname_format", "{sn}"),
            user_country_code_format=_template(section, "user_country_code_format", "{c}"),
            user_identity_type_format=_template(section, "user_identity_type_format", None),
            connect_timeout=_positive(section, "connect_timeout", 30.0),
            search_timeout=_positive(section, "search_timeout", 120.0),
            ignore_referrals=section.get("ignore_referrals", False, bool),
        )
        section.finish()
        return settings


def _two_steps_lookup(section: ConfigSection) -> TwoStepsLookup | None:
    if "two_steps_lookup" not in section:
        section.ignore("two_steps_lookup")
        return None
    inner = section.section("two_steps_lookup")
    lookup = TwoStepsLookup(member_attribute=inner.require("group_member_attribute_name", str),
                            nested=inner.get("nested_group", False, bool))
    inner.finish()
    return lookup


def _filter_format(section: ConfigSection, key: str, default: str, placeholder: str) -> str:
    text = section.get(key, default, str)
    try:
        fields = template_fields(text)
    except ValueError as error:
        raise section.error(key, str(error)) from None
    if any(name != placeholder for name in fields) or placeholder not in fields:
        raise section.error(key, f"must contain {{{placeholder}}} and no other placeholder")
    return text


def _template(section: ConfigSection, key: str, default: str | None) -> AttributeTemplate | None:
    text = section.get(key, default, str)
    if text is None:
        return None
    try:
        template_fields(text)
    except ValueError as error:
        raise section.error(key, str(error)) from None
    return AttributeTemplate(text)


def _positive(section: ConfigSection, key: str, default: float) -> float:
    value = section.get(key, default, float)
    if value <= 0:
        raise section.error(key, "must be more than 0 seconds")
    return value
