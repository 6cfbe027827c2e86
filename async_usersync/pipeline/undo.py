"""The ``undo RUN_ID`` command: sends the inverse of what landed in one journaled run, in the primary
and in each secondary org (``engine.undo`` plans it).

Undo is itself a run that sends actions: it holds the config's run lock, prunes and appends to the
journal (so an undo can be undone), logs each change as a sync does and ends with the Action Summary.
For each org, in the config's order, it reads the org's users, plans, and sends through the client's
action sink (throttle, retries, outcome reporting as in a sync). Exit codes: 0 everything sent
landed, 2 an unknown run id (the message lists the journal's runs) or a configuration error, 3 an
org could not be read (nothing is sent there), 4 a command failed or was not sent, or a user was
left alone (changed since the run, or deleted), 5 another run holds the lock.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from async_usersync import __version__
from async_usersync.config import RunSettings, load_run_settings
from async_usersync.config.settings import UmapiSettings
from async_usersync.engine import SummaryCounters, match_keys, render_action_summary
from async_usersync.engine.undo import plan_undo
from async_usersync.errors import ConfigError, ExitCode, UsersyncError
from async_usersync.logs import streaming_logs
from async_usersync.logs.stage_lines import stage_line, total_time
from async_usersync.pipeline.interrupts import stop_on_sigterm
from async_usersync.pipeline.journal import Journal, JournalEntry, read_journal
from async_usersync.pipeline.main import print_error, summary_actions
from async_usersync.pipeline.outputs import OutputPath, WriteKind, check_writable
from async_usersync.pipeline.run_state import RunStatePaths
from async_usersync.pipeline.runlock import RunLock
from async_usersync.pipeline.stages import describe_change
from async_usersync.records import AdobeUser, CommandResult, UserCommand
from async_usersync.umapi import ActionTotals, UmapiClient

logger = logging.getLogger("async_usersync.undo")


@dataclass(frozen=True)
class UndoInvocation:
    """The ``undo`` command line, as typed."""
    run_id: str
    config_file: Path = Path("user-sync-config.yml")
    encoding: str = "utf8"
    options: Mapping[str, Any] = field(default_factory=dict)
    """``state_dir``, ``journal_retention`` (by invocation_defaults name), as for ``sync``."""
    force: bool = False
    """Undo users that changed since the run too."""
    lock_file: Path | None = None


@dataclass
class _OrgUndo:
    """One org's part: its counters for the Action Summary, what its sink did, users left alone."""
    counters: SummaryCounters = field(default_factory=SummaryCounters)
    totals: ActionTotals = field(default_factory=ActionTotals)
    left_alone: int = 0


def undo_main(invocation: UndoInvocation) -> ExitCode:
    """The ``undo`` command from its command line to its exit code, in a new event loop."""
    run_id = uuid.uuid4().hex[:12]
    try:
        settings = load_run_settings(invocation.config_file, invocation.options, invocation.encoding)
    except UsersyncError as error:
        print_error(error)
        return error.exit_code
    try:
        return asyncio.run(_undo_logged(invocation, settings, run_id))
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED


async def _undo_logged(invocation: UndoInvocation, settings: RunSettings, run_id: str) -> ExitCode:
    """The undo inside its log stream, with its Start and End lines and the Action Summary."""
    started = time.monotonic()
    title = f"undo of run {invocation.run_id}"
    async with streaming_logs(settings.logging, run_id=run_id) as stream, stop_on_sigterm():
        logger.info("%s", stage_line(f"Start async-usersync {__version__}: {title}", "="))
        orgs: dict[str | None, _OrgUndo] = {}
        try:
            code = await _undo(invocation, settings, run_id, orgs)
        except UsersyncError as error:
            logger.critical("%s", error)
            code = error.exit_code
        except asyncio.CancelledError:
            logger.critical("The undo was stopped before it finished; actions already sent may have landed")
            code = ExitCode.INTERRUPTED
        if orgs:
            primary = orgs.get(None, _OrgUndo())
            secondaries = {name: (org.counters, summary_actions(org.totals)) for name, org in orgs.items() if name is not None}
            for line in render_action_summary(primary.counters, summary_actions(primary.totals), False, secondaries):
                logger.info("%s", line)
        logger.info("%s", stage_line(f"End {title} (Total time: {total_time(time.monotonic() - started)})", "="))
        await stream.flush()
    return code


async def _undo(invocation: UndoInvocation, settings: RunSettings, run_id: str,
                orgs: dict[str | None, _OrgUndo]) -> ExitCode:
    """Lock, journal, then each org with landed commands in the run, primary first; the first org's
    non-zero exit code (0 when every org's undo landed whole)."""
    state = RunStatePaths.of(settings.config.file, settings.options.state_dir)
    named_by = settings.options.named_by
    check_writable([OutputPath(state.folder, named_by.get("state_dir", "the state folder (beside the config file; "
                                                          "choose another with --state-dir)"), WriteKind.FOLDER)])
    with RunLock(invocation.lock_file or state.lock):
        journal = Journal.start(state.journal, run_id, "undo", settings.options.journal_retention, False)
        assert journal is not None
        entries, warnings = read_journal(state.journal)
        for warning in warnings:
            logger.warning("%s", warning)
        chosen = [entry for entry in entries if entry.run == invocation.run_id]
        if not chosen:
            raise ConfigError(f"run {invocation.run_id!r} is not in the journal {state.journal}; "
                              f"{_known_runs(entries)}")
        if chosen[0].kind in ("push", "list"):
            raise ConfigError(f"run {invocation.run_id!r} cannot be undone: it was a sync with "
                              f"{'--strategy push' if chosen[0].kind == 'push' else '--adobe-only-user-list'}, which "
                              f"reads no Adobe user, so the journal does not hold what the org had before it")
        _report_not_landed(chosen)
        code = ExitCode.OK
        try:
            connectors: list[tuple[str | None, UmapiSettings]] = [(None, settings.umapi)]
            connectors += [(org.name, org.umapi) for org in settings.secondaries]
            for name, umapi in connectors:
                # an unanswered command may have landed: undone as if it had, so a user it did not reach
                # differs from what the run left and is left alone as changed since (unless --force)
                landed = [entry.command for entry in chosen if entry.org == name and entry.outcome in ("landed", "unanswered")]
                if not landed:
                    continue
                org = orgs[name] = _OrgUndo()
                org_code = await _undo_org(name, umapi, landed, journal, invocation.force, org)
                code = org_code if code is ExitCode.OK else code
        finally:
            journal.close()
        return code


def _known_runs(entries: list[JournalEntry]) -> str:
    """The journal's runs, newest last: ``3f2a... (sync, 2026-12-01T01:02:03+00:00, 12 commands)``."""
    runs: dict[str, tuple[JournalEntry, int]] = {}
    for entry in entries:
        first, count = runs.get(entry.run, (entry, 0))
        runs[entry.run] = (first, count + 1)
    if not runs:
        return "the journal holds no run (a run that sent nothing, or ran in test mode, is not journaled)"
    listed = ", ".join(f"{run} ({first.kind}, {first.time.isoformat(timespec='seconds')}, {count} commands)"
                       for run, (first, count) in runs.items())
    return f"the journal knows: {listed}"


def _report_not_landed(entries: list[JournalEntry]) -> None:
    """Failed and unsent commands changed nothing to undo (a failed one's other steps may have landed:
    its user then differs from the state the run left, and is named below)."""
    outcomes = Counter(entry.outcome for entry in entries)
    if outcomes["failed"] or outcomes["not_sent"]:
        logger.warning("Of run's %d commands, %d failed and %d were not sent: only what landed is undone",
                       len(entries), outcomes["failed"], outcomes["not_sent"])


async def _undo_org(name: str | None, umapi: UmapiSettings, landed: list[UserCommand], journal: Journal, force: bool,
                    org: _OrgUndo) -> ExitCode:
    """Reads the org's users, plans the undo of ``landed`` there and sends it; its exit code."""
    where = f" of {name}" if name else ""
    async with UmapiClient(umapi) as client:
        current: dict[str, AdobeUser] = {}
        try:
            async for user in client.users():
                org.counters.adobe_users_read += 1
                for key in match_keys(user):
                    current[key] = user
        except UsersyncError as error:
            logger.critical("Reading the Adobe users%s failed: %s; nothing is undone there", where, error)
            return ExitCode.READ_FAILED
        plan = plan_undo(landed, current, force, name)
        for level, text in plan.messages:
            logger.log(level, "%s", text)
        org.left_alone = plan.left_alone
        landed_users = Counter[str]()

        def on_result(result: CommandResult) -> None:
            journal.record(result, name)
            command = result.command
            if result.ok:
                landed_users["removed" if command.remove_from_org else "added" if command.create else "restored"] += 1
            for error in result.errors:
                logger.error('Error in action%s (User: %s, Command: %s): code: "%s" message: "%s"',
                             f" in {name}" if name else "", command.key or command.user, error.step, error.code,
                             error.message)

        async with client.action_sink(on_result) as sink:
            for command in plan.commands:
                for line in describe_change(command, name):
                    logger.info("%s", line)
                await sink.send(command)
        org.totals = sink.totals
    org.counters.adobe_users_created = landed_users["added"]
    org.counters.adobe_users_updated = landed_users["restored"]
    org.counters.adobe_only_label = "Number of users the run created, removed from the org"
    org.counters.adobe_only_processed = landed_users["removed"]
    if org.totals.failed or org.totals.not_sent or org.left_alone:
        return ExitCode.COMMANDS_FAILED
    return ExitCode.OK


