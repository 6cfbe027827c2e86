"""Connection settings for UMAPI, read from User Sync's ``connector-umapi.yml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from async_usersync.config.section import ConfigSection
from async_usersync.config.secrets import read_secret

FAMILIES = ("action", "users", "groups")


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
        return getattr(self, family) / self.window


@dataclass(frozen=True)
class UmapiSettings:
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

    @property
    def base_url(self) -> str:
        return f"https://{self.host}/{self.endpoint.strip('/')}"

    @property
    def token_url(self) -> str:
        return f"https://{self.auth_host}/{self.auth_endpoint.strip('/')}"

    @classmethod
    def from_config(cls, section: ConfigSection, ssl_cert_verify: bool = True) -> "UmapiSettings":
        """Reads a ``connector-umapi.yml`` mapping; every error names the file and the key.

        ``ssl_cert_verify`` is User Sync's ``invocation_defaults.ssl_cert_verify``; ``server.ssl_verify``
        overrides it for this connector.
        """
        method = section.get("authentication_method", kind=str)
        enterprise = section.section("enterprise", required=True)
        jwt_keys = [key for key in ("tech_acct_id", "tech_acct", "priv_key_path", "priv_key_data",
                                    "secure_priv_key_data_key") if key in enterprise]
        if (method or "").strip().lower() == "jwt" or (method is None and jwt_keys):
            raise section.error("authentication_method", "JWT (service account) authentication was switched off by "
                                "Adobe in 2026; create an OAuth Server-to-Server credential in the Developer "
                                "Console and set 'authentication_method: oauth'")
        if method is not None and method.strip().lower() != "oauth":
            raise section.error("authentication_method", f"expected 'oauth', got {method!r}")
        if jwt_keys:
            raise enterprise.error(jwt_keys[0], "only used by JWT authentication; remove it for oauth")

        org_id = enterprise.require("org_id", str)
        if "api_key" in enterprise and ("client_id" in enterprise or "secure_client_id_key" in enterprise):
            raise enterprise.error("api_key", "give either 'client_id' or its old name 'api_key', not both")
        if "api_key" in enterprise:
            client_id = read_secret(enterprise, "api_key", org_id)
        else:
            client_id = read_secret(enterprise, "client_id", org_id)
        client_secret = read_secret(enterprise, "client_secret", org_id)
        enterprise.finish()

        server = section.section("server")
        defaults = cls(org_id="", client_id="", client_secret="")
        timeout = server.get("timeout", defaults.timeout, float)
        if timeout <= 0:
            raise server.error("timeout", f"must be a number of seconds above 0, got {timeout!r}")
        retries = server.get("retries", defaults.retries, int)
        if retries < 1:
            raise server.error("retries", f"is the total number of attempts and must be at least 1, got {retries}")
        give_up: dict[str, float] = {}
        for key in ("max_outage", "max_retry_after"):
            give_up[key] = server.get(key, getattr(defaults, key), float)
            if give_up[key] <= 0:
                raise server.error(key, f"must be a number of seconds above 0, got {give_up[key]!r}")
        settings = cls(
            org_id=org_id,
            client_id=client_id,
            client_secret=client_secret,
            host=server.get("host", defaults.host, str),
            endpoint=server.get("endpoint", defaults.endpoint, str),
            auth_host=_aliased(server, "auth_host", "ims_host", defaults.auth_host),
            auth_endpoint=_aliased(server, "auth_endpoint", "ims_endpoint_jwt", defaults.auth_endpoint),
            timeout=timeout,
            retries=retries,
            ssl_verify=server.get("ssl_verify", ssl_cert_verify, bool),
            ca_file=_existing_file(server, "ca_file"),
            limits=_limits(server.section("limits")),
            **give_up,
        )
        server.finish()
        section.ignore("trusted", "uses_business_id", "ssl_verify")
        section.finish()
        return settings


def _aliased(section: ConfigSection, key: str, old_key: str, default: str) -> str:
    if key in section and old_key in section:
        raise section.error(old_key, f"give either '{key}' or its old name '{old_key}', not both")
    return section.get(key, None, str) or section.get(old_key, default, str)


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
        value = section.get(key, getattr(defaults, key), float)
        if value <= 0:
            raise section.error(key, f"must be above 0, got {value!r}")
        values[key] = value
    section.finish()
    return RateLimits(**values)
