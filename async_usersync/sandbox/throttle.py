"""Rate limits as UMAPI applies them: per client and global, per endpoint family, over a sliding window.

A sliding log (the times of accepted requests) keeps the promise exactly: in no window of
``config.window_seconds`` are more requests accepted than the limit. A refused request gets the whole
seconds until a slot frees (at least 1). The throttle also remembers the Retry-After it told each
client, to count the requests a client sends before that time has passed.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from async_usersync.sandbox.config import SandboxConfig


@dataclass(frozen=True, slots=True)
class Verdict:
    retry_after: int | None
    """``None``: accepted. Otherwise whole seconds the client must wait."""
    inside_told_wait: bool
    """The client sent this before a Retry-After we gave it had passed."""


class Throttle:
    def __init__(self, config: SandboxConfig) -> None:
        self._config = config
        self._client_log: dict[tuple[str, str], deque[float]] = {}
        self._global_log: dict[str, deque[float]] = {}
        self._told_until: dict[tuple[str, str], float] = {}
        self._penalty_until: dict[str, float] = {}
        self._last_page_zero: dict[tuple[str, str], float] = {}

    def reset(self) -> None:
        self.__init__(self._config)  # type: ignore[misc]

    def check(self, family: str, client: str, now: float) -> Verdict:
        key = (family, client)
        inside = now < self._told_until.get(key, 0.0) or now < self._penalty_until.get(client, 0.0)
        penalty_left = self._penalty_until.get(client, 0.0) - now
        if penalty_left > 0:
            return Verdict(self._tell(family, client, now, penalty_left), inside)
        config = self._config
        limit = config.rate_limits.get(family)
        if not config.throttle or limit is None:
            return Verdict(None, inside)
        window = config.window_seconds
        client_log = self._client_log.setdefault(key, deque())
        global_log = self._global_log.setdefault(family, deque())
        wait = max(
            _wait_for_slot(client_log, limit.per_client, now, window),
            _wait_for_slot(global_log, limit.global_, now, window),
        )
        if wait > 0:
            return Verdict(self._tell(family, client, now, wait), inside)
        if limit.per_client is not None:
            client_log.append(now)
        if limit.global_ is not None:
            global_log.append(now)
        return Verdict(None, inside)

    def note_page_zero(self, listing: str, client: str, now: float) -> int | None:
        """With the sync-frequency penalty on, a second read of page 0 too soon blocks the client.

        Returns the Retry-After when the penalty starts, else ``None``.
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
        self._penalty_until[client] = now + penalty
        return self._tell(listing, client, now, penalty)

    def _tell(self, family: str, client: str, now: float, wait: float) -> int:
        retry_after = max(1, math.ceil(wait))
        key = (family, client)
        self._told_until[key] = max(self._told_until.get(key, 0.0), now + retry_after)
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
