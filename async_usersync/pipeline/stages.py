"""One sync run as an asyncio pipeline, in named stages:

1. inspect: the directory read and the Adobe read run at the same time, each a task feeding the
   (synchronous, fast) planner inline; every command the planner yields goes straight into the
   client's action sink, so creates and group moves are on the wire while the reads go on;
2. Adobe-only users: ``planner.finish()`` runs only once both reads completed, so a failed read
   can never turn into a removal; with a run history, the removal of mapped groups from matched
   users waits here too, and both go only if nothing shrank too much since the last successful
   run (``engine.history``);
3. apply: the sink drains, and the run reports what landed.

With secondary (trustee) orgs (issue 16) each org is an ``OrgRun``: its own planner, client (token,
throttle) and sink. The one directory read feeds every org's planner, each org is read and written
at the same time as the others, and the primary's Adobe-only actions go once the secondaries' sinks
have drained (User Sync sends the secondaries' commands first, so that deletions come last). A
failed read of a secondary holds back that org's Adobe-only actions only; a failed read of the
directory or the primary holds back every org's (the primary decides the exclusions).

Push strategy never reads Adobe users; ``--adobe-only-user-list`` reads neither side.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from contextlib import AsyncExitStack, aclosing, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import AbstractSet, Any, AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Iterator, Protocol, Self, TypeVar

from async_usersync.engine import SyncPlanner
from async_usersync.engine.history import RemovalGuard, RunPicture
from async_usersync.engine.rules import AdobeOnlyAction, fold, missing_user_groups
from async_usersync.errors import ExitCode, ReadError, UsersyncError
from async_usersync.logs.progress import Progress
from async_usersync.logs.stage_lines import logged_stage
from async_usersync.pipeline.adobe_only_file import write_adobe_only_users
from async_usersync.pipeline.extension import in_org
from async_usersync.pipeline.journal import Journal
from async_usersync.config.settings import UmapiSettings
from async_usersync.engine.action_summary import SummaryCounters
from async_usersync.records import AdobeUser, CommandResult, DirectoryRecord, UserCommand
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
    """What the primary's sink sent: commands, completed, failed (each secondary's is in ``secondaries``)."""
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
    secondaries: dict[str, "OrgReport"] = field(default_factory=dict)
    """Each secondary org's part, by name (the fields above are the primary's, and the run's)."""

    @property
    def exit_code(self) -> ExitCode:
        """130 interrupted, 3 a read failed (of any org), 6 removals held back, 4 a command failed, was not
        sent or got no answer (in any org), else 0."""
        if self.interrupted:
            return ExitCode.INTERRUPTED
        failure = self.read_failure or next((org.read_failure for org in self.secondaries.values() if org.read_failure), None)
        if failure is not None:
            return failure.error.exit_code
        if self.held:
            return ExitCode.REMOVALS_HELD
        if any(totals.failed or totals.not_sent or totals.unanswered for totals in (self.totals, *(org.totals for org in self.secondaries.values()))):
            return ExitCode.COMMANDS_FAILED
        return ExitCode.OK


@dataclass(frozen=True)
class OrgReport:
    """What a secondary org's part of the run did: its counters, what its sink sent, its throttle's
    waits, its read's duration, and why its read failed (None: it did not)."""
    counters: SummaryCounters
    totals: ActionTotals
    throttle: dict[str, dict[str, Any]] = field(default_factory=dict)
    durations: dict[str, float] = field(default_factory=dict)
    read_failure: ReadFailure | None = None
    adobe_only_over_limit: bool = False
    """Its planner took no Adobe-only action: more candidates than ``max_adobe_only_users`` allows."""


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
    come, sends the commands, and keeps the phases' progress and durations. ``org`` names a
    secondary org in its log lines (None: the primary). Each outcome goes to ``journal`` too."""

    def __init__(self, planner: SyncPlanner, progress: ProgressFactory, org: str | None = None,
                 journal: Journal | None = None, log_changes: bool = True) -> None:
        self.planner = planner
        self.journal = journal
        self.progress = progress
        self.org = org
        self.log_changes = log_changes
        """False for a review's commands, which are kept, not sent."""
        self.applied = progress("UMAPI actions landed or failed" + (f" in {org}" if org else ""), None)
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
            if self.log_changes:
                for line in describe_change(command, self.org):
                    logger.info("%s", line)
            await self.sink.send(command)

    def log_messages(self) -> None:
        """Logs the planner's messages collected so far, at their levels."""
        for level, text in self.planner.take_messages():
            logger.log(level, "%s%s", f"{self.org}: " if self.org else "", text)

    def on_result(self, result: CommandResult) -> None:
        """The sink's report of one command: journals and counts it, and logs User Sync's ``Error in
        action`` line per error."""
        if self.journal is not None:
            self.journal.record(result, self.org)
        if not result.ok:
            self._count_as_unchanged(result.command)
        if result.not_sent or result.unanswered:  # counted in the totals and told once, not logged one by one
            return
        self.applied.advance()
        command = result.command
        for error in result.errors:
            logger.error('Error in action%s (User: %s, Command: %s): code: "%s" message: "%s"',
                         f" in {self.org}" if self.org else "", command.key or command.user, error.step, error.code,
                         error.message)

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


@dataclass(eq=False)
class OrgRun:
    """One org's part of a run: its planner, what to read and create there, and, once the run has
    started, its sender and client. ``name`` is None for the primary."""
    name: str | None
    planner: SyncPlanner
    umapi: UmapiSettings
    adobe_groups_to_read: tuple[str, ...] | None
    user_groups_wanted: tuple[str, ...]
    sender: CommandSender
    listed: tuple[AdobeUser, ...] = ()
    """``--adobe-only-user-list``: the users the list gives for this org."""
    client: OrgClient | None = None
    read_failure: ReadFailure | None = None
    """Why this (secondary) org's read failed: its Adobe-only actions are held back."""

    async def send_held(self) -> None:
        """The commands held for their group removals, without those removals (a failed read)."""
        await self.sender.send(self.planner.hold_group_removals())


def org_runs(job: SyncJob, progress: ProgressFactory) -> list[OrgRun]:
    """The primary's ``OrgRun``, then each secondary's, in the config's order."""
    listed = job.listed_adobe_only_users or {}
    return [OrgRun(None, job.planner, job.umapi, job.adobe_groups_to_read, job.user_groups_wanted,
                   CommandSender(job.planner, progress, journal=job.journal, log_changes=not job.review),
                   tuple(listed.get(None, ()))),
            *(OrgRun(org.name, org.planner, org.umapi, org.adobe_groups_to_read, org.user_groups_wanted,
                     CommandSender(org.planner, progress, org.name, job.journal, not job.review),
                     tuple(listed.get(org.name, ())))
              for org in job.secondaries)]


async def run_stages(job: SyncJob, progress: ProgressFactory = silent_progress,
                     client_type: Callable[..., OrgClient] = UmapiClient) -> RunResult:
    """Runs the stages. When a read fails, the commands already planned for matched and new users
    are still sent, and no Adobe-only user is touched (of that org, or of every org when the
    directory's or the primary's read failed). ``client_type(settings, test_mode=...)`` makes each
    org's client: the scale benchmark reads through the real client while counting the commands
    instead of sending them, and the pipeline tests put an in-memory org there."""
    orgs = org_runs(job, progress)
    primary, secondaries = orgs[0], orgs[1:]
    planner, sender = primary.planner, primary.sender
    planned = _Planned()
    if job.removal_guard is not None and job.removal_guard.previous is not None:
        for org in orgs:
            org.planner.defer_group_removals()
    interrupted = False
    started = time.monotonic()
    async with AsyncExitStack() as clients:
        for org in orgs:
            org.client = await clients.enter_async_context(client_type(org.umapi, test_mode=job.test_mode))
        with logged_stage(logger, "Push to UMAPI" if job.push else "Sync with UMAPI"), full_collections_deferred():
            try:
                assert primary.client is not None
                async with primary.client.action_sink(sender.on_result) as sink:
                    sender.sink = sink
                    async with AsyncExitStack() as secondary_sinks:
                        for org in secondaries:
                            assert org.client is not None
                            org.sender.sink = await secondary_sinks.enter_async_context(
                                org.client.action_sink(org.sender.on_result))
                        planned = await _plan(job, orgs)
                        for org in secondaries:
                            org.sender.log_messages()
                            org.sender.planning_done()
                    # the secondaries' sinks have drained: the primary's Adobe-only actions go last
                    if planned.primary_adobe_only and job.listed_adobe_only_users is not None:
                        await _plan_listed_users(primary)
                    elif planned.primary_adobe_only:
                        await sender.send_adobe_only(planner.finish())
                        if job.write_file is not None:
                            users = {org.name: org.planner.adobe_only_users for org in secondaries
                                     if org.name is not None and org.read_failure is None}
                            written = write_adobe_only_users(job.write_file, planner.adobe_only_users, users)
                            logger.info("Wrote %d Adobe-only users to %s", written, job.write_file)
                    sender.log_messages()
                    sender.planning_done()
            except asyncio.CancelledError:  # Ctrl-C or SIGTERM: the sinks stopped sending and told what they know
                interrupted = True
            for org in orgs:
                org.sender.applied.finish()
                _warn_not_sent(org, interrupted)
        throttle = {org.name: org.client.throttle_report() for org in orgs if org.client is not None}
    durations = sender.durations | {"actions_sent": time.monotonic() - started}
    read_failure, picture, held = planned.read_failure, planned.picture, planned.held
    recorded = _org_after(job, picture) if picture is not None and read_failure is None and not held else None
    reports = {org.name: OrgReport(org.planner.counters, _sink_totals(org), throttle.get(org.name, {}),
                                   dict(org.sender.durations), org.read_failure, org.planner.adobe_only_over_limit)
               for org in secondaries if org.name is not None}
    return RunResult(_sink_totals(primary), read_failure, durations, throttle.get(None, {}), recorded, held, interrupted,
                     reports)


@dataclass
class _Planned:
    """What ``_plan`` decided: the run's read failure, the picture for the run history, why the
    removals are held back, and whether the primary's Adobe-only actions may go."""
    read_failure: ReadFailure | None = None
    picture: RunPicture | None = None
    held: tuple[str, ...] = ()
    primary_adobe_only: bool = False


async def _plan(job: SyncJob, orgs: list[OrgRun]) -> _Planned:
    """Everything before the primary's Adobe-only actions, every org's commands sent as planned: the
    user groups to create, the reads (or the Adobe-only user list), the run history guard, and the
    secondaries' Adobe-only actions. A ``ReadFailure`` of the run is caught here: each org then
    sends only its waiting users' other changes."""
    primary, secondaries = orgs[0], orgs[1:]
    planner = primary.planner
    planned = _Planned()
    try:
        for org in orgs:
            if org.user_groups_wanted:
                assert org.client is not None
                org.planner.counters.user_groups_created = await create_missing_user_groups(
                    org.client, org.user_groups_wanted, org.name)
        if job.listed_adobe_only_users is not None:
            for org in secondaries:
                await _plan_listed_users(org)
            planned.primary_adobe_only = True
            return planned
        await _inspect_both_sides(job, orgs)
        _check_mapped_groups_found(planner)
        _check_hook_ran_for_everyone(job)
        if job.removal_guard is not None:
            planned.picture = _picture(job)
            planned.held, keep_reference = _removals_held(job.removal_guard, planned.picture, planner)
            if keep_reference:
                planned.picture = None
        if planned.held:
            for org in orgs:
                await org.send_held()
            return planned
        await _secondaries_adobe_only(secondaries, planner.excluded_keys)
        await primary.sender.send(planner.release_group_removals())
        planned.primary_adobe_only = True
    except ReadFailure as failure:
        planned.read_failure = failure
        for org in orgs:  # the waiting users' other changes
            await org.send_held()
    return planned


def _sink_totals(org: OrgRun) -> ActionTotals:
    return org.sender.sink.totals if org.sender.sink is not None else ActionTotals()


def _warn_not_sent(org: OrgRun, interrupted: bool) -> None:
    """One WARNING each for an org's commands never sent and for those sent that got no answer
    before sending stopped (they may have landed), instead of a line per command."""
    totals = _sink_totals(org)
    where = f" in {org.name}" if org.name else ""
    why = "the run was interrupted" if interrupted else "UMAPI stayed unavailable"
    if totals.not_sent:
        logger.warning("%d of %d UMAPI actions%s were not sent (%s); the next run plans them again",
                       totals.not_sent, totals.sent, where, why)
    if totals.unanswered:
        logger.warning("%d of %d UMAPI actions%s were sent but got no answer before sending stopped (%s): "
                       "they may have landed, and the next run reconciles them", totals.unanswered, totals.sent,
                       where, why)


async def _secondaries_adobe_only(secondaries: list[OrgRun], excluded_in_primary: AbstractSet[str]) -> None:
    """Each secondary whose read succeeded gets its held group removals and its Adobe-only actions
    (users the primary excludes left alone); one whose read failed only its users' other changes."""
    for org in secondaries:
        if org.read_failure is not None:
            await org.send_held()
            continue
        await org.sender.send(org.planner.release_group_removals())
        await org.sender.send_adobe_only(org.planner.finish(excluded_in_primary))


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


def describe_change(command: UserCommand, org: str | None = None) -> list[str]:
    """User Sync's log lines for one command, so the log says who changed and how; in a secondary
    org they name it (``Managing groups in org2 for user key: ...``, as User Sync writes it)."""
    key = command.key or command.user
    if command.remove_from_org:
        verb = "Deleting" if command.delete_account else "Removing"
        return [f"{verb} Adobe-only user{f' from {org}' if org else ''} with user key: {key}"]
    lines = [f"Adding user{f' to {org}' if org else ''} with user key: {key}"] if command.create else []
    if command.update:
        lines.append(f"Updating info for user key: {key} changes: {dict(command.update)}")
    if command.add_groups or command.remove_groups:
        removed = "all" if command.remove_groups == "all" else _group_set(command.remove_groups)
        lines.append(f"Managing groups{f' in {org}' if org else ''} for user key: {key} "
                     f"added: {_group_set(command.add_groups)} removed: {removed}")
    return lines


def _group_set(names: Iterable[str]) -> str:
    """``{'A', 'B'}``, sorted, so that logs of two runs compare line by line."""
    return "{" + ", ".join(repr(name) for name in sorted(names)) + "}"


async def _inspect_both_sides(job: SyncJob, orgs: list[OrgRun]) -> None:
    """The directory read and every org's read at once. A failed read of the directory or of the
    primary cancels the others and is raised as itself (a ``ReadFailure``, or a bug), never as an
    ExceptionGroup; a secondary's is kept on its ``OrgRun`` and the rest go on without it."""
    try:
        async with asyncio.TaskGroup() as reads:
            reads.create_task(_read_directory(job, orgs), name="directory read")
            if not job.push:
                for org in orgs:
                    reads.create_task(_read_adobe(org), name=f"Adobe read of {org.name or 'the primary'}")
    except BaseExceptionGroup as group:
        raise first_error(group) from None
    if job.push:
        for org in orgs:
            await org.sender.send(org.planner.adobe_done())


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


def _check_hook_ran_for_everyone(job: SyncJob) -> None:
    """A directory user the extension hook failed for was kept from any change (the planner protects
    it as unreadable), but the hook may have meant it to match another Adobe user, which would then
    look Adobe-only: so the directory's picture is partial, and the run ends as a failed read before
    any Adobe-only action or mapped-group removal."""
    if job.hook is not None and job.hook.failures:
        raise ReadFailure(None, ReadError(
            f"the extension hook failed for {job.hook.failures} directory user(s) (each is logged above with the "
            f"line of {job.hook.extension.file}); their Adobe accounts were left as they are"))


async def _read_directory(job: SyncJob, orgs: list[OrgRun]) -> None:
    """One directory read feeding every org's planner (an org whose read failed is left out), each
    user through the extension hook first, once, and each org given the hook's groups of its own."""
    assert job.directory is not None
    hook = job.hook
    several_orgs = len(orgs) > 1

    def hold_missing_group(group: str) -> None:
        for org in orgs:
            org.planner.hold_missing_group(group)

    async def add(user: DirectoryRecord) -> None:
        if hook is not None:
            user = hook.apply(user)
        for org in orgs:
            if org.read_failure is None:
                await org.sender.send(org.planner.add_directory_user(in_org(user, org.name) if several_orgs else user))

    async def done() -> None:
        for org in orgs:
            if org.read_failure is None:
                await org.sender.send(org.planner.directory_done())

    with logged_stage(logger, "Load from Directory"):
        await _feed(orgs[0].sender, "directory", job.directory.users(job.selection, hold_missing_group), add, done,
                    progress="directory users read", failure="reading the directory")


async def _read_adobe(org: OrgRun) -> None:
    """One org's read. A secondary's failure is logged and kept on ``org``; the primary's is raised."""
    assert org.client is not None
    sender, planner = org.sender, org.planner

    async def add(user: AdobeUser) -> None:
        await sender.send(planner.add_adobe_user(user))

    async def done() -> None:
        await sender.send(planner.adobe_done())

    where = f" of {org.name}" if org.name else ""
    try:
        await _feed(sender, "adobe", _adobe_users(org.client, org.adobe_groups_to_read), add, done,
                    progress=f"Adobe users read{where}", failure=f"reading the Adobe users{where}")
    except ReadFailure as failure:
        if org.name is None:
            raise
        org.read_failure = failure
        logger.critical("%s; no Adobe-only user of %s will be touched, the other orgs go on", failure, org.name)


async def _feed(sender: CommandSender, side: str, users: AsyncGenerator[T, None], add: Callable[[T], Awaitable[None]],
                done: Callable[[], Awaitable[None]], *, progress: str, failure: str) -> None:
    """Hands one side's users to ``add`` as they arrive (which plans and sends at once), then calls
    ``done``. The stream is closed here, not when collected: a source may hold a child process or
    connections. The source's error (its edge translated its library's) is raised as a
    ``ReadFailure`` naming ``failure``."""
    counter = sender.progress(progress, None)
    started = time.monotonic()
    try:
        async with aclosing(users) as stream:
            async for user in stream:
                await add(user)
                counter.advance()
    except UsersyncError as error:
        raise ReadFailure(failure, error) from None
    await done()
    counter.finish()
    sender.durations[f"{side}_read"] = time.monotonic() - started


async def _adobe_users(client: OrgClient, groups: tuple[str, ...] | None) -> AsyncGenerator[AdobeUser, None]:
    """The whole org (``groups`` None), or the members of ``groups``, each user once."""
    if groups is None:
        async for user in client.users():
            yield user
        return
    seen: set[str] = set()
    for group in groups:
        async for user in client.users(group=group):
            key = (user.email or user.username).lower()
            if key not in seen:
                seen.add(key)
                yield user


async def _plan_listed_users(org: OrgRun) -> None:
    """``--adobe-only-user-list``: the users listed for this org are its Adobe-only users; nothing is read."""
    planner = org.planner
    await org.sender.send(planner.directory_done())
    for user in org.listed:
        planner.add_listed_adobe_only_user(user)
    await org.sender.send(planner.adobe_done())
    await org.sender.send_adobe_only(planner.finish())


async def create_missing_user_groups(client: OrgClient, wanted: Iterable[str], org: str | None = None) -> int:
    """``auto_create``: creates the wanted user groups the org lacks; returns how many were created."""
    try:
        existing = [str(group.get("groupName", "")) async for group in client.groups()]
    except UsersyncError as error:
        raise ReadFailure(f"reading the Adobe groups{f' of {org}' if org else ''}", error) from None
    missing = missing_user_groups(wanted, existing)
    if not missing:
        return 0
    created = 0
    for result in await client.create_user_groups(missing):
        if result.ok:
            created += 1
            logger.info("Created Adobe user group%s: %s", f" in {org}" if org else "", result.name)
        for failure in result.errors:
            logger.error('Error creating user group %s: code: "%s" message: "%s"', result.name, failure.code,
                         failure.message)
    return created
