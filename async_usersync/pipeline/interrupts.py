"""SIGTERM ends a run the way Ctrl-C does.

``asyncio.run`` turns Ctrl-C (SIGINT) into a cancellation of the main task; a SIGTERM (systemd
stopping the service, ``kill``, a container runtime) would otherwise end the process at once, with
the log queue unwritten and the commands in flight unreported. ``stop_on_sigterm`` makes a SIGTERM
log why and cancel the task that entered it, so its ``finally`` blocks and ``except
CancelledError`` branches run: the sink reports what landed and was not sent, and the log stream
(entered before it) writes everything out.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator

logger = logging.getLogger("async_usersync.pipeline")


@dataclass
class StopSignal:
    """Which signal stopped the run: ``"SIGTERM"``, or None (not stopped, or stopped by Ctrl-C)."""

    received: str | None = None


@asynccontextmanager
async def stop_on_sigterm() -> AsyncIterator[StopSignal]:
    """While inside, a SIGTERM logs ``Received SIGTERM: stopping the run`` (WARNING) and cancels the
    calling task. Where signal handlers cannot be set (Windows, a thread other than the main one)
    it does nothing."""
    stop = StopSignal()
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def on_sigterm() -> None:
        stop.received = "SIGTERM"
        logger.warning("Received SIGTERM: stopping the run")
        if task is not None:
            task.cancel()

    try:
        loop.add_signal_handler(signal.SIGTERM, on_sigterm)
        installed = True
    except (NotImplementedError, RuntimeError, ValueError):
        installed = False
    try:
        yield stop
    finally:
        if installed:
            loop.remove_signal_handler(signal.SIGTERM)
