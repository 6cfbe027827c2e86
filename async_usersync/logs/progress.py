"""Progress of one phase (directory read, Adobe read, actions sent).

``advance()`` only counts and, at a steady pace, logs User Sync's ``N/M (x%)`` line; it never
writes anything itself, so it is cheap enough to call once per user. On a terminal the log
stream's writer task draws a live bar from ``bar_line()`` instead of showing those lines on the
console (files and the JSON log still get them).
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

logger = logging.getLogger("async_usersync.progress")


class Progress:
    """Counts one phase of a run (``advance`` per item, ``finish`` at the end) and logs ``N/M (x%) what``
    every ``interval`` seconds when ``enabled``; ``LogStream.progress`` also draws it as a bar on a terminal."""
    def __init__(self, what: str, total: int | None, *, interval: float, enabled: bool = True) -> None:
        self.what = what
        """What is counted, as it reads after a number: 'directory users read'."""
        self.total = total
        self.done = 0
        self.finished = False
        self._interval = interval
        self._enabled = enabled
        self._started = time.monotonic()
        self._last_logged = self._started
        self._logged_count: int | None = None

    def advance(self, count: int = 1) -> None:
        """Counts ``count`` more items; logs a line when ``interval`` seconds passed since the last."""
        self.done += count
        if self._enabled and time.monotonic() - self._last_logged >= self._interval:
            self._log()

    def finish(self) -> None:
        """Logs the final count, unless the last line already showed it."""
        if self.finished:
            return
        self.finished = True
        if self.total is None:
            self.total = self.done
            self._logged_count = None
        if self._enabled and self._logged_count != self.done:
            self._log()

    def rate(self) -> float:
        """Items per second since the start."""
        elapsed = time.monotonic() - self._started
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        """User Sync's progress text: ``1999/5785 (34.6%)``, then what is counted."""
        if self.total:
            return f"{self.done}/{self.total} ({100 * self.done / self.total:.1f}%) {self.what}"
        return f"{self.done} {self.what}"

    def bar_line(self, width: int) -> str:
        """A one-line bar with count, rate and time left, fitted to ``width`` columns."""
        rate = self.rate()
        if self.total:
            fraction = min(1.0, self.done / self.total)
            left = (self.total - self.done) / rate if rate > 0 else None
            eta = f"ETA {timedelta(seconds=round(left))}" if left is not None else "ETA --:--:--"
            tail = f" {self.done}/{self.total} {fraction:6.1%} {rate:,.0f}/s {eta}"
        else:
            fraction = 0.0
            tail = f" {self.done} {rate:,.0f}/s"
        head = f"{self.what} "
        bar_width = max(0, width - len(head) - len(tail) - 2)
        filled = round(bar_width * fraction)
        return (f"{head}[{'#' * filled}{'-' * (bar_width - filled)}]{tail}")[:width]

    def _log(self) -> None:
        self._last_logged = time.monotonic()
        self._logged_count = self.done
        logger.info("%s", self.line(), extra={"progress": self.what, "done": self.done, "total": self.total})
