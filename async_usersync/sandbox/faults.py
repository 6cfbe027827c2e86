"""Injected faults: a share of 500/502/503/504 answers, connection resets and slow answers per endpoint family.

Spec syntax (``--faults`` and PUT /_sandbox/config)::

    action:503=0.1,reset=0.05;users:slow=0.2@1.5;*:502=0.01

``FAMILY:KIND=SHARE`` pairs, families separated by ``;``. ``*`` means every family. KIND is 500,
502, 503, 504 (that answer instead of the real one; a client retries the last three, not 500),
``429`` (a 429 whose Retry-After is ``429=SHARE@SECONDS``, 1 s when omitted; never time-scaled),
``reset`` (connection dropped before the request is handled), ``lost`` (handled, then the
connection dropped: the client never hears of a change that was made) or ``slow`` (answered late);
``slow=SHARE@SECONDS`` sets the delay (1 s when omitted). A JSON object of the same shape
(``{"action": {"503": 0.1, "slow": 0.2, "slow_seconds": 1.5, "429": 0.1, "retry_after": 3600}}``)
is accepted too.
One random draw per request picks at most one fault, so the run repeats exactly under the same seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

FAULT_FAMILIES = ("action", "users", "groups", "ims")
STATUS_KINDS = ("500", "502", "503", "504")


@dataclass(slots=True)
class FamilyFaults:
    """The faults of one endpoint family: the share of requests each kind takes, and its delays (seconds)."""
    shares: dict[str, float] = field(default_factory=dict)
    """Kind (``500``, ``502``, ``503``, ``504``, ``reset``, ``lost``, ``slow``) -> share of requests, 0..1."""
    slow_seconds: float = 1.0
    retry_after: float = 1.0
    """The Retry-After of an injected 429, in seconds."""


@dataclass(frozen=True, slots=True)
class Fault:
    """The fault drawn for one request."""
    kind: str
    """``429``, ``500``, ``502``, ``503``, ``504``, ``reset``, ``lost`` or ``slow``."""
    delay: float = 0.0
    """Seconds: the delay of ``slow``, the Retry-After of ``429``."""


@dataclass(slots=True)
class FaultPlan:
    """Faults per endpoint family (``action``, ``users``, ``groups``, ``ims``); empty: none."""
    families: dict[str, FamilyFaults] = field(default_factory=dict)

    def draw(self, family: str, rng: random.Random) -> Fault | None:
        """The fault for one request of ``family`` (one draw of ``rng``), or None for a normal answer."""
        faults = self.families.get(family)
        if faults is None:
            return None
        roll = rng.random()
        for kind, share in faults.shares.items():
            if roll < share:
                return Fault(kind, {"slow": faults.slow_seconds, "429": faults.retry_after}.get(kind, 0.0))
            roll -= share
        return None

    def describe(self) -> dict[str, Any]:
        """The plan as the JSON object ``parse_fault_plan`` accepts."""
        return {
            family: {**faults.shares, "slow_seconds": faults.slow_seconds, "retry_after": faults.retry_after}
            for family, faults in self.families.items()
        }


def parse_fault_plan(value: Any, families: tuple[str, ...] = FAULT_FAMILIES) -> FaultPlan:
    """Reads a spec string or JSON object (see the module docstring) over ``families`` (the UMAPI
    sandbox's by default; the fake Okta server has its own); ``ValueError`` names the bad part."""
    if value is None or value == "":
        return FaultPlan()
    if isinstance(value, str):
        value = _spec_to_mapping(value)
    if not isinstance(value, dict):
        raise ValueError(f"faults: expected a spec string or an object keyed by family, got {value!r}")
    plan = FaultPlan()
    for family, settings in value.items():
        targets = families if family == "*" else (family,)
        if family != "*" and family not in families:
            raise ValueError(f"faults.{family}: unknown family (expected one of {', '.join(families)} or *)")
        if not isinstance(settings, dict):
            raise ValueError(f"faults.{family}: expected an object of shares, got {settings!r}")
        for target in targets:
            _merge(plan.families.setdefault(target, FamilyFaults()), family, settings)
    for family, faults in plan.families.items():
        if sum(faults.shares.values()) > 1.0 + 1e-9:
            raise ValueError(f"faults.{family}: the shares add up to more than 1")
    return plan


def _merge(target: FamilyFaults, family: str, settings: dict[str, Any]) -> None:
    for kind, number in settings.items():
        kind = str(kind)
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise ValueError(f"faults.{family}.{kind}: expected a number, got {number!r}")
        if kind in ("slow_seconds", "retry_after"):
            if number < 0:
                raise ValueError(f"faults.{family}.{kind}: must be >= 0, got {number!r}")
            setattr(target, kind, float(number))
        elif kind in (*STATUS_KINDS, "429", "reset", "lost", "slow"):
            if not 0.0 <= number <= 1.0:
                raise ValueError(f"faults.{family}.{kind}: a share must be between 0 and 1, got {number!r}")
            target.shares[kind] = float(number)
        else:
            raise ValueError(f"faults.{family}.{kind}: unknown fault (expected 429, 500, 502, 503, 504, reset, lost, slow)")


def _spec_to_mapping(spec: str) -> dict[str, dict[str, float]]:
    mapping: dict[str, dict[str, float]] = {}
    for section in filter(None, (part.strip() for part in spec.split(";"))):
        family, colon, pairs = section.partition(":")
        if not colon:
            raise ValueError(f"faults: expected FAMILY:KIND=SHARE,..., got {section!r}")
        settings = mapping.setdefault(family.strip(), {})
        for pair in filter(None, (part.strip() for part in pairs.split(","))):
            kind, equals, number = pair.partition("=")
            share, at, seconds = number.partition("@")
            try:
                if not equals:
                    raise ValueError
                settings[kind.strip()] = float(share)
                if at:
                    settings["retry_after" if kind.strip() == "429" else "slow_seconds"] = float(seconds)
            except ValueError:
                raise ValueError(f"faults: expected KIND=SHARE (or slow=SHARE@SECONDS, 429=SHARE@SECONDS), got {pair!r}") from None
    return mapping
