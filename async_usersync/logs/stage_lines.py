"""User Sync's separator and summary lines, which admins grep for (``=====``, ``-----``, ``Number of``).

A stage line is ten markers, the title, then markers up to 70 columns:
``========== Start Run (User Sync version: 0.1.0) ====================``.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator, Sequence

LINE_WIDTH = 70
LEFT_MARKERS = 10
SUMMARY_WIDTH = 84


def stage_line(title: str, marker: str = "-") -> str:
    right = max(0, LINE_WIDTH - LEFT_MARKERS - len(title) - 2)
    return f"{marker * LEFT_MARKERS} {title} {marker * right}"


def total_time(seconds: float) -> str:
    """``H:MM:SS``, as User Sync prints a stage's total time."""
    return str(timedelta(seconds=round(seconds)))


def run_title(version: str, test_mode: bool = False) -> str:
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


def action_summary(counters: Sequence[tuple[str, object]], test_mode: bool = False) -> list[str]:
    """The Action Summary block: an 84-column header, ``  <label>: <n>`` lines with the labels
    right-aligned to the longest, and a closing line of dashes."""
    title = " Action Summary (TEST MODE) " if test_mode else " Action Summary "
    side = (SUMMARY_WIDTH - len(title)) // 2
    header = "-" * side + title + "-" * (SUMMARY_WIDTH - side - len(title))
    width = max((len(label) for label, _ in counters), default=0)
    return [header, *(f"  {label.rjust(width)}: {value}" for label, value in counters), "-" * SUMMARY_WIDTH]
