"""Rate limits as UMAPI applies them: per client and global, per endpoint family, over a sliding window.

A sliding log (the times of accepted requests) keeps the promise exactly: in no window of
``config.window_seconds`` are more requests accepted than the limit. A refused request gets the whole
seconds until a slot frees (at least 1).

The throttle also remembers each Retry-After it told a client, to count the requests the client sends
before that time has passed. A request is counted when it is sure the client had the answer: it came
on the same connection after the 429, or it came ``retry_grace`` seconds or more after the 429 (requests
arriving sooner on other connections were most likely on the wire already).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from async_usersync.sandbox.config import SandboxConfig

EVERY_FAMILY = "*"
"""Key of a told wait that covers every family (the sync-frequency penalty)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """The throttle's answer to one request: accepted or a Retry-After, and whether the client sent
    it inside a wait it had been told."""
    retry_after: int | None
    """``None``: accepted. Otherwise whole seconds the client must wait."""
    inside_told_wait: bool
    """The client sent this knowing a Retry-After we gave it had not passed."""


@dataclass(frozen=True, slots=True)
class _ToldWait:
    told_at: float
    until: float
    connection: object


class Throttle:
    """UMAPI's rate limits for one sandbox: a sliding log per client and per family (see the module
    docstring), the Retry-Afters told, and the sync-frequency penalty."""
    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        self.clear()

    def clear(self) -> None:
        """Forgets every accepted request, told wait and page-0 read (a reset)."""
        self._client_log: dict[tuple[str, str], deque[float]] = {}
        self._global_log: dict[str, deque[float]] = {}
        self._told: dict[tuple[str, str], _ToldWait] = {}
        self._last_page_zero: dict[tuple[str, str], float] = {}

    def check(self, family: str, client: str, now: float, connection: object) -> Verdict:
        """Whether ``client`` may have a ``family`` request at ``now`` (``time.monotonic()`` seconds):
        accepted and logged, or a Retry-After in whole seconds; also whether it came inside a wait told before."""
        inside = self._inside(family, client, now, connection) or self._inside(EVERY_FAMILY, client, now, connection)
        penalty = self._told.get((EVERY_FAMILY, client))
        if penalty is not None and now < penalty.until:
            return Verdict(self._tell(family, client, now, penalty.until - now, connection), inside)
        config = self._config
        limit = config.rate_limits.get(family)
        if not config.throttle or limit is None:
            return Verdict(None, inside)
        window = config.window_seconds
        client_log = self._client_log.setdefault((family, client), deque())
        global_log = self._global_log.setdefault(family, deque())
        wait = max(
            _wait_for_slot(client_log, limit.per_client, now, window),
            _wait_for_slot(global_log, limit.global_, now, window),
        )
        if wait > 0:
            return Verdict(self._tell(family, client, now, wait, connection), inside)
        if limit.per_client is not None:
            client_log.append(now)
        if limit.global_ is not None:
            global_log.append(now)
        return Verdict(None, inside)

    def note_page_zero(self, listing: str, client: str, now: float, connection: object) -> int | None:
        """With the sync-frequency penalty on, a second read of page 0 too soon blocks the client.

        Returns the penalty's Retry-After when it starts, else ``None``.
        """
        config = self._config
        if not config.sync_penalty:
            return None
        key = (listing, client)
        previous = self._last_page_zero.get(key)
        self._last_page_zero[key] = now
        if previous is None or now - previous >= config.sync_interval / config.time_scale:
            return None
        penalty = max(1.0, config.sync_penalty_seconds / config.time_scale)
        return self._tell(EVERY_FAMILY, client, now, penalty, connection)

    def _inside(self, family: str, client: str, now: float, connection: object) -> bool:
        told = self._told.get((family, client))
        if told is None or now >= told.until:
            return False
        return connection is told.connection or now - told.told_at >= self._config.retry_grace

    def _tell(self, family: str, client: str, now: float, wait: float, connection: object) -> int:
        retry_after = max(1, math.ceil(wait))
        key = (family, client)
        earlier = self._told.get(key)
        until = max(now + retry_after, earlier.until if earlier is not None else 0.0)
        self._told[key] = _ToldWait(now, until, connection)
        return retry_after


def _wait_for_slot(log: deque[float], limit: int | None, now: float, window: float) -> float:
    if limit is None:
        return 0.0
    horizon = now - window
    while log and log[0] <= horizon:
        log.popleft()
    if len(log) < limit:
        return 0.0
    return log[len(log) - limit] + window - now
