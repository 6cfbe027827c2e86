"""The action sink: takes per-user commands, posts them ten entries a request, and reports each once.

A request goes out full, except the last one and one that waited ``linger`` seconds for more
commands while the stream stalled. The newest full batch is held until one more entry arrives (or
the stream ends, or the linger passes), so that the final request of the run is known and can carry
``Pragma: umapi-sync-end``; while commands come faster than the throttle releases requests, that
costs nothing. ``send`` waits when ``max_in_flight`` requests are already under way and the queue
is full, which keeps memory flat whatever the producer's pace.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from async_usersync.records import CommandError, CommandResult, UserCommand
from async_usersync.umapi.entries import Entry, RequestIds, command_entries, step_name
from async_usersync.umapi.errors import UmapiError
from async_usersync.umapi.fields import field_problem
from async_usersync.umapi.transport import Transport

log = logging.getLogger(__name__)

MAX_ENTRIES = 10
"""Entries per action request (UMAPI's limit)."""


@dataclass(slots=True)
class ActionTotals:
    sent: int = 0
    """Commands handed to the sink."""
    completed: int = 0
    failed: int = 0
    requests: int = 0
    """Action requests posted (not counting retries)."""
    failures: Counter[str] = field(default_factory=Counter)
    """errorCode (or the request failure's code) -> how many steps failed with it."""


@dataclass(slots=True)
class _Outcome:
    """What is known so far of one command, whose entries may travel in several requests."""

    command: UserCommand
    pieces: int
    entries_left: int
    errors: list[CommandError] | None = None
    """Made at the first error only: most commands have none."""


_Queued = tuple[Entry, _Outcome]
_END = object()


class ActionSink:
    def __init__(self, transport: Transport, *, test_mode: bool = False,
                 on_result: Callable[[CommandResult], None] | None = None, linger: float = 0.5) -> None:
        self.totals = ActionTotals()
        self._transport = transport
        self._path = f"action/{transport.settings.org_id}"
        self._params = {"testOnly": "true"} if test_mode else None
        self._on_result = on_result
        self._linger = linger
        max_in_flight = transport.settings.max_in_flight
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=MAX_ENTRIES * max_in_flight * 2)
        self._slots = asyncio.Semaphore(max_in_flight)
        self._request_ids = RequestIds()
        self._posts: set[asyncio.Task[None]] = set()
        self._batcher: asyncio.Task[None] | None = None
        self._sync_started = False

    async def __aenter__(self) -> "ActionSink":
        self._batcher = asyncio.create_task(self._batch_entries())
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        assert self._batcher is not None
        if exc_type is not None and not issubclass(exc_type, Exception):
            self._batcher.cancel()
            for post in list(self._posts):
                post.cancel()
            await asyncio.gather(self._batcher, *self._posts, return_exceptions=True)
            return
        await self._queue.put(_END)
        await self._batcher
        while self._posts:
            await asyncio.gather(*list(self._posts))

    async def send(self, command: UserCommand) -> None:
        """Queues one command; waits when the queue is full (backpressure)."""
        if command.is_empty:
            return
        self.totals.sent += 1
        refused = field_problem(command)
        if refused is not None:  # refused alone, so that its batch-mates go out
            self._finish(_Outcome(command, 1, 0, [refused]))
            return
        entries = command_entries(command, self._request_ids)
        outcome = _Outcome(command, len(entries), len(entries))
        queue = self._queue
        for entry in entries:
            try:
                queue.put_nowait((entry, outcome))  # no coroutine per entry on the hot path
            except asyncio.QueueFull:
                await queue.put((entry, outcome))

    async def _batch_entries(self) -> None:
        """Packs entries ten a request. The pieces of one split command go in separate requests,
        because UMAPI does not promise to run the entries of one request in order."""
        batch: list[_Queued] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                try:
                    item = await asyncio.wait_for(self._queue.get(), self._linger if batch else None)
                except asyncio.TimeoutError:
                    await self._dispatch(batch, last=False)
                    batch = []
                    continue
            if item is _END:
                break
            if len(batch) == MAX_ENTRIES or (item[1].pieces > 1 and any(queued[1] is item[1] for queued in batch)):
                await self._dispatch(batch, last=False)
                batch = []
            batch.append(item)
        if batch:
            await self._dispatch(batch, last=True)

    async def _dispatch(self, batch: list[_Queued], last: bool) -> None:
        await self._slots.acquire()
        pragma = None
        if not self._sync_started:
            pragma, self._sync_started = "umapi-sync-start", True
        elif last:
            pragma = "umapi-sync-end"
        self.totals.requests += 1
        post = asyncio.create_task(self._post(batch, pragma))
        self._posts.add(post)
        post.add_done_callback(self._posts.discard)

    async def _post(self, batch: list[_Queued], pragma: str | None) -> None:
        try:
            errors = await self._errors_of(batch, pragma)
        finally:
            self._slots.release()
        for index, (_, outcome) in enumerate(batch):
            if errors and index in errors:
                if outcome.errors is None:
                    outcome.errors = []
                outcome.errors.extend(errors[index])
            outcome.entries_left -= 1
            if outcome.entries_left == 0:
                self._finish(outcome)

    async def _errors_of(self, batch: list[_Queued], pragma: str | None) -> dict[int, list[CommandError]]:
        """The errors of each entry of ``batch`` (by position); a request that failed whole fails each."""
        try:
            reply = await self._transport.call("action", "POST", self._path, params=self._params,
                                               body=[entry for entry, _ in batch], pragma=pragma)
            body = reply.body
            if reply.status != 200 or not isinstance(body, dict):
                detail = body if isinstance(body, dict) else {}
                raise UmapiError(f"UMAPI answered HTTP {reply.status}: {detail.get('message', 'no usable body')}",
                                 code=str(detail.get("result") or f"http.{reply.status}"), status=reply.status)
        except UmapiError as error:
            log.error("action request of %d entries failed: %s", len(batch), error)
            failure = CommandError("request", error.code, str(error))
        except Exception as error:  # a client fault must still report each command once
            log.exception("action request of %d entries failed unexpectedly", len(batch))
            failure = CommandError("request", "client.error", f"{type(error).__name__}: {error}")
        else:
            errors = body.get("errors")
            return _map_errors(batch, errors) if errors else {}
        return {index: [failure] for index in range(len(batch))}

    def _finish(self, outcome: _Outcome) -> None:
        result = CommandResult(outcome.command, tuple(outcome.errors)) if outcome.errors else \
            CommandResult(outcome.command)
        if result.ok:
            self.totals.completed += 1
        else:
            self.totals.failed += 1
            self.totals.failures.update(error.code for error in result.errors)
        if self._on_result is not None:
            try:
                self._on_result(result)
            except Exception:
                log.exception("the result handler failed for %s", outcome.command.key or outcome.command.user)


def _map_errors(batch: list[_Queued], errors: list[Any]) -> dict[int, list[CommandError]]:
    """Sends each ``{index, step, requestID, errorCode, message}`` back to its entry and step name.

    The requestID decides when present (it is unique per entry); ``index`` otherwise. An error that
    names no entry of the batch is charged to every entry, so that no failure goes unreported.
    """
    by_request_id = {entry["requestID"]: index for index, (entry, _) in enumerate(batch)}
    mapped: dict[int, list[CommandError]] = {}
    for error in errors:
        if not isinstance(error, dict):
            error = {"message": repr(error)}
        index = by_request_id.get(error.get("requestID"), error.get("index"))
        code = str(error.get("errorCode") or "error.unknown")
        message = str(error.get("message") or "")
        if not isinstance(index, int) or not 0 <= index < len(batch):
            for position in range(len(batch)):
                mapped.setdefault(position, []).append(CommandError("request", code, message))
            continue
        step = error.get("step")
        if isinstance(step, str) and step.isdigit():
            step = int(step)
        name = step_name(batch[index][0], step) if isinstance(step, int) else "unknown"
        mapped.setdefault(index, []).append(CommandError(name, code, message))
    return mapped
