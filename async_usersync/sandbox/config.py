"""The sandbox's settings: one mutable record, set from the command line and changeable at run time.

``SandboxConfig.update`` is the single way to change settings while serving (PUT /_sandbox/config):
it checks every key and value and raises ``ValueError`` naming the key, so a bad request changes nothing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields
from typing import Any

from async_usersync.sandbox.faults import FaultPlan, parse_fault_plan

FAMILIES = ("action", "users", "groups")
"""Endpoint families that are throttled and can be given faults."""


@dataclass(slots=True)
class RateLimit:
    """Accepted requests per window (60 s divided by the time scale); ``None`` means unlimited."""

    per_client: int | None
    global_: int | None


def default_rate_limits() -> dict[str, RateLimit]:
    """UMAPI's documented limits per minute, per client and global: action 10/100, users 25/100,
    groups 5/100."""
    return {
        "action": RateLimit(per_client=10, global_=100),
        "users": RateLimit(per_client=25, global_=100),
        "groups": RateLimit(per_client=5, global_=100),
    }


@dataclass(slots=True)
class SandboxConfig:
    """Every setting of one sandbox: where it listens, its org and clients, the seeded org, the time
    scale, rate limits, faults, UMAPI's page sizes and request limits, token lifetime and the
    sync-frequency penalty (seconds unless said)."""
    host: str = "127.0.0.1"
    port: int = 8443
    tls: bool = True
    org_id: str = "4D1B8E2F5A6C7D8E9F0A1B2C@AdobeOrg"
    client_id: str = "sandbox-client"
    client_secret: str = "sandbox-secret"
    extra_clients: dict[str, str] = field(default_factory=dict)
    """More integrations (client id -> secret), to see per-client and global limits apart."""
    users: int = 100
    groups: int = 10
    seed: int = 0
    state_file: str | None = None
    time_scale: float = 1.0
    """Every throttle window (and the sync-frequency penalty) is divided by this."""
    throttle: bool = True
    rate_limits: dict[str, RateLimit] = field(default_factory=default_rate_limits)
    faults: FaultPlan = field(default_factory=FaultPlan)
    user_page_size: int = 2000
    group_page_size: int = 400
    max_entries_per_request: int = 10
    max_steps_per_entry: int = 10
    max_names_per_list: int = 10
    max_group_members_for_add: int = 200_000
    """A user-group ``add`` step is refused with ``error.usergroup.exceeds_maximum_member_count`` when
    the group has more members than this (UMAPI's usergroupActionCommands page: 200,000)."""
    token_lifetime: int = 86399
    """Seconds an access token lives (``expires_in``); never scaled."""
    sync_penalty: bool = False
    """Reading page 0 of users or groups twice within ``sync_interval`` earns ``sync_penalty_seconds``."""
    sync_interval: float = 7200.0
    sync_penalty_seconds: int = 2000
    retry_grace: float = 0.25
    """Seconds after a 429 during which requests on other connections are taken as already sent."""

    @property
    def clients(self) -> dict[str, str]:
        """Client id -> secret, for every integration the IMS side accepts."""
        return {**self.extra_clients, self.client_id: self.client_secret}

    @property
    def window_seconds(self) -> float:
        """The throttle window: 60 seconds divided by ``time_scale``."""
        return 60.0 / self.time_scale

    def copy(self) -> "SandboxConfig":
        """A deep copy (``update`` checks changes on one before applying them)."""
        return copy.deepcopy(self)

    def update(self, changes: dict[str, Any]) -> None:
        """Applies run-time changes atomically: all keys are checked before any is applied."""
        candidate = self.copy()
        for key, value in changes.items():
            _apply(candidate, key, value)
        for item in fields(self):
            setattr(self, item.name, getattr(candidate, item.name))


_RUNTIME_KEYS = {
    "time_scale": float,
    "throttle": bool,
    "user_page_size": int,
    "group_page_size": int,
    "max_entries_per_request": int,
    "max_steps_per_entry": int,
    "max_names_per_list": int,
    "max_group_members_for_add": int,
    "token_lifetime": int,
    "sync_penalty": bool,
    "sync_interval": float,
    "sync_penalty_seconds": int,
    "retry_grace": float,
}


def _apply(config: SandboxConfig, key: str, value: Any) -> None:
    if key == "extra_clients":
        if not isinstance(value, dict) or not all(isinstance(v, str) and isinstance(k, str) for k, v in value.items()):
            raise ValueError(f"extra_clients: expected an object of client id -> secret, got {value!r}")
        config.extra_clients = dict(value)
    elif key == "faults":
        config.faults = parse_fault_plan(value)
    elif key == "rate_limits":
        config.rate_limits = parse_rate_limits(value, base=config.rate_limits)
    elif key in _RUNTIME_KEYS:
        config_type = _RUNTIME_KEYS[key]
        if isinstance(value, bool) != (config_type is bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{key}: expected {config_type.__name__}, got {value!r}")
        if config_type is int and value != int(value):
            raise ValueError(f"{key}: expected a whole number, got {value!r}")
        if config_type is not bool and value <= 0:
            raise ValueError(f"{key}: must be greater than 0, got {value!r}")
        setattr(config, key, config_type(value))
    else:
        raise ValueError(f"{key}: not a setting that can change at run time")


def parse_rate_limits(value: Any, base: dict[str, RateLimit] | None = None) -> dict[str, RateLimit]:
    """Reads ``{"action": {"per_client": 10, "global": 100}, ...}`` or ``"action=10/100,groups=5/50"``.

    Families not named keep their ``base`` limits; a limit of 0 or null means unlimited.
    """
    limits = copy.deepcopy(base) if base is not None else default_rate_limits()
    if isinstance(value, str):
        parsed: dict[str, Any] = {}
        for part in filter(None, (chunk.strip() for chunk in value.split(","))):
            family, _, numbers = part.partition("=")
            per_client, _, global_ = numbers.partition("/")
            try:
                parsed[family.strip()] = {"per_client": int(per_client), "global": int(global_ or 0)}
            except ValueError:
                raise ValueError(f"rate_limits: expected FAMILY=PER_CLIENT/GLOBAL, got {part!r}") from None
        value = parsed
    if not isinstance(value, dict):
        raise ValueError(f"rate_limits: expected an object keyed by family, got {value!r}")
    for family, limit in value.items():
        if family not in FAMILIES:
            raise ValueError(f"rate_limits.{family}: unknown endpoint family (expected one of {', '.join(FAMILIES)})")
        if not isinstance(limit, dict) or not set(limit) <= {"per_client", "global"}:
            raise ValueError(f"rate_limits.{family}: expected {{\"per_client\": N, \"global\": N}}, got {limit!r}")
        for name in ("per_client", "global"):
            number = limit.get(name, getattr(limits[family], "global_" if name == "global" else name))
            if number is not None and (isinstance(number, bool) or not isinstance(number, int) or number < 0):
                raise ValueError(f"rate_limits.{family}.{name}: expected a whole number >= 0, got {number!r}")
            setattr(limits[family], "global_" if name == "global" else name, number or None)
    return limits
