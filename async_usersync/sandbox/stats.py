"""Counters per endpoint family, for GET /_sandbox/stats (benchmarks read them to prove the client's pace)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STATS_FAMILIES = ("action", "users", "groups", "ims")


@dataclass(slots=True)
class FamilyStats:
    """Counters of one endpoint family since the last reset."""
    requests: int = 0
    ok: int = 0
    """2xx answers."""
    throttled: int = 0
    """429 answers."""
    client_errors: int = 0
    """Other 4xx answers."""
    server_errors: int = 0
    """5xx answers (injected faults)."""
    resets: int = 0
    commands_applied: int = 0
    """Action entries that completed (not counted in test mode)."""
    steps_applied: int = 0
    inside_retry_after: int = 0
    """Requests sent before a Retry-After this sandbox gave the same client had passed."""
    sync_starts: int = 0
    """Requests that carried ``Pragma: umapi-sync-start`` (a retry repeats it and counts again)."""
    sync_ends: int = 0
    """Requests that carried ``Pragma: umapi-sync-end``."""
    accepted_per_second: list[int] = field(default_factory=list)
    """Requests the throttle let through, per whole second since the run (or last reset) began."""

    def count_status(self, status: int) -> None:
        """Counts one answer by its HTTP status: 2xx, 429, other 4xx or 5xx."""
        if status < 300:
            self.ok += 1
        elif status == 429:
            self.throttled += 1
        elif status >= 500:
            self.server_errors += 1
        else:
            self.client_errors += 1

    def count_pragma(self, pragma: str | None) -> None:
        """Counts the ``umapi-sync-start`` / ``umapi-sync-end`` tokens of a request's Pragma header."""
        if pragma:
            tokens = {token.strip().lower() for token in pragma.split(",")}
            self.sync_starts += "umapi-sync-start" in tokens
            self.sync_ends += "umapi-sync-end" in tokens

    def count_accepted(self, second: int) -> None:
        """Counts one request the throttle let through in whole second ``second`` since the start."""
        per_second = self.accepted_per_second
        if second >= len(per_second):
            per_second.extend([0] * (second + 1 - len(per_second)))
        per_second[second] += 1


class SandboxStats:
    """Counters per family (``STATS_FAMILIES``) since ``started`` (``time.monotonic()``)."""
    def __init__(self, started: float) -> None:
        self.started = started
        self.families = {family: FamilyStats() for family in STATS_FAMILIES}

    def to_json(self, now: float) -> dict[str, Any]:
        """GET /_sandbox/stats's body: ``elapsed_seconds`` at ``now`` and each family's counters."""
        return {"elapsed_seconds": round(now - self.started, 3), "families": {n: asdict(s) for n, s in self.families.items()}}
