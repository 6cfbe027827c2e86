"""User Sync's separator lines, which admins grep for (``=====``, ``-----``); the Action Summary's
``Number of`` lines are ``engine.action_summary``'s.

A stage line is ten markers, the title, then markers up to 70 columns:
``========== Start Run (User Sync version: 0.1.0) ====================``.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator

LINE_WIDTH = 70
LEFT_MARKERS = 10


def stage_line(title: str, marker: str = "-") -> str:
    """Ten markers, the title, then markers up to 70 columns (at least one space each side of the title)."""
    right = max(0, LINE_WIDTH - LEFT_MARKERS - len(title) - 2)
    return f"{marker * LEFT_MARKERS} {title} {marker * right}"


def total_time(seconds: float) -> str:
    """``H:MM:SS``, as User Sync prints a stage's total time."""
    return str(timedelta(seconds=round(seconds)))


def run_title(version: str, test_mode: bool = False) -> str:
    """``Run (User Sync version: X)``, with `` (TEST MODE)`` in test mode, as User Sync's first and last lines."""
    return f"Run (User Sync version: {version})" + (" (TEST MODE)" if test_mode else "")


@contextmanager
def logged_stage(logger: logging.Logger, title: str, marker: str = "-") -> Iterator[None]:
    """Logs ``Start <title>`` before the block and ``End <title> (Total time: H:MM:SS)`` after it,
    also when the block fails, so the log shows where a run stopped."""
    started = time.monotonic()
    logger.info("%s", stage_line(f"Start {title}", marker))
    try:
        yield
    finally:
        logger.info("%s", stage_line(f"End {title} (Total time: {total_time(time.monotonic() - started)})", marker))

