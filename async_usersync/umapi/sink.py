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
from async_usersync.umapi.errors import NotSent, UmapiError, Unanswered, answer_error
from async_usersync.umapi.fields import field_problem
from async_usersync.umapi.policy import already_in_place
from async_usersync.umapi.transport import Transport

log = logging.getLogger(__name__)

MAX_ENTRIES = 10
"""Entries per action request (UMAPI's limit)."""
INTERRUPT_GRACE = 5.0
"""Seconds an interrupted run waits for the answers to requests already on the wire."""


@dataclass(slots=True)
class ActionTotals:
    """Counters of one ``ActionSink``: commands by outcome, action requests posted, failed steps by code."""
    sent: int = 0
    """Commands handed to the sink; each ends as exactly one of the next four."""
    completed: int = 0
    """Landed."""
    failed: int = 0
    not_sent: int = 0
    """Never sent: the run was interrupted, or UMAPI stayed unavailable past the configured limits."""
    unanswered: int = 0
    """Sent, but no answer came before sending stopped: they may have landed (``errors.Unanswered``)."""
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
    not_sent: bool = False
    unanswered: bool = False


_Queued = tuple[Entry, _Outcome]
_END = object()


class ActionSink:
    """Posts commands as action requests (``MAX_ENTRIES`` entries a request, at most
    ``max_in_flight`` under way) and reports each command exactly once, to ``on_result`` and in
    ``totals``. Use as ``async with``: leaving it waits for every answer; Ctrl-C or a cancellation
    stops sending and reports what was not sent, and requests still without an answer after
    ``INTERRUPT_GRACE`` as unanswered. ``test_mode`` adds UMAPI's ``testOnly=true``."""
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
        self._posts: dict[asyncio.Task[None], list[_Queued]] = {}
        """Requests under way, with their entries (to report them if the run is interrupted)."""
        self._batch: list[_Queued] = []
        """The entries being packed into the next request."""
        self._ready: list[_Queued] = []
        """A packed request waiting for a free place."""
        self._batcher: asyncio.Task[None] | None = None
        self._sync_started = False

    async def __aenter__(self) -> "ActionSink":
        self._batcher = asyncio.create_task(self._batch_entries())
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        assert self._batcher is not None
        if exc_type is not None and not issubclass(exc_type, Exception):
            await self._interrupted()
            return
        try:
            await self._queue.put(_END)
            # asyncio.wait, not await or gather: a cancellation of this task must not cancel the
            # batcher or the posts, whose commands are then reported by _interrupted().
            await asyncio.wait([self._batcher])
            self._batcher.result()
            while self._posts:
                await asyncio.wait(list(self._posts))
        except asyncio.CancelledError:  # interrupted while the last requests were going out
            await self._interrupted()
            raise

    async def _interrupted(self) -> None:
        """Ctrl-C or SIGTERM: nothing more goes out. Queued commands are not sent; requests already
        on the wire get ``INTERRUPT_GRACE`` seconds for their answer, so that what landed is known.
        No command is logged one by one."""
        assert self._batcher is not None
        self._transport.stop("the run was interrupted")
        self._batcher.cancel()
        await asyncio.gather(self._batcher, return_exceptions=True)
        left = self._ready + self._batch
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not _END:
                left.append(item)
        self._settle(left, not_sent=True)
        if self._posts:
            await asyncio.wait(list(self._posts), timeout=INTERRUPT_GRACE)
        for post, batch in list(self._posts.items()):
            if post.done() and not post.cancelled():  # its outcomes are told (its done callback has not run yet)
                continue
            post.cancel()
            self._settle(batch, unanswered=True)
        await asyncio.gather(*self._posts, return_exceptions=True)

    async def send(self, command: UserCommand) -> None:
        """Queues one command; waits when the queue is full (backpressure). A command whose values
        UMAPI's field limits refuse (``fields.field_problem``) is reported failed at once."""
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
        while True:
            try:
                item = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                try:
                    item = await asyncio.wait_for(self._queue.get(), self._linger if self._batch else None)
                except asyncio.TimeoutError:
                    await self._dispatch(last=False)
                    continue
            if item is _END:
                break
            batch = self._batch
            if len(batch) == MAX_ENTRIES or (item[1].pieces > 1 and any(queued[1] is item[1] for queued in batch)):
                await self._dispatch(last=False, then=item)
            else:
                batch.append(item)
        if self._batch:
            await self._dispatch(last=True)

    async def _dispatch(self, last: bool, then: _Queued | None = None) -> None:
        """Posts the entries packed so far in one request, once a place is free; ``then`` starts the
        next batch. Until the post starts, the entries wait in ``_ready`` (reported if interrupted)."""
        self._ready, self._batch = self._batch, [then] if then is not None else []
        await self._slots.acquire()
        batch, self._ready = self._ready, []
        pragma = None
        if not self._sync_started:
            pragma, self._sync_started = "umapi-sync-start", True
        elif last:
            pragma = "umapi-sync-end"
        self.totals.requests += 1
        post = asyncio.create_task(self._post(batch, pragma))
        self._posts[post] = batch
        post.add_done_callback(self._forget_post)

    def _forget_post(self, post: asyncio.Task[None]) -> None:
        self._posts.pop(post, None)

    async def _post(self, batch: list[_Queued], pragma: str | None) -> None:
        try:
            errors = await self._errors_of(batch, pragma)
        except NotSent:
            self._settle(batch, not_sent=True)
            return
        except Unanswered as unanswered:  # the run counts and tells these once, not per request
            log.debug("action request of %d entries: %s", len(batch), unanswered)
            self._settle(batch, unanswered=True)
            return
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

    def _settle(self, batch: list[_Queued], *, not_sent: bool = False, unanswered: bool = False) -> None:
        """Ends ``batch``'s entries without an answer: never sent, or sent with no answer before sending stopped."""
        for _, outcome in batch:
            outcome.not_sent = outcome.not_sent or not_sent
            outcome.unanswered = outcome.unanswered or unanswered
            outcome.entries_left -= 1
            if outcome.entries_left == 0:
                self._finish(outcome)

    async def _errors_of(self, batch: list[_Queued], pragma: str | None) -> dict[int, list[CommandError]]:
        """The errors of each entry of ``batch`` (by position); a request that failed whole fails each.
        Raises ``NotSent`` when the request never went out, ``Unanswered`` when it got no answer that settles it."""
        try:
            reply = await self._transport.call("action", "POST", self._path, params=self._params,
                                               body=[entry for entry, _ in batch], pragma=pragma)
            body = reply.body
            if reply.status != 200 or not isinstance(body, dict):
                raise answer_error(reply.status, body, "POST", reply.path, reply.request_id)
        except (NotSent, Unanswered):
            raise
        except UmapiError as error:
            log.error("action request of %d entries failed: %s", len(batch), error)
            failure = CommandError("request", error.code, str(error))
        except Exception as error:  # a client fault must still report each command once
            log.exception("action request of %d entries failed unexpectedly", len(batch))
            failure = CommandError("request", "client.error", f"{type(error).__name__}: {error}")
        else:
            errors = body.get("errors")
            return _map_errors(batch, errors, reply.after_silence) if errors else {}
        return {index: [failure] for index in range(len(batch))}

    def _finish(self, outcome: _Outcome) -> None:
        if outcome.errors:
            result = CommandResult(outcome.command, tuple(outcome.errors))
            self.totals.failed += 1
            self.totals.failures.update(error.code for error in result.errors)
        elif outcome.unanswered:  # before not sent: a command partly sent may have partly landed
            result = CommandResult(outcome.command, unanswered=True)
            self.totals.unanswered += 1
        elif outcome.not_sent:
            result = CommandResult(outcome.command, not_sent=True)
            self.totals.not_sent += 1
        else:
            result = CommandResult(outcome.command)
            self.totals.completed += 1
        if self._on_result is not None:
            try:
                self._on_result(result)
            except Exception:
                log.exception("the result handler failed for %s", outcome.command.key or outcome.command.user)


def _map_errors(batch: list[_Queued], errors: list[Any], after_silence: bool) -> dict[int, list[CommandError]]:
    """Sends each ``{index, step, requestID, errorCode, message}`` back to its entry and step name.

    The requestID decides when present (it is unique per entry); ``index`` otherwise. An error that
    names no entry of the batch is charged to every entry, so that no failure goes unreported.
    In the answer to a retry after an attempt without an answer (``after_silence``), an error that
    says the entry's change is in place (``policy.already_in_place``) is no error: that attempt landed.
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
            index = None
        if after_silence and already_in_place(code, None if index is None else batch[index][0]):
            continue
        if index is None:
            for position in range(len(batch)):
                mapped.setdefault(position, []).append(CommandError("request", code, message))
            continue
        step = error.get("step")
        if isinstance(step, str) and step.isdigit():
            step = int(step)
        name = step_name(batch[index][0], step) if isinstance(step, int) else "unknown"
        mapped.setdefault(index, []).append(CommandError(name, code, message))
    return mapped
