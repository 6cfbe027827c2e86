"""One sync run as an asyncio pipeline, in named stages:

1. inspect: the directory read and the Adobe read run at the same time, each a task feeding the
   (synchronous, fast) planner inline; every command the planner yields goes straight into the
   client's action sink, so creates and group moves are on the wire while the reads go on;
2. Adobe-only users: ``planner.finish()`` runs only once both reads completed, so a failed read
   can never turn into a removal; with a run history, the removal of mapped groups from matched
   users waits here too, and both go only if nothing shrank too much since the last successful
   run (``engine.history``);
3. apply: the sink drains, and the run reports what landed.

Push strategy never reads Adobe users; ``--adobe-only-user-list`` reads neither side.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from contextlib import aclosing, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator, Protocol, Self, TypeVar

from async_usersync.engine import SyncPlanner
from async_usersync.engine.history import RemovalGuard, RunPicture
from async_usersync.engine.rules import AdobeOnlyAction, fold, missing_user_groups
from async_usersync.errors import ExitCode, ReadError, UsersyncError
from async_usersync.logs.progress import Progress
from async_usersync.logs.stage_lines import logged_stage
from async_usersync.pipeline.adobe_only_file import write_adobe_only_users
from async_usersync.records import AdobeUser, CommandResult, UserCommand
from async_usersync.pipeline.job import SyncJob
from async_usersync.umapi import ActionTotals, GroupResult, UmapiClient

logger = logging.getLogger("async_usersync.pipeline")
T = TypeVar("T")

ProgressFactory = Callable[[str, "int | None"], Progress]
"""Starts counting one phase (``LogStream.progress``)."""


def silent_progress(what: str, total: int | None) -> Progress:
    """A ``ProgressFactory`` that counts without logging, for runs without a log stream."""
    return Progress(what, total, interval=0.0, enabled=False)


class ReadFailure(Exception):
    """A read that ended with the project's ``error`` (as its edge raised it, never re-wrapped),
    and what was being read: "reading the directory failed: <error>". The run exits with the
    error's own code (3 for a ReadError, 2 for a ConfigError found while reading)."""

    def __init__(self, what: str | None, error: UsersyncError) -> None:
        super().__init__(what, error)
        self.what = what
        self.error = error

    def __str__(self) -> str:
        return f"{self.what} failed: {self.error}" if self.what else str(self.error)


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first real error of a task group (nested groups flattened, cancellations skipped), so the
    run reports what went wrong rather than "ExceptionGroup"."""
    errors: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        error = pending.pop(0)
        if isinstance(error, BaseExceptionGroup):
            pending[:0] = error.exceptions
        elif not isinstance(error, asyncio.CancelledError):
            errors.append(error)
    return errors[0] if errors else group


@dataclass(frozen=True)
class RunResult:
    """What the stages report back to ``pipeline.main``: totals, failures, durations, what to record."""
    totals: ActionTotals
    """What the sink sent: commands, completed, failed."""
    read_failure: ReadFailure | None = None
    """Why a read failed (its error's exit code: 3, or 2 for a configuration error found while
    reading); the commands planned before it were still sent."""
    durations: dict[str, float] = field(default_factory=dict)
    """Seconds per phase: ``directory_read``, ``adobe_read``, ``actions_sent`` (the whole UMAPI stage)."""
    throttle: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per API family: 429s received, seconds paused, requests attempted and retried."""
    picture: RunPicture | None = None
    """For the run history: what both reads saw, the Adobe side as this run left it (None when a
    read failed, the removals were held back or the guard is off)."""
    held: tuple[str, ...] = ()
    """Why the removal guard held back the removals (exit 6)."""
    interrupted: bool = False
    """Ctrl-C or SIGTERM stopped the run; the totals say what landed, failed and was not sent."""

    @property
    def exit_code(self) -> ExitCode:
        """130 interrupted, 3 a read failed, 6 removals held back, 4 a command failed, was not sent or got
        no answer, else 0."""
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if self.read_failure is not None:
            return self.read_failure.error.exit_code
        if self.held:
            return ExitCode.REMOVALS_HELD
        totals = self.totals
        return ExitCode.COMMANDS_FAILED if totals.failed or totals.not_sent or totals.unanswered else ExitCode.OK


class CommandSink(Protocol):
    """What the stages use of the client's action sink (``umapi.ActionSink``): an async context
    manager that takes commands and, once left, has reported every one to its ``on_result``."""

    @property
    def totals(self) -> ActionTotals:
        """Commands handed over so far, and how each ended."""
        ...

    async def send(self, command: UserCommand) -> None:
        """Queues one command for the wire (waits while the sink's queue is full)."""
        ...

    async def __aenter__(self) -> CommandSink: ...

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any, /) -> None: ...


class OrgClient(Protocol):
    """What the stages use of the Adobe org's client (``umapi.UmapiClient``), an async context manager."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(self, *exc_info: Any) -> None: ...

    def users(self, group: str | None = None) -> AsyncIterator[AdobeUser]:
        """All users of the org, or the members of ``group``; raises UmapiError (a ReadError)."""
        ...

    def groups(self) -> AsyncIterator[dict[str, Any]]:
        """The org's groups as UMAPI describes them (``groupName``, ...)."""
        ...

    async def create_user_groups(self, names: Iterable[str]) -> list[GroupResult]:
        """Creates these user groups (existing ones are left alone); one result per name."""
        ...

    def action_sink(self, on_result: Callable[[CommandResult], None] | None = None) -> CommandSink:
        """The sink for user commands; ``on_result`` is told how each one ended."""
        ...

    def throttle_report(self) -> dict[str, dict[str, Any]]:
        """Per API family: 429s, seconds paused, requests attempted and retried."""
        ...


class CommandSender:
    """Between the planner and the sink: logs each change and the planner's messages as they
    come, sends the commands, and keeps the phases' progress and durations."""

    def __init__(self, planner: SyncPlanner, progress: ProgressFactory) -> None:
        self.planner = planner
        self.progress = progress
        self.applied = progress("UMAPI actions landed or failed", None)
        self.durations: dict[str, float] = {}
        self.sink: CommandSink | None = None
        self._adobe_only_commands: set[int] = set()
        """``id()`` of the commands of Adobe-only users (few: ``max_adobe_only_users`` bounds them)."""

    async def send_adobe_only(self, commands: list[UserCommand]) -> None:
        """``send`` for the commands ``planner.finish()`` made for Adobe-only users."""
        self._adobe_only_commands.update(id(command) for command in commands)
        await self.send(commands)

    async def send(self, commands: Iterable[UserCommand]) -> None:
        """Logs the planner's messages, then each command's change lines, and hands it to the sink."""
        self.log_messages()
        assert self.sink is not None
        for command in commands:
            for line in describe_change(command):
                logger.info("%s", line)
            await self.sink.send(command)

    def log_messages(self) -> None:
        """Logs the planner's messages collected so far, at their levels."""
        for level, text in self.planner.take_messages():
            logger.log(level, "%s", text)

    def on_result(self, result: CommandResult) -> None:
        """The sink's report of one command: counts it and logs User Sync's ``Error in action`` line per error."""
        if not result.ok:
            self._count_as_unchanged(result.command)
        if result.not_sent or result.unanswered:  # counted in the totals and told once, not logged one by one
            return
        self.applied.advance()
        command = result.command
        for error in result.errors:
            logger.error('Error in action (User: %s, Command: %s): code: "%s" message: "%s"',
                         command.key or command.user, error.step, error.code, error.message)

    def _count_as_unchanged(self, command: UserCommand) -> None:
        """A command that failed or was not sent left its user as it was, so the Action Summary's user
        counts (added, updated, Adobe-only processed) are what landed, and the summary JSON and the
        metrics with them; one without an answer is not counted either, as it is not known to have
        landed. User Sync counts what it planned; the README lists this difference."""
        counters = self.planner.counters
        if id(command) in self._adobe_only_commands:
            counters.adobe_only_processed -= 1
        elif command.create:
            counters.adobe_users_created -= 1
        else:
            counters.adobe_users_updated -= 1

    def planning_done(self) -> None:
        """Every command is known now: the actions' progress gets its total."""
        assert self.sink is not None
        self.applied.total = self.sink.totals.sent


async def run_stages(job: SyncJob, progress: ProgressFactory = silent_progress,
                     client_type: Callable[..., OrgClient] = UmapiClient) -> RunResult:
    """Runs the stages. When a read fails, the commands already planned for matched and new users
    are still sent, and no Adobe-only user is touched. ``client_type(job.umapi, test_mode=...)``
    makes the client: the scale benchmark reads through the real client while counting the commands
    instead of sending them, and the pipeline tests put an in-memory org there."""
    planner = job.planner
    sender = CommandSender(planner, progress)
    read_failure: ReadFailure | None = None
    picture: RunPicture | None = None
    held: tuple[str, ...] = ()
    if job.removal_guard is not None and job.removal_guard.previous is not None:
        planner.defer_group_removals()
    interrupted = False
    started = time.monotonic()
    async with client_type(job.umapi, test_mode=job.test_mode) as client:
        with logged_stage(logger, "Push to UMAPI" if job.push else "Sync with UMAPI"), full_collections_deferred():
            try:
                async with client.action_sink(sender.on_result) as sink:
                    sender.sink = sink
                    try:
                        if job.user_groups_wanted:
                            planner.counters.user_groups_created = await _create_missing_user_groups(client, job.user_groups_wanted)
                        if job.listed_adobe_only_users is not None:
                            await _plan_listed_users(job, sender)
                        else:
                            await _inspect_both_sides(job, client, sender)
                            _check_mapped_groups_found(planner)
                            if job.removal_guard is not None:
                                picture = _picture(job)
                                held, keep_reference = _removals_held(job.removal_guard, picture, planner)
                                if keep_reference:
                                    picture = None
                            if held:
                                await sender.send(planner.hold_group_removals())
                            else:
                                await sender.send(planner.release_group_removals())
                                await sender.send_adobe_only(planner.finish())
                                if job.write_file is not None:
                                    written = write_adobe_only_users(job.write_file, planner.adobe_only_users)
                                    logger.info("Wrote %d Adobe-only users to %s", written, job.write_file)
                    except ReadFailure as failure:
                        read_failure = failure
                        await sender.send(planner.hold_group_removals())  # the waiting users' other changes
                    sender.log_messages()
                    sender.planning_done()
            except asyncio.CancelledError:  # Ctrl-C or SIGTERM: the sink stopped sending and told what it knows
                interrupted = True
            sender.applied.finish()
            totals = sink.totals
            why = "the run was interrupted" if interrupted else "UMAPI stayed unavailable"
            if totals.not_sent:
                logger.warning("%d of %d UMAPI actions were not sent (%s); the next run plans them again",
                               totals.not_sent, totals.sent, why)
            if totals.unanswered:
                logger.warning("%d of %d UMAPI actions were sent but got no answer before sending stopped (%s): "
                               "they may have landed, and the next run reconciles them", totals.unanswered, totals.sent,
                               why)
        throttle = client.throttle_report()
    durations = sender.durations | {"actions_sent": time.monotonic() - started}
    recorded = _org_after(job, picture) if picture is not None and read_failure is None and not held else None
    return RunResult(totals, read_failure, durations, throttle, recorded, held, interrupted)


def _picture(job: SyncJob) -> RunPicture:
    """What this run read, group names as the config spells them."""
    counters = job.planner.counters
    spelling = {fold(name): name for name in job.selection.groups}
    members = {spelling.get(folded, folded): count for folded, count in job.planner.group_members().items()}
    return RunPicture(counters.directory_users_read, counters.adobe_users_read, members)


def _org_after(job: SyncJob, picture: RunPicture) -> RunPicture:
    """The picture the next run should find: the Adobe users read, plus those this run created,
    less those it removed from the org, or (when only some groups' members are read) from those
    groups; else a run's own removals would look like a shrink to the next one."""
    counters = job.planner.counters
    leave_read = job.adobe_groups_to_read is not None or job.planner.rules.adobe_only_action in (
        AdobeOnlyAction.REMOVE, AdobeOnlyAction.DELETE)
    removed = job.planner.adobe_only_changed if leave_read else 0
    return replace(picture, adobe_users=picture.adobe_users + counters.adobe_users_created - removed)


def _removals_held(guard: RemovalGuard, picture: RunPicture, planner: SyncPlanner) -> tuple[tuple[str, ...], bool]:
    """Compares with the last successful run: what shrank is logged (CRITICAL when the removals are
    held back, WARNING when ``--accept-shrink`` accepts it or the run removes nothing anyway).
    Returns the reasons for holding, and whether the last picture must stay the reference (a run
    that removes nothing cannot accept a shrink for the runs that do)."""
    findings = guard.shrinkage(picture)
    if not findings:
        return (), False
    removes = planner.rules.process_groups or planner.rules.manages_adobe_only_users
    level = logging.WARNING if guard.accept or not removes else logging.CRITICAL
    for finding in findings:
        logger.log(level, "Run history: %s", finding)
    if guard.accept:
        logger.warning("The shrink is accepted for this run (--accept-shrink): removals go ahead, and this run's "
                       "picture is what the next run compares with")
        return (), False
    if not removes:
        logger.warning("This run removes nothing, so nothing is held back; the next run that removes compares with "
                       "the last successful run's picture, not this one")
        return (), True
    logger.critical("Holding back the removals: no Adobe-only action (%d Adobe-only users) and no mapped-group removal "
                    "(%d matched users keep them) in this run; the other changes went out. If the change is real, "
                    "run once with --accept-shrink", len(planner.adobe_only_users), planner.deferred_removal_count)
    return tuple(findings), False


@contextmanager
def full_collections_deferred() -> Iterator[None]:
    """Python's full garbage collections scan every live object. A large org keeps millions of
    records alive during the reads (none in a reference cycle), and the full collections they set
    off took 21 of the 48 CPU seconds of a 300,000-user sync (benchmarks/scale.py). Young
    collections still run, so short-lived cycles are freed as usual; full ones wait for the end."""
    young, middle, full = gc.get_threshold()
    gc.set_threshold(young, middle, 1_000_000_000)
    try:
        yield
    finally:
        gc.set_threshold(young, middle, full)


def describe_change(command: UserCommand) -> list[str]:
    """User Sync's log lines for one command, so the log says who changed and how."""
    key = command.key or command.user
    if command.remove_from_org:
        return [f"{'Deleting' if command.delete_account else 'Removing'} Adobe-only user with user key: {key}"]
    lines = [f"Adding user with user key: {key}"] if command.create else []
    if command.update:
        lines.append(f"Updating info for user key: {key} changes: {dict(command.update)}")
    if command.add_groups or command.remove_groups:
        removed = "all" if command.remove_groups == "all" else _group_set(command.remove_groups)
        lines.append(f"Managing groups for user key: {key} added: {_group_set(command.add_groups)} removed: {removed}")
    return lines


def _group_set(names: Iterable[str]) -> str:
    """``{'A', 'B'}``, sorted, so that logs of two runs compare line by line."""
    return "{" + ", ".join(repr(name) for name in sorted(names)) + "}"


async def _inspect_both_sides(job: SyncJob, client: OrgClient, sender: CommandSender) -> None:
    """Both reads at once. If one fails the other is cancelled and the first real error raised
    as itself (a ``ReadFailure``, or a bug), never as an ExceptionGroup."""
    try:
        async with asyncio.TaskGroup() as reads:
            reads.create_task(_read_directory(job, sender), name="directory read")
            if not job.push:
                reads.create_task(_read_adobe(job, client, sender), name="Adobe read")
    except BaseExceptionGroup as group:
        raise first_error(group) from None
    if job.push:
        await sender.send(job.planner.adobe_done())


def _check_mapped_groups_found(planner: SyncPlanner) -> None:
    """A selected or mapped group the directory lacks makes the directory's picture partial: its
    members look gone. Their Adobe groups were already kept (``hold_missing_group``); this ends the run as a
    failed read, before any Adobe-only action (a deliberate difference: User Sync only warns)."""
    missing = planner.missing_directory_groups
    if missing:
        names = ", ".join(f"'{name}'" for name in missing)
        raise ReadFailure(None, ReadError(f"the directory group(s) {names} were not found in the directory (renamed "
                                          f"or deleted?); their Adobe groups were removed from nobody. Fix "
                                          f"directory_users.groups or the directory"))


async def _read_directory(job: SyncJob, sender: CommandSender) -> None:
    assert job.directory is not None
    with logged_stage(logger, "Load from Directory"):
        users = job.directory.users(job.selection, job.planner.hold_missing_group)
        await _feed_planner(sender, "directory", users, job.planner.add_directory_user,
                            job.planner.directory_done, progress="directory users read", failure="reading the directory")


async def _read_adobe(job: SyncJob, client: OrgClient, sender: CommandSender) -> None:
    await _feed_planner(sender, "adobe", _adobe_users(job, client), job.planner.add_adobe_user, job.planner.adobe_done,
                        progress="Adobe users read", failure="reading the Adobe users")


async def _feed_planner(sender: CommandSender, side: str, users: AsyncGenerator[T, None], add: Callable[[T], list[UserCommand]],
                        done: Callable[[], Iterable[UserCommand]], *, progress: str, failure: str) -> None:
    """Hands one side's users to the planner as they arrive and sends what it plans at once.
    The stream is closed here, not when collected: a source may hold a child process or connections.
    The source's error (its edge translated its library's) is raised as a ``ReadFailure`` naming ``failure``."""
    counter = sender.progress(progress, None)
    started = time.monotonic()
    try:
        async with aclosing(users) as stream:
            async for user in stream:
                await sender.send(add(user))
                counter.advance()
    except UsersyncError as error:
        raise ReadFailure(failure, error) from None
    await sender.send(done())
    counter.finish()
    sender.durations[f"{side}_read"] = time.monotonic() - started


async def _adobe_users(job: SyncJob, client: OrgClient) -> AsyncGenerator[AdobeUser, None]:
    """The whole org, or the members of the chosen groups, each user once."""
    if job.adobe_groups_to_read is None:
        async for user in client.users():
            yield user
        return
    seen: set[str] = set()
    for group in job.adobe_groups_to_read:
        async for user in client.users(group=group):
            key = (user.email or user.username).lower()
            if key not in seen:
                seen.add(key)
                yield user


async def _plan_listed_users(job: SyncJob, sender: CommandSender) -> None:
    """``--adobe-only-user-list``: the listed users are the Adobe-only users; nothing is read."""
    assert job.listed_adobe_only_users is not None
    planner = job.planner
    await sender.send(planner.directory_done())
    for user in job.listed_adobe_only_users:
        planner.add_listed_adobe_only_user(user)
    await sender.send(planner.adobe_done())
    await sender.send_adobe_only(planner.finish())


async def _create_missing_user_groups(client: OrgClient, wanted: Iterable[str]) -> int:
    """``auto_create``: creates the wanted user groups the org lacks; returns how many were created."""
    try:
        existing = [str(group.get("groupName", "")) async for group in client.groups()]
    except UsersyncError as error:
        raise ReadFailure("reading the Adobe groups", error) from None
    missing = missing_user_groups(wanted, existing)
    if not missing:
        return 0
    created = 0
    for result in await client.create_user_groups(missing):
        if result.ok:
            created += 1
            logger.info("Created Adobe user group: %s", result.name)
        for failure in result.errors:
            logger.error('Error creating user group %s: code: "%s" message: "%s"', result.name, failure.code,
                         failure.message)
    return created
