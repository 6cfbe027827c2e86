"""The action sink: takes per-user commands, posts them ten entries a request, and reports each once.

A request goes out full, except the last one and one that waited ``linger`` seconds for more
commands while the stream stalled. The newest full batch is held until one more entry arrives (or
the stream ends, or the linger passes), so that the final request of the run is known and can carry
``Pragma: umapi-sync-end``; while commands come faster than the throttle releases requests, that
costs nothing. ``send`` waits when ``max_in_flight`` requests are already under way and the queue
is full, which keeps memory flat whatever the producer's pace.

With a group listing to read (``read_groups``, on unless ``server.user_group_entries`` is false), a
command that only adds or removes groups of an existing user is held until the stream ends, and its
changes of user groups many users share go in entries rooted at the group (``usergroups``): up to 100
users an entry instead of one. Held changes go out only after every other request has been answered;
a group step that fails has its users retried in user entries (``_group_answered``), so each command
is still reported once, as landed, failed or not sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Mapping, Sequence

from async_usersync.records import CommandError, CommandResult, UserCommand
from async_usersync.umapi.entries import Entry, RequestIds, command_entries, step_name
from async_usersync.umapi.errors import NotSent, UmapiError, Unanswered, answer_error
from async_usersync.umapi.fields import field_problem
from async_usersync.umapi.policy import already_in_place
from async_usersync.umapi.transport import Transport
from async_usersync.umapi.usergroups import GroupEntry, GroupFacts, HeldMemberships, group_facts, is_packable, memberships

log = logging.getLogger(__name__)

MAX_ENTRIES = 10
"""Entries per action request (UMAPI's limit)."""
HELD_LIMIT = 100_000
"""Held commands that make the sink send their group entries at once, before the stream ends (after
every request so far has been answered, as at the end), so that memory stays bounded."""
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
    group_entries: int = 0
    """Entries rooted at a user group posted (each carries up to 100 users' changes)."""
    fallback_users: int = 0
    """Users of failed user-group steps retried in user entries."""
    failures: Counter[str] = field(default_factory=Counter)
    """errorCode (or the request failure's code) -> how many steps failed with it."""


@dataclass(slots=True)
class _Outcome:
    """What is known so far of one command, whose entries may travel in several requests."""

    command: UserCommand
    pieces: int
    """Entries the command was cut into (1 for a held command, whose parts are independent changes)."""
    entries_left: int
    """Parts not yet answered: user entries, and for a held command each group change not yet sent."""
    errors: list[CommandError] | None = None
    """Made at the first error only: most commands have none."""
    not_sent: bool = False
    unanswered: bool = False


_Queued = tuple[Entry, "_Outcome | GroupEntry[_Outcome]"]
_END = object()
_BARRIER = object()
"""Queued after a user's released held changes: what follows waits until they are answered."""


class ActionSink:
    """Posts commands as action requests (``MAX_ENTRIES`` entries a request, at most
    ``max_in_flight`` under way) and reports each command exactly once, to ``on_result`` and in
    ``totals``. Use as ``async with``: leaving it waits for every answer; Ctrl-C or a cancellation
    stops sending and reports what was not sent, and requests still without an answer after
    ``INTERRUPT_GRACE`` as unanswered. ``test_mode`` adds UMAPI's ``testOnly=true``.
    ``read_groups`` (the org's group listing, as ``UmapiClient.groups``) turns on user-group entries."""
    def __init__(self, transport: Transport, *, test_mode: bool = False,
                 on_result: Callable[[CommandResult], None] | None = None, linger: float = 0.5,
                 read_groups: Callable[[], AsyncIterator[Mapping[str, Any]]] | None = None) -> None:
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
        self._read_groups = read_groups
        self._held: HeldMemberships[_Outcome] = HeldMemberships()
        """Membership-only commands waiting for the end of the stream (see ``usergroups``)."""
        self._flushing: HeldMemberships[_Outcome] | None = None
        """Held commands whose group entries the batcher is sending now."""
        self._pending: deque[_Queued] = deque()
        """Entries made at the end of the stream (group entries, the rest of the held commands, and the
        user entries of failed group steps), waiting to be packed into requests."""

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
        left = self._ready + self._batch + list(self._pending)
        self._pending.clear()
        held = [self._held, *([self._flushing] if self._flushing is not None else [])]
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if isinstance(item, HeldMemberships):
                held.append(item)
            elif item is not _END and item is not _BARRIER:
                left.append(item)
        for _, outcome in (command for commands in held for command in commands.take_all()):
            outcome.not_sent, outcome.entries_left = True, 0
            self._finish(outcome)
        self._settle(left, not_sent=True)
        if self._posts:
            await asyncio.wait(list(self._posts), timeout=INTERRUPT_GRACE)
        for post, batch in list(self._posts.items()):
            if post.done() and not post.cancelled():  # its outcomes are told (its done callback has not run yet)
                continue
            post.cancel()
            self._settle(batch, unanswered=True)
        await asyncio.gather(*self._posts, return_exceptions=True)
        self._settle(list(self._pending), not_sent=True)  # retries the last answers asked for
        self._pending.clear()

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
        if self._read_groups is not None:
            if is_packable(command):
                self._held.hold(command, _Outcome(command, 1, memberships(command)))
                if len(self._held) >= HELD_LIMIT:  # sent when the batcher reaches this place in the queue
                    full, self._held = self._held, HeldMemberships()
                    await self._put([full])
                return
            released = self._held.release(command.user) if self._held else []
            if released:  # this user's held changes go first, answered before this command goes
                for held, outcome in released:
                    await self._put(self._user_entries(held, outcome, outcome.entries_left))
                await self._put([_BARRIER])
        await self._put(self._user_entries(command, None, 0))

    def _user_entries(self, command: UserCommand, outcome: _Outcome | None, replaces: int) -> list[_Queued]:
        """``command``'s user entries, reported through ``outcome`` (a new one when None), where they
        take the place of ``replaces`` of its parts."""
        entries = command_entries(command, self._request_ids)
        if outcome is None:
            outcome = _Outcome(command, len(entries), len(entries))
        else:
            outcome.entries_left += len(entries) - replaces
        return [(entry, outcome) for entry in entries]

    async def _put(self, items: Sequence[object]) -> None:
        """Queues entries (or a ``_BARRIER``, or a batch of held commands to send at that place)."""
        queue = self._queue
        for item in items:
            try:
                queue.put_nowait(item)  # no coroutine per entry on the hot path
            except asyncio.QueueFull:
                await queue.put(item)

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
            if item is _BARRIER:
                if self._batch:
                    await self._dispatch(last=False)
                await self._answered()
                continue
            if isinstance(item, HeldMemberships):
                await self._send_held(item, last=False)
                continue
            await self._pack(item)
        if self._held:
            await self._send_held(self._held, last=True)
        elif self._batch:
            await self._dispatch(last=True)

    async def _pack(self, item: _Queued) -> None:
        owner = item[1]
        batch = self._batch
        if len(batch) == MAX_ENTRIES or (isinstance(owner, _Outcome) and owner.pieces > 1
                                         and any(queued[1] is owner for queued in batch)):
            await self._dispatch(last=False, then=item)
        else:
            batch.append(item)

    async def _send_held(self, held: HeldMemberships[_Outcome], last: bool) -> None:
        """Sends ``held`` (at the end of the stream, or when ``HELD_LIMIT`` commands were held): once
        every request so far has been answered, reads the group listing (only when some group is
        shared by enough users to pack), posts the group entries and the rest of the held commands'
        changes in user entries, then, once those are answered, the user entries of any failed group
        step, and waits for their answers. ``last``: the end of the stream, whose first round of
        requests ends with the sync-end signal."""
        if self._batch:
            await self._dispatch(last=False)
        await self._answered()
        self._flushing = held
        facts: Mapping[str, GroupFacts] = {}
        if held.worth_packing():
            facts = await self._group_facts()
        plan = held.plan(facts, self._request_ids)
        self._flushing = None
        pending = self._pending
        for command, outcome, count in plan.rest:
            pending.extend(self._user_entries(command, outcome, count))
        pending.extend((group_entry.entry, group_entry) for group_entry in plan.group_entries)
        self.totals.group_entries += len(plan.group_entries)
        while pending:  # at the end, the sync-end signal goes on the first round's last request
            while pending:
                await self._pack(pending.popleft())  # taken before packing: an interruption reports it
            if self._batch:
                await self._dispatch(last=last)
            last = False
            await self._answered()  # the answers put failed group steps' users in pending

    async def _answered(self) -> None:
        """Waits until every request posted so far has its answer."""
        while self._posts:
            await asyncio.wait(list(self._posts))

    async def _group_facts(self) -> Mapping[str, GroupFacts]:
        """The group listing as ``GroupFacts``; when it cannot be read, none (every change then goes in
        user entries, as without packing)."""
        assert self._read_groups is not None
        try:
            return group_facts([group async for group in self._read_groups()])
        except Exception as error:
            log.warning("The group listing could not be read (%s): group changes go in user entries", error)
            return {}

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
        for index, (_, owner) in enumerate(batch):
            found = errors.get(index, []) if errors else []
            if isinstance(owner, GroupEntry):
                self._group_answered(owner, found)
            else:
                self._part_done(owner, [error for _, error in found])

    def _part_done(self, outcome: _Outcome, errors: list[CommandError], not_sent: bool = False) -> None:
        """One part of ``outcome``'s command has its answer (``errors``, or not sent); the last one reports it."""
        if errors:
            if outcome.errors is None:
                outcome.errors = []
            outcome.errors.extend(errors)
        outcome.not_sent = outcome.not_sent or not_sent
        outcome.entries_left -= 1
        if outcome.entries_left == 0:
            self._finish(outcome)

    def _group_answered(self, group_entry: GroupEntry[_Outcome], errors: list[tuple[int | None, CommandError]]) -> None:
        """A group entry's answer, per user: a step without error landed for its users; a failed step
        (one unknown user fails all ten) has its users retried in user entries, whose answers then
        decide; an error naming no step (the request failed whole) fails every user of the entry."""
        whole = [error for step, error in errors if step is None]
        failed = {step: error for step, error in errors if step is not None}
        retry: dict[int, tuple[_Outcome, dict[str, list[str]]]] = {}
        for position, step in enumerate(group_entry.steps):
            error = failed.get(position)
            if error is not None:
                log.info("User group %s: %s step of %d users failed (%s: %s); retrying them in user entries",
                         step.group, step.verb, len(step.users), error.code, error.message)
            for _, outcome in step.users:
                if error is None:
                    self._part_done(outcome, whole)
                    continue
                _, changes = retry.setdefault(id(outcome), (outcome, {"remove": [], "add": []}))
                changes[step.verb].append(step.group)
        for outcome, changes in retry.values():
            self.totals.fallback_users += 1
            command = UserCommand(user=outcome.command.user, remove_groups=tuple(changes["remove"]),
                                  add_groups=tuple(changes["add"]), key=outcome.command.key)
            self._pending.extend(self._user_entries(command, outcome, len(changes["remove"]) + len(changes["add"])))

    def _settle(self, batch: list[_Queued], *, not_sent: bool = False, unanswered: bool = False) -> None:
        """Ends ``batch``'s entries without an answer: never sent, or sent with no answer before sending
        stopped; a group entry ends its part of each of its users' commands."""
        for _, owner in batch:
            outcomes = ([outcome for step in owner.steps for _, outcome in step.users]
                        if isinstance(owner, GroupEntry) else [owner])
            for outcome in outcomes:
                outcome.unanswered = outcome.unanswered or unanswered
                self._part_done(outcome, [], not_sent)

    async def _errors_of(self, batch: list[_Queued], pragma: str | None) -> dict[int, list[tuple[int | None, CommandError]]]:
        """The errors of each entry of ``batch`` (by position), each with its step's position (None
        when it names no step); a request that failed whole fails each.
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
        return {index: [(None, failure)] for index in range(len(batch))}

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


def _map_errors(batch: list[_Queued], errors: list[Any], after_silence: bool
                ) -> dict[int, list[tuple[int | None, CommandError]]]:
    """Sends each ``{index, step, requestID, errorCode, message}`` back to its entry and step name.

    The requestID decides when present (it is unique per entry); ``index`` otherwise. An error that
    names no entry of the batch is charged to every entry, so that no failure goes unreported.
    In the answer to a retry after an attempt without an answer (``after_silence``), an error that
    says the entry's change is in place (``policy.already_in_place``) is no error: that attempt landed.
    """
    by_request_id = {entry["requestID"]: index for index, (entry, _) in enumerate(batch)}
    mapped: dict[int, list[tuple[int | None, CommandError]]] = {}
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
                mapped.setdefault(position, []).append((None, CommandError("request", code, message)))
            continue
        step = error.get("step")
        if isinstance(step, str) and step.isdigit():
            step = int(step)
        at: int | None = step if isinstance(step, int) and 0 <= step < len(batch[index][0]["do"]) else None
        name = step_name(batch[index][0], step) if isinstance(step, int) else "unknown"
        mapped.setdefault(index, []).append((at, CommandError(name, code, message)))
    return mapped
