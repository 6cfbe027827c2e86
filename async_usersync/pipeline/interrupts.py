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
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import AsyncIterator, Iterator

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


STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})
"""The signals that stop a run; the ``sync`` command holds them back (``hold_stop_signals``) while it
loads the pipeline, until ``sigterm_as_ctrl_c`` can turn them into an exit that writes the reports."""


def hold_stop_signals() -> None:
    """Blocks ``STOP_SIGNALS`` (where the platform can): one that arrives stays pending until
    ``sigterm_as_ctrl_c`` lets it through."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)


def _raise_interrupt(number: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def sigterm_as_ctrl_c() -> Iterator[None]:
    """While inside, outside the event loop (``stop_on_sigterm`` takes over inside it), a SIGTERM
    raises KeyboardInterrupt as Ctrl-C does, so the caller's exit path (exit 130, the summary and
    metrics files) runs instead of the process dying; a stop signal held back since the start
    (``hold_stop_signals``) is let through on entry. Does nothing but yield outside the main thread."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    except ValueError:  # not the main thread
        yield
        return
    try:
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)

