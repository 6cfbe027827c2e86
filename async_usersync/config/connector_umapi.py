"""connector-umapi.yml: the org's UMAPI connection, read with User Sync's keys (and our
``server.limits``, ``server.max_outage``, ``server.max_retry_after``, ``server.user_group_entries``)
into ``UmapiSettings``.

Source: User Sync's ``connector-umapi.yml`` example and its umapi connector (``server``,
``enterprise``; ``api_key`` is the old name of ``client_id``, ``ims_host`` of ``auth_host``).
"""

from __future__ import annotations

from pathlib import Path

from async_usersync.config.secrets import read_secret
from async_usersync.config.section import ConfigSection, checked_address, read_config_file
from async_usersync.config.settings import FAMILIES, RateLimits, UmapiSettings
from async_usersync.tls import TlsKeys


def read_connector_umapi(file: Path, encoding: str = "utf8") -> tuple[UmapiSettings, bool | None, tuple[str, ...]]:
    """Reads connector-umapi.yml: its settings, its ``server.ssl_verify`` (None when the file does not
    set it: then ``invocation_defaults.ssl_cert_verify`` decides) and warnings for the run's log.
    Raises ConfigError naming the file and the key."""
    (settings, ssl_verify), notes = read_config_file(file, encoding, umapi_settings)
    return settings, ssl_verify, notes


def umapi_settings(section: ConfigSection) -> tuple[UmapiSettings, bool | None]:
    """Reads a ``connector-umapi.yml`` mapping: the settings (``ssl_verify`` true unless the file
    turns it off) and the file's ``server.ssl_verify`` (None when unset). Keys User Sync only warns
    about get a warning: ``uses_business_id`` is deprecated, and a top-level ``ssl_verify`` is never
    read (User Sync reads ``server.ssl_verify`` only). Raises ConfigError naming the file and key."""
    if "uses_business_id" in section.data:
        section.warn("uses_business_id", "is deprecated and has no effect; remove it")
    if "ssl_verify" in section.data:
        section.warn("ssl_verify", "is not read at the top level; only server.ssl_verify is "
                                   "(or invocation_defaults.ssl_cert_verify)")
    settings, ssl_verify = connection_settings(section, "enterprise")
    section.ignore("trusted", "uses_business_id", "ssl_verify")
    return settings, ssl_verify


def connection_settings(section: ConfigSection, credentials: str) -> tuple[UmapiSettings, bool | None]:
    """One org's connection from a connector file: ``authentication_method`` (oauth only), the
    OAuth credential in the section ``credentials`` (``enterprise`` in connector-umapi.yml,
    ``integration`` in connector-adobe-console.yml: ``org_id``, ``client_id`` or its old name
    ``api_key``, ``client_secret``, each secret possibly through ``secure_*_key``) and ``server``;
    also the ``server.ssl_verify`` the file sets (None when unset). Raises ConfigError naming the
    file and key."""
    method = section.get("authentication_method", kind=str)
    credential = section.section(credentials, required=True)
    jwt_keys = [key for key in ("tech_acct_id", "tech_acct", "priv_key_path", "priv_key_data",
                                "secure_priv_key_data_key") if key in credential]
    if (method or "").strip().lower() == "jwt" or (method is None and jwt_keys):
        raise section.error("authentication_method", "JWT (service account) authentication was switched off by "
                            "Adobe in 2026; create an OAuth Server-to-Server credential in the Developer "
                            "Console and set 'authentication_method: oauth'")
    if method is not None and method.strip().lower() != "oauth":
        raise section.error("authentication_method", f"expected 'oauth', got {method!r}")
    if jwt_keys:
        raise credential.error(jwt_keys[0], "only used by JWT authentication; remove it for oauth")

    org_id: str = credential.require("org_id", str)
    if "api_key" in credential and ("client_id" in credential or "secure_client_id_key" in credential):
        raise credential.error("api_key", "give either 'client_id' or its old name 'api_key', not both")
    client_id = read_secret(credential, "api_key" if "api_key" in credential else "client_id", org_id)
    client_secret = read_secret(credential, "client_secret", org_id)
    credential.finish()

    server = section.section("server")
    defaults = UmapiSettings(org_id="", client_id="", client_secret="")
    timeout: float = server.get("timeout", defaults.timeout, float)
    if timeout <= 0:
        raise server.error("timeout", f"must be a number of seconds above 0, got {timeout!r}")
    retries: int = server.get("retries", defaults.retries, int)
    if retries < 1:
        raise server.error("retries", f"is the total number of attempts and must be at least 1, got {retries}")
    max_outage, max_retry_after = (_seconds(server, key, getattr(defaults, key))
                                   for key in ("max_outage", "max_retry_after"))
    ssl_verify: bool | None = server.get("ssl_verify", None, bool)
    settings = UmapiSettings(
        org_id=org_id,
        client_id=client_id,
        client_secret=client_secret,
        host=_host(server, "host", None, defaults.host),
        endpoint=server.get("endpoint", defaults.endpoint, str),
        auth_host=_host(server, "auth_host", "ims_host", defaults.auth_host),
        auth_endpoint=_aliased(server, "auth_endpoint", "ims_endpoint_jwt", defaults.auth_endpoint),
        timeout=timeout,
        retries=retries,
        ssl_verify=True if ssl_verify is None else ssl_verify,
        ca_file=_existing_file(server, "ca_file"),
        tls_keys=TlsKeys(server.where("ssl_verify"), server.where("ca_file")),
        limits=_limits(server.section("limits")),
        max_outage=max_outage,
        max_retry_after=max_retry_after,
        user_group_entries=server.get("user_group_entries", defaults.user_group_entries, bool),
    )
    server.finish()
    return settings, ssl_verify


def _seconds(section: ConfigSection, key: str, default: float) -> float:
    value: float = section.get(key, default, float)
    if value <= 0:
        raise section.error(key, f"must be a number of seconds above 0, got {value!r}")
    return value


def _aliased(section: ConfigSection, key: str, old_key: str, default: str) -> str:
    if key in section and old_key in section:
        raise section.error(old_key, f"give either '{key}' or its old name '{old_key}', not both")
    value: str = section.get(key, None, str) or section.get(old_key, default, str)
    return value


def _host(section: ConfigSection, key: str, old_key: str | None, default: str) -> str:
    """A host name with an optional port (``usermanagement.adobe.io``, ``127.0.0.1:8443``), as
    User Sync puts it after ``https://``; ``old_key``: its old name. Raises ConfigError naming the
    key that gave it for a scheme or a bad port."""
    named = old_key if old_key is not None and old_key in section and key not in section else key
    value = (_aliased(section, key, old_key, default) if old_key else section.get(key, default, str)).strip()
    if "://" in value:
        raise section.error(named, f"give the host name (and port) without https://, got '{value}'")
    checked_address(section, named, f"https://{value}", f"a host name such as {default}")
    return value


def _existing_file(section: ConfigSection, key: str) -> Path | None:
    path = section.path(key)
    if path is not None and not path.is_file():
        raise section.error(key, f"file not found: {path}")
    return path


def _limits(section: ConfigSection) -> RateLimits:
    """``server.limits`` (our addition): ``{action: 10, users: 25, groups: 5, window: 60}``."""
    defaults = RateLimits()
    values: dict[str, float] = {}
    for key in (*FAMILIES, "window"):
        value: float = section.get(key, getattr(defaults, key), float)
        if value <= 0:
            raise section.error(key, f"must be above 0, got {value!r}")
        values[key] = value
    section.finish()
    return RateLimits(action=values["action"], users=values["users"], groups=values["groups"], window=values["window"])
