"""The pace of one endpoint family: an exact-wakeup token bucket with an adaptive rate.

Why not asyncio-throttle (the dependency first chosen): it re-checks every blocked waiter every
10 ms, so a thousand queued requests cost a hundred thousand wake-ups a second (benchmarks/push.py
--limiters: 0.5 to 0.8 CPU-seconds a second, 25 to 75 times this bucket, and in one run 11
requests in a window of 10), it lets a whole window go out at once, and it has no notion of
Retry-After. Here every waiter sleeps on one future
in a FIFO, and one timer is set for the exact moment the next request may go.

Two rules decide that moment:

* Pacing: tokens refill at the limit, spread evenly over the window, and the bucket holds a few
  tokens (``CATCH_UP``, or 5 % of a window's worth when that is more). Spreading matters when the
  server's real limit is lower than ours: the first 429 comes back before the next request
  leaves, so nothing is sent inside a Retry-After window.
* The window: each request holds one of ``limit`` places until one window after its answer came
  back. The server counted the request at some moment before that answer, so however the network
  or either event loop lagged, no window as the server sees it ever holds more than ``limit``
  requests, whether it counts in fixed windows, a sliding log or a token bucket (Adobe does not
  say which). The cost is one round trip per window.

Adaptive layer: a 429 pauses the whole family until its Retry-After has passed and lowers the
limit (multiplicative decrease, but never below what the server accepted over the last window).
After a quiet spell of ``hold_windows`` windows, each further window without a 429 raises the
limit by ``increase_fraction`` of the configured one, back up to it (additive increase). Each raise
is a probe: a 429 that answers one means the server's limit is where we were, so the quiet spell
before the next probe doubles (up to ``max_hold_windows``); reaching the configured limit again
restores it. Against a server whose true limit is below ours, probes (and their 429s) thus thin
out instead of recurring every ``hold_windows``.

Outages (``outage()``): the family pauses, then lets one request through at a time, a probe, until
``accepted()`` says the server is back; the retry policy (``policy.py``) picks the pause. ``stop()``
ends the family for the run: every waiter, and every later ``acquire()``, raises ``NotSent``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from dataclasses import dataclass

from async_usersync.umapi.errors import NotSent

CATCH_UP = 5.0
"""Tokens the pacing bucket holds at least: after a stall of the event loop (a garbage collection
during a large read, say) the next few requests may go at once and the pace is kept. This never
becomes a burst against the server: with every place taken, places come back one at a time."""
WINDOW_GUARD = 1.001
"""Places come back a thousandth of a window late, against clock granularity."""


@dataclass(slots=True)
class ThrottleStats:
    """What one family's bucket met in a run: 429s, seconds paused by Retry-After, limit changes."""
    throttled: int = 0
    """429 answers received."""
    paused_seconds: float = 0.0
    decreases: int = 0
    increases: int = 0
    failed_probes: int = 0
    """429s that answered a raise of the limit (each doubles the quiet spell before the next)."""


class AdaptiveBucket:
    """The pace of one endpoint family: at most ``limit`` requests a ``window`` (seconds), spread
    evenly, with the limit lowered by 429s and raised back by quiet windows (see the module docstring).
    ``acquire()`` raises ``NotSent`` once ``stop()`` was called."""
    def __init__(
        self,
        limit: float,
        window: float,
        *,
        decrease_factor: float = 0.5,
        increase_fraction: float = 0.02,
        hold_windows: float = 20.0,
        max_hold_windows: float = 160.0,
        floor_fraction: float = 0.02,
    ) -> None:
        self.window = window
        self.max_limit = limit
        self.limit = limit
        """Requests per window allowed now; lowered by 429s, raised back by quiet windows."""
        self.decrease_factor = decrease_factor
        self.increase_step = limit * increase_fraction
        self.base_hold = hold_windows * window
        self.max_hold = max(max_hold_windows * window, self.base_hold)
        self.hold = self.base_hold
        """Quiet time after a 429 before the first probe; doubled by each failed probe."""
        self.min_limit = max(1.0, limit * floor_fraction)
        self.stats = ThrottleStats()
        self._tokens = self._capacity
        self._updated = time.monotonic()
        self._in_window = 0
        self._paused_until = 0.0
        self._last_throttle = float("-inf")
        self._last_increase = float("-inf")
        self._accepted: deque[float] = deque()
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self.accepted_count = 0
        """Requests the server took, in all."""
        self._probing = False
        """After an outage: one request at a time until one is accepted."""
        self._probe_out = False
        self._stopped: str | None = None
        self._stopping: asyncio.Future[None] | None = None
        """Made by the first ``back_off()``, done at ``stop()``."""

    @property
    def rate(self) -> float:
        """Requests per second allowed now."""
        return self.limit / self.window

    @property
    def paused_until(self) -> float:
        """``time.monotonic()`` time before which nothing of this family may be sent."""
        return self._paused_until

    @property
    def _capacity(self) -> float:
        return max(CATCH_UP, self.limit * 0.05)

    @property
    def _places(self) -> int:
        return max(1, math.floor(self.limit + 1e-9))

    async def acquire(self) -> None:
        """Waits, in arrival order, until a request may be sent; call ``done()`` once it is answered.

        Raises ``NotSent`` once ``stop()`` was called (at once, or while waiting)."""
        if self._stopped is not None:
            raise NotSent(self._stopped)
        if not self._waiters and self._take():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        if self._timer is None:  # a set timer is for the head waiter, whom a newcomer at the tail does not change
            self._arm()
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():  # granted to a request that never went out
                self._tokens += 1.0
                self._in_window -= 1
                self._probe_out = False
            # A cancelled future stays in the queue: it is done, so the timer skips it (removing it
            # here would race with the timer, which may have dropped it already).
            self._arm()
            raise

    def done(self) -> None:
        """A request let through by ``acquire()`` has its answer (or was given up): its place frees a
        window later. A probe's answer lets the next probe go (``outage``) or everyone (``accepted``)."""
        self._probe_out = False
        asyncio.get_running_loop().call_later(self.window * WINDOW_GUARD, self._free_place)

    def outage(self, seconds: float) -> None:
        """The server is unreachable or failing (no answer, 502, 503, 504): nothing goes out for
        ``seconds``, then one request at a time (a probe) until one is accepted."""
        self._probing = True
        self.pause(seconds)

    async def back_off(self, seconds: float) -> None:
        """Waits ``seconds`` outside the queue (one request backing off alone while the others go on),
        or until ``stop()`` is called, whichever comes first."""
        if self._stopped is not None:
            return
        if self._stopping is None:
            self._stopping = asyncio.get_running_loop().create_future()
        await asyncio.wait([self._stopping], timeout=seconds)

    def stop(self, reason: str) -> None:
        """Nothing of this family is sent any more: every waiter, now and later, gets ``NotSent(reason)``."""
        if self._stopped is not None:
            return
        self._stopped = reason
        if self._stopping is not None:
            self._stopping.set_result(None)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(NotSent(reason))

    @property
    def stopped(self) -> str | None:
        """Why ``stop()`` was called, or ``None``."""
        return self._stopped

    def accepted(self) -> None:
        """The server took a request: an outage is over, and the limit may grow back after a quiet spell."""
        self.accepted_count += 1
        if self._probing:
            self._probing = False
            self._arm()
        now = time.monotonic()
        self._accepted.append(now)
        self._forget_old(now)
        quiet_since = max(self._last_throttle + self.hold, self._last_increase + self.window)
        if self.limit < self.max_limit and now >= quiet_since:
            self.limit = min(self.max_limit, self.limit + self.increase_step)
            self._last_increase = now
            self.stats.increases += 1
            if self.limit >= self.max_limit:
                self.hold = self.base_hold

    def throttled(self, retry_after: float) -> None:
        """A 429: every sender of this family waits ``retry_after`` seconds, then goes slower."""
        now = time.monotonic()
        self.stats.throttled += 1
        if self._last_increase > self._last_throttle:  # a probe failed: wait longer before the next one
            self.hold = min(self.hold * 2, self.max_hold)
            self.stats.failed_probes += 1
        self._forget_old(now)
        served = len(self._accepted)
        lowered = max(self.limit * self.decrease_factor, min(served, self.limit), self.min_limit)
        if lowered < self.limit:
            self.limit = lowered
            self._tokens = min(self._tokens, self._capacity)
            self.stats.decreases += 1
        self._last_throttle = now
        self.pause(retry_after)

    def pause(self, seconds: float) -> None:
        """Nothing goes out for ``seconds``; then one request may go at once."""
        now = time.monotonic()
        until = now + seconds
        if until <= self._paused_until:
            return
        self.stats.paused_seconds += until - max(self._paused_until, now)
        self._paused_until = until
        self._tokens = 1.0
        self._updated = until
        self._arm()

    def _free_place(self) -> None:
        self._in_window -= 1
        if self._timer is None:  # else the timer already waits for a token, which a freed place does not bring sooner
            self._arm()

    def _forget_old(self, now: float) -> None:
        while self._accepted and self._accepted[0] <= now - self.window:
            self._accepted.popleft()

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self.rate)
            self._updated = now

    def _take(self) -> bool:
        now = time.monotonic()
        if now < self._paused_until or self._in_window >= self._places or self._probe_out:
            return False
        self._refill(now)
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            self._in_window += 1
            self._probe_out = self._probing
            return True
        return False

    def _arm(self) -> None:
        """Sets the one timer for the moment the head waiter's token is due (a freed place re-arms)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._waiters and self._waiters[0].done():
            self._waiters.popleft()
        if not self._waiters or self._in_window >= self._places or self._probe_out or self._stopped is not None:
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


def most_in_any_window(times: list[float], window: float) -> int:
    """How many of the sorted moments ``times`` fall in the busiest span of ``window`` seconds:
    the figure the bucket promises never to let above its limit (used by its tests and benchmark)."""
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most
