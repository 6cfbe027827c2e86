"""The ``sync`` command from start to exit code: config and options, logs, run lock, schedule
guard and run history, the pipeline, the Action Summary. Every error a user can cause ends in one
clear message and its exit code (README: 2 config, 3 read failed, 4 commands failed, 5 refused
start, 6 removals held back), never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import re
import sys
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Mapping

from async_usersync import __version__
from async_usersync.config import RunSettings, load_run_settings
from async_usersync.engine import Strategy, SyncPlanner, render_action_summary
from async_usersync.engine.history import RemovalGuard
from async_usersync.errors import ConfigError, ExitCode, UsersyncError
from async_usersync.logs import LogSettings, LogStream, streaming_logs
from async_usersync.logs.stage_lines import run_title, stage_line, total_time
from async_usersync.pipeline.reports import RunSummary, summary_counters, write_reports
from async_usersync.pipeline.interrupts import stop_on_sigterm
from async_usersync.pipeline.history import RunHistory, default_history_path, history_scope
from async_usersync.pipeline.job import SyncJob, build_job
from async_usersync.pipeline.stages import RunResult, run_stages
from async_usersync.pipeline.runlock import RunLock, default_lock_path
from async_usersync.pipeline.schedule import DEFAULT_MIN_INTERVAL, ScheduleGuard, default_record_path

logger = logging.getLogger("async_usersync.main")


@dataclass(frozen=True)
class SyncInvocation:
    """The ``sync`` command line, as typed."""

    config_file: Path = Path("user-sync-config.yml")
    encoding: str = "utf8"
    options: Mapping[str, Any] = field(default_factory=dict)
    """Given options by invocation_defaults name (``config.options.merge_options``'s ``given``)."""
    summary_json: Path | None = None
    metrics_file: Path | None = None
    lock_file: Path | None = None
    min_interval: str | None = None
    refuse_too_soon: bool = False
    accept_shrink: bool = False
    """Accept, for this run, a picture that shrank since the last successful run (``engine.history``)."""
    arguments: tuple[str, ...] = ()
    """The raw arguments, for the log's ``Command line arguments`` block."""


def sync_main(invocation: SyncInvocation) -> ExitCode:
    """The ``sync`` command from its command line to its exit code, in a new event loop (the CLI's
    entry point). The configuration, the connector files and the options are read and checked first:
    an error there is printed (exit 2) before any log opens. Ctrl-C ends it with exit 130."""
    try:
        settings = load_run_settings(invocation.config_file, invocation.options, invocation.encoding)
        job = build_job(settings)
        guard = _schedule_guard(invocation)
    except UsersyncError as error:
        print_error(error)
        return error.exit_code
    try:
        code = asyncio.run(_run_logged(invocation, settings, job, guard, settings.logging))
    except KeyboardInterrupt:
        print("async-usersync: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    return code


async def _run_logged(invocation: SyncInvocation, settings: RunSettings, job: SyncJob, guard: ScheduleGuard,
                      log_settings: LogSettings) -> ExitCode:
    """Opens the log stream (a log file that cannot be opened is printed, exit 2) and runs the
    guarded part inside it, so that everything it logs is written whatever ends it; a SIGTERM
    inside stops the run as Ctrl-C does (``interrupts.stop_on_sigterm``)."""
    run_id = uuid.uuid4().hex[:12]
    try:
        async with streaming_logs(log_settings, run_id=run_id) as stream, stop_on_sigterm():
            code = await _run_guarded(invocation, settings, job, guard, stream, run_id)
            await stream.flush()
    except UsersyncError as error:  # the log file itself could not be opened
        print_error(error)
        return error.exit_code
    except asyncio.CancelledError:  # SIGTERM: stop_on_sigterm logged why and cancelled the run
        return ExitCode.INTERRUPTED
    if code is not ExitCode.OK:
        print(f"async-usersync: the run ended with exit code {int(code)}; see the log for details", file=sys.stderr)
    return code


async def _run_guarded(invocation: SyncInvocation, settings: RunSettings, job: SyncJob, guard: ScheduleGuard,
                       stream: LogStream, run_id: str) -> ExitCode:
    """The logged run: its header, the run lock, the schedule guard and the run history around
    ``stages.run_stages``, then the Action Summary, the end line and the summary/metrics files.
    Every error ends as one CRITICAL line and its exit code; a bug's trace goes to the debug log."""
    options = settings.options
    started, started_at = time.monotonic(), datetime.now().astimezone()
    title = run_title(__version__, options.test_mode)
    logger.info("%s", stage_line(f"Start {title}", "="))
    logger.info("async-usersync %s - Python %s - %s %s", __version__, platform.python_version(), platform.system(), platform.release())
    logger.info("------- Command line arguments -------")
    logger.info("%s", " ".join(invocation.arguments) or "(none)")
    for note in settings.notes:
        logger.warning("%s", note)
    code = ExitCode.OK
    result: RunResult | None = None
    try:
        with RunLock(invocation.lock_file or default_lock_path(settings.config.file)):
            guard.check()
            history = _run_history(settings, job)
            if history is not None:
                job = replace(job, removal_guard=RemovalGuard(history.last_picture(), settings.config.max_shrink,
                                                              invocation.accept_shrink))
            result = await run_stages(job, stream.progress)
            if result.read_failure is not None:
                logger.critical("%s; no Adobe-only user was touched", result.read_failure)
            if result.interrupted:
                totals = result.totals
                logger.critical("The run was stopped before it finished: of %d UMAPI actions, %d landed, %d failed, "
                                "%d got no answer (they may have landed) and %d were not sent", totals.sent,
                                totals.completed, totals.failed, totals.unanswered, totals.not_sent)
            code = result.exit_code
            if code is ExitCode.OK and not options.test_mode:
                guard.record_success(run_id)
            if (history is not None and result.picture is not None and not options.test_mode
                    and code in (ExitCode.OK, ExitCode.COMMANDS_FAILED)):
                history.record(result.picture, run_id)
    except UsersyncError as error:
        logger.critical("%s", error)
        code = error.exit_code
    except asyncio.CancelledError:  # SIGTERM or Ctrl-C: say so in the log, which is still open
        logger.critical("The run was stopped before it finished; actions already sent may have landed")
        code = ExitCode.INTERRUPTED
    except Exception as error:  # a bug: one clear line for the cron mail, the trace for the debug log
        logger.critical("Unexpected internal error (%s: %s): the run stopped. Set logging.file_log_level to debug "
                        "to log its trace, and please report it", type(error).__name__, error)
        logger.debug("Trace of the internal error", exc_info=True)
        code = ExitCode.INTERNAL_ERROR
    counters = job.planner.counters
    if result is not None:
        totals = result.totals
        for line in render_action_summary(counters, (totals.sent, totals.completed, totals.failed, totals.not_sent,
                                                     totals.unanswered),
                                          options.test_mode):
            logger.info("%s", line)
    elapsed = time.monotonic() - started
    logger.info("%s", stage_line(f"End {title} (Total time: {total_time(elapsed)})", "="))
    if stream.log_file is not None:
        logger.info("The log is in %s", stream.log_file)
    try:
        write_reports(invocation.summary_json, invocation.metrics_file, RunSummary(
            run_id=run_id, started=started_at, finished=datetime.now().astimezone(), exit_code=int(code),
            test_mode=options.test_mode, counters=summary_counters(counters, result),
            durations=(result.durations if result is not None else {}) | {"total": elapsed},
            throttle=result.throttle if result is not None else {}))
    except (OSError, UsersyncError) as error:
        logger.error("Cannot write the run's summary or metrics: %s", error)
    return code


def _run_history(settings: RunSettings, job: SyncJob) -> RunHistory | None:
    """The run history of this config file, when the guard applies: both sides are read (not push,
    not an Adobe-only user list)."""
    if job.push or job.listed_adobe_only_users is not None:
        return None
    return RunHistory(default_history_path(settings.config.file), history_scope(settings.options))


def _schedule_guard(invocation: SyncInvocation) -> ScheduleGuard:
    interval = parse_interval(invocation.min_interval) if invocation.min_interval else DEFAULT_MIN_INTERVAL
    return ScheduleGuard(default_record_path(invocation.config_file), interval, invocation.refuse_too_soon)


_INTERVAL = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)?\s*", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> timedelta:
    """``2h``, ``90m``, ``45s``, ``1d``; a bare number is minutes."""
    match = _INTERVAL.fullmatch(text)
    if match is None:
        raise ConfigError(f"option --min-interval: expected a duration such as 2h, 90m or 45s, got '{text}'")
    unit = (match.group(2) or "m").lower()
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[unit])


def print_error(error: UsersyncError) -> None:
    """One line on stderr, for errors found before the log is open."""
    print(f"async-usersync: error: {error}", file=sys.stderr)
