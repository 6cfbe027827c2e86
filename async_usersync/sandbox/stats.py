"""Counters per endpoint family, for GET /_sandbox/stats (benchmarks read them to prove the client's pace)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

STATS_FAMILIES = ("action", "users", "groups", "ims")


@dataclass(slots=True)
class FamilyStats:
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
        if status < 300:
            self.ok += 1
        elif status == 429:
            self.throttled += 1
        elif status >= 500:
            self.server_errors += 1
        else:
            self.client_errors += 1

    def count_pragma(self, pragma: str | None) -> None:
        if pragma:
            tokens = {token.strip().lower() for token in pragma.split(",")}
            self.sync_starts += "umapi-sync-start" in tokens
            self.sync_ends += "umapi-sync-end" in tokens

    def count_accepted(self, second: int) -> None:
        per_second = self.accepted_per_second
        if second >= len(per_second):
            per_second.extend([0] * (second + 1 - len(per_second)))
        per_second[second] += 1


class SandboxStats:
    def __init__(self, started: float) -> None:
        self.started = started
        self.families = {family: FamilyStats() for family in STATS_FAMILIES}

    def to_json(self, now: float) -> dict[str, Any]:
        return {"elapsed_seconds": round(now - self.started, 3), "families": {n: asdict(s) for n, s in self.families.items()}}
