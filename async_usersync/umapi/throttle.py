"""The pace of one endpoint family: an exact-wakeup token bucket with an adaptive rate.

Why not asyncio-throttle (the dependency first chosen): it re-checks every blocked waiter every
10 ms, so a thousand queued requests cost a hundred thousand wake-ups a second, it lets a whole
window go out at once, and it has no notion of Retry-After. benchmarks/push.py measures it side by
side. Here every waiter sleeps on one future in a FIFO, and a single timer is set for the exact
moment the next token is due, so a blocked request costs nothing until it may go.

Shape of the bucket: it refills at ``(1 - margin)`` times the limit and holds at most
``max(1, margin * limit)`` tokens. That capacity is the largest that can never put more than
``limit`` requests into any window, whether the server counts in fixed windows, a sliding log or a
token bucket (Adobe does not say which): over any window the bucket releases at most
``capacity + (1 - margin) * limit`` requests. The margin also absorbs jitter between our clock
and the server's.

Adaptive layer: a 429 pauses the family until its Retry-After has passed and lowers the rate
(multiplicative decrease, but never below what the server did accept over the last window).
After a quiet spell of ``hold_windows`` windows, each further window without a 429 raises the rate
by ``increase_fraction`` of the limit until the configured limit is reached again.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass


@dataclass(slots=True)
class ThrottleStats:
    throttled: int = 0
    """429 answers received."""
    paused_seconds: float = 0.0
    decreases: int = 0
    increases: int = 0


class AdaptiveBucket:
    def __init__(
        self,
        limit: float,
        window: float,
        *,
        margin: float = 0.005,
        decrease_factor: float = 0.5,
        increase_fraction: float = 0.02,
        hold_windows: float = 20.0,
        floor_fraction: float = 0.02,
    ) -> None:
        self.window = window
        self.margin = margin
        self.max_rate = limit * (1.0 - margin) / window
        self.rate = self.max_rate
        self.capacity = max(1.0, limit * margin)
        self.decrease_factor = decrease_factor
        self.increase_step = limit * increase_fraction / window
        self.hold = hold_windows * window
        self.min_rate = limit * floor_fraction / window
        self.stats = ThrottleStats()
        self._tokens = self.capacity
        self._updated = time.monotonic()
        self._paused_until = 0.0
        self._last_throttle = float("-inf")
        self._last_increase = float("-inf")
        self._accepted: deque[float] = deque()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def paused_until(self) -> float:
        """``time.monotonic()`` time before which nothing of this family may be sent."""
        return self._paused_until

    async def acquire(self) -> None:
        """Waits, in arrival order, until a request may be sent."""
        if not self._waiters and self._take():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        self._arm()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self._tokens += 1.0  # granted to a request that no longer goes out
            else:
                self._waiters.remove(future)
            self._arm()
            raise

    def accepted(self) -> None:
        """The server took a request: the rate may grow back after a quiet spell."""
        now = time.monotonic()
        self._accepted.append(now)
        self._forget_old(now)
        quiet_since = max(self._last_throttle + self.hold, self._last_increase + self.window)
        if self.rate < self.max_rate and now >= quiet_since:
            self.rate = min(self.max_rate, self.rate + self.increase_step)
            self._last_increase = now
            self.stats.increases += 1

    def throttled(self, retry_after: float) -> None:
        """A 429: every sender of this family waits ``retry_after`` seconds, then goes slower."""
        now = time.monotonic()
        self.stats.throttled += 1
        self._forget_old(now)
        served_rate = len(self._accepted) / self.window * (1.0 - self.margin)
        lowered = max(self.rate * self.decrease_factor, min(served_rate, self.rate), self.min_rate)
        if lowered < self.rate:
            self.rate = lowered
            self.stats.decreases += 1
        self._last_throttle = now
        self.pause(retry_after)

    def pause(self, seconds: float) -> None:
        """Nothing goes out for ``seconds``; then one request may go at once."""
        until = time.monotonic() + seconds
        if until <= self._paused_until:
            return
        self.stats.paused_seconds += until - max(self._paused_until, time.monotonic())
        self._paused_until = until
        self._tokens = 1.0
        self._updated = until
        self._arm()

    def _forget_old(self, now: float) -> None:
        while self._accepted and self._accepted[0] <= now - self.window:
            self._accepted.popleft()

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now

    def _take(self) -> bool:
        now = time.monotonic()
        if now < self._paused_until:
            return False
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def _arm(self) -> None:
        """Sets the one timer for the moment the head waiter's token is due."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()
        if not self._waiters:
            return
        now = time.monotonic()
        self._refill(now)
        due = max(now, self._updated, self._paused_until) + max(0.0, 1.0 - self._tokens) / self.rate
        loop = asyncio.get_running_loop()
        self._timer = loop.call_at(loop.time() + (due - now), self._release)

    def _release(self) -> None:
        self._timer = None
        while self._waiters:
            head = self._waiters[0]
            if head.done():
                self._waiters.popleft()
            elif self._take():
                self._waiters.popleft().set_result(None)
            else:
                break
        self._arm()
