"""The ``sync`` command from start to exit code: config and options, logs, run lock, schedule
guard and run history, the pipeline, the Action Summary. Every error a user can cause ends in one
clear message and its exit code (README: 2 config, 3 read failed, 4 commands failed, 5 refused
start, 6 removals held back), never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import re
import sys
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

from async_usersync import __version__
from async_usersync.config import RunSettings, load_run_settings, read_log_settings
from async_usersync.engine import Strategy, SyncPlanner, render_action_summary
from async_usersync.engine.history import RemovalGuard
from async_usersync.errors import ConfigError, ExitCode, UsersyncError
from async_usersync.config.settings import CsvSettings, LogSettings
from async_usersync.logs import LogStream, streaming_logs
from async_usersync.logs.stage_lines import run_title, stage_line, total_time
from async_usersync.pipeline.reports import (RunSummary, org_summaries, summary_counters, summary_durations,
                                             summary_throttle, write_reports)
from async_usersync.pipeline.interrupts import sigterm_as_ctrl_c, stop_on_sigterm
from async_usersync.pipeline.history import RunHistory, history_scope
from async_usersync.pipeline.job import SyncJob, build_job
from async_usersync.pipeline.journal import Journal
from async_usersync.pipeline.stages import ProgressFactory, RunResult, run_stages
from async_usersync.umapi import ActionTotals
from async_usersync.pipeline.outputs import OutputPath, WriteKind, check_writable
from async_usersync.pipeline.run_state import RunStatePaths
from async_usersync.pipeline.runlock import RunLock
from async_usersync.pipeline.schedule import DEFAULT_MIN_INTERVAL, ScheduleGuard, last_success

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
    stages: Callable[[SyncJob, ProgressFactory], Awaitable[RunResult]] = run_stages
    """What runs between the reads and the Action Summary (``apply`` sends a plan's commands instead)."""
    planner_type: type[SyncPlanner] = SyncPlanner
    """Each org's planner (``apply`` keeps what it reads, to compare with the plan)."""


@dataclass
class RunReports:
    """The run's ``--summary-json`` and ``--metrics-file``, written once on every exit path: by the
    logged run with what it reached (zeros where it did not get that far, a configuration error's
    included), else (Ctrl-C outside the event loop) by ``sync_main``, so a dashboard never keeps
    showing an older run."""

    invocation: SyncInvocation
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started: datetime = field(default_factory=lambda: datetime.now().astimezone())
    clock: float = field(default_factory=time.monotonic)
    """``time.monotonic()`` at the start, for the total duration."""
    last_run_record: Path | None = None
    """The config file's last-run record (``RunStatePaths.last_run``), once the options are read; it
    gives the last success."""
    read_files: tuple[Path, ...] = ()
    """The files the run reads besides the config file (``_inputs``), once the options are read: a
    summary or metrics file named like one of them is refused, and never written over it."""
    written: bool = False

    def write(self, code: ExitCode, **figures: Any) -> None:
        """Writes both files asked for, with the exit code, the config file's last success (this
        run's when it succeeded) and ``figures`` (``RunSummary`` fields; zeros where not given).
        Raises OSError or UsersyncError when a file cannot be written."""
        figures.setdefault("durations", summary_durations(None, time.monotonic() - self.clock))
        self.written = True
        reads = {os.path.realpath(path) for path in (*self._command_line_reads(), *self.read_files)}
        summary_json, metrics_file = (None if path is None or os.path.realpath(path) in reads else path
                                      for path in (self.invocation.summary_json, self.invocation.metrics_file))
        write_reports(summary_json, metrics_file, RunSummary(
            run_id=self.run_id, started=self.started, finished=datetime.now().astimezone(), exit_code=int(code),
            last_success=last_success(self.last_run_record or self._default_last_run_record()), **figures))

    def _command_line_reads(self) -> list[Path]:
        """The files the command line names for the run to read (``read_files`` stays empty when the
        configuration could not be read): the config file, a users CSV, an Adobe-only user list."""
        options = self.invocation.options
        reads = [self.invocation.config_file]
        for name, keyword in (("users", "file"), ("connector", "csv")):
            value = options.get(name)
            if isinstance(value, (list, tuple)) and len(value) > 1 and value[0] == keyword:
                reads.append(Path(value[1]))
        if options.get("adobe_only_user_list"):
            reads.append(Path(options["adobe_only_user_list"]))
        return reads

    def _default_last_run_record(self) -> Path:
        """Where the last-run record is when the configuration could not be read: in the state folder
        the command line names, else beside the config file."""
        state_dir = self.invocation.options.get("state_dir")
        return RunStatePaths.of(self.invocation.config_file, Path(state_dir) if state_dir else None).last_run

    def write_if_not_written(self, code: ExitCode) -> None:
        """``write(code)`` for a run that ended outside its log stream; an error is printed."""
        if self.written:
            return
        try:
            self.write(code)
        except (OSError, UsersyncError) as error:
            print(f"async-usersync: error: cannot write the run's summary or metrics: {error}", file=sys.stderr)


@dataclass(frozen=True)
class RunSetup:
    """What ``sync_main`` reads and checks before the log opens."""
    settings: RunSettings
    job: SyncJob
    state: RunStatePaths
    """Where this config file's run state lives (``--state-dir``)."""
    guard: ScheduleGuard


def sync_main(invocation: SyncInvocation) -> ExitCode:
    """The ``sync`` command from its command line to its exit code, in a new event loop (the CLI's
    entry point). The configuration, the connector files and the options are read and checked first.
    An error there is printed on stderr, and is also the run's CRITICAL line on the console and in
    the log file (when the ``logging`` section could be read), which the cron mail picks out; exit 2.
    Ctrl-C or SIGTERM ends it with exit 130, also before the event loop runs. The summary and
    metrics files are written whatever the exit."""
    reports = RunReports(invocation)
    setup: RunSetup | UsersyncError
    try:
        with sigterm_as_ctrl_c():
            try:
                settings = load_run_settings(invocation.config_file, invocation.options, invocation.encoding)
                state = RunStatePaths.of(settings.config.file, settings.options.state_dir)
                setup = RunSetup(settings, build_job(settings, invocation.planner_type), state, _schedule_guard(invocation, state))
                reports.last_run_record, reports.read_files = state.last_run, tuple(_inputs(settings))
                log_settings = settings.logging
            except UsersyncError as error:
                print_error(error)
                setup, log_settings = error, read_log_settings(invocation.config_file, invocation.encoding) or LogSettings()
            code = asyncio.run(_run_logged(invocation, setup, log_settings, reports))
    except KeyboardInterrupt:
        print("async-usersync: interrupted", file=sys.stderr)
        code = ExitCode.INTERRUPTED
    reports.write_if_not_written(code)
    return code


async def _run_logged(invocation: SyncInvocation, setup: RunSetup | UsersyncError, log_settings: LogSettings,
                      reports: RunReports) -> ExitCode:
    """Opens the log stream and runs the guarded part inside it, so that everything it logs is
    written whatever ends it; a SIGTERM inside stops the run as Ctrl-C does
    (``interrupts.stop_on_sigterm``). A log file that cannot be opened is printed on stderr and ends
    the run (exit 2) with its CRITICAL line on the console (or, when the configuration had failed
    already, that failure's)."""
    printed = isinstance(setup, UsersyncError)
    try:
        try:
            code, logs = await _run_in_logs(invocation, setup, log_settings, reports)
        except UsersyncError as error:  # the log file itself could not be opened
            print_error(error)
            printed = True
            code, logs = await _run_in_logs(invocation, setup if isinstance(setup, UsersyncError) else error,
                                      replace(log_settings, log_to_file=False, json_log_file=None), reports)
    except asyncio.CancelledError:  # SIGTERM: stop_on_sigterm logged why and cancelled the run
        return ExitCode.INTERRUPTED
    if code is not ExitCode.OK and not printed:
        where = f"; see the log {' and '.join(map(str, logs))} for details" if logs else ""
        print(f"async-usersync: the run ended with exit code {int(code)}{where}", file=sys.stderr)
    return code


async def _run_in_logs(invocation: SyncInvocation, setup: RunSetup | UsersyncError, log_settings: LogSettings,
                       reports: RunReports) -> tuple[ExitCode, list[Path]]:
    """``_run_guarded`` inside a log stream: its exit code and the log files written (the text log,
    the JSON log). Raises ConfigError when a log file cannot be opened."""
    async with streaming_logs(log_settings, run_id=reports.run_id) as stream, stop_on_sigterm():
        code = await _run_guarded(invocation, setup, stream, reports)
        await stream.flush()
    return code, [path for path in (stream.log_file, log_settings.json_log_file) if path is not None]


async def _run_guarded(invocation: SyncInvocation, setup: RunSetup | UsersyncError, stream: LogStream,
                       reports: RunReports) -> ExitCode:
    """The logged run: its header, the check of the files it will write, the run lock, the schedule
    guard and the run history around ``stages.run_stages``, then the Action Summary, a WARNING when a
    limit held actions back, the end line and the summary/metrics files. Every error ends as one
    CRITICAL line and its exit code, also one found before the log opened (``setup`` is then that
    error); a bug's trace goes to the debug log."""
    run_id = reports.run_id
    settings, job = (setup.settings, setup.job) if isinstance(setup, RunSetup) else (None, None)
    title = run_title(__version__, settings.options.test_mode if settings else bool(invocation.options.get("test_mode")))
    logger.info("%s", stage_line(f"Start {title}", "="))
    logger.info("async-usersync %s - Python %s - %s %s", __version__, platform.python_version(), platform.system(), platform.release())
    logger.info("------- Command line arguments -------")
    logger.info("%s", " ".join(invocation.arguments) or "(none)")
    for note in settings.notes if settings else ():
        logger.warning("%s", note)
    code = ExitCode.OK
    result: RunResult | None = None
    try:
        if not isinstance(setup, RunSetup):
            raise setup
        settings, job, state, guard = setup.settings, setup.job, setup.state, setup.guard
        options = settings.options
        check_writable(_outputs(invocation, settings, state), _inputs(settings))
        with RunLock(invocation.lock_file or state.lock):
            guard.check()
            history = _run_history(settings, job, state)
            if history is not None:
                job = replace(job, removal_guard=RemovalGuard(history.last_picture(), settings.config.max_shrink,
                                                              invocation.accept_shrink))
            kind = "push" if job.push else "list" if job.listed_adobe_only_users is not None else "sync"
            job = replace(job, journal=Journal.start(state.journal, run_id, kind, options.journal_retention,
                                                     options.test_mode))
            try:
                result = await invocation.stages(job, stream.progress)
            finally:
                if job.journal is not None:
                    job.journal.close()
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
    if result is not None and job is not None:
        secondaries = {name: (org.counters, summary_actions(org.totals)) for name, org in result.secondaries.items()}
        for line in render_action_summary(job.planner.counters, summary_actions(result.totals), job.test_mode, secondaries):
            logger.info("%s", line)
    over_limit = job is not None and job.planner.adobe_only_over_limit
    limits_held = {"max_adobe_only_users": over_limit or any(org.adobe_only_over_limit for org in
                                                             (result.secondaries.values() if result else ())),
                   "run_history": result is not None and bool(result.held)}
    _warn_limits_held(limits_held)
    elapsed = time.monotonic() - reports.clock
    logger.info("%s", stage_line(f"End {title} (Total time: {total_time(elapsed)})", "="))
    if stream.log_file is not None:
        logger.info("The log is in %s", stream.log_file)
    try:
        if job is None:  # the run's own settings could not be read: zeros, with the exit code
            reports.write(code, test_mode=bool(invocation.options.get("test_mode")))
        else:
            reports.write(code, test_mode=job.test_mode, counters=summary_counters(job.planner.counters, result),
                          durations=summary_durations(result, elapsed), limits_held=limits_held,
                          throttle=summary_throttle(result.throttle if result is not None else None),
                          orgs=org_summaries(result))
    except (OSError, UsersyncError) as error:
        logger.error("Cannot write the run's summary or metrics: %s", error)
    return code


def summary_actions(totals: ActionTotals) -> tuple[int, int, int, int, int]:
    """An org's sink totals as the Action Summary takes them: (total, landed, failed, not sent,
    unanswered)."""
    return totals.sent, totals.completed, totals.failed, totals.not_sent, totals.unanswered


def _warn_limits_held(limits_held: Mapping[str, bool]) -> None:
    """One WARNING line naming the limits that held actions back (the summary and metrics flag them
    too), for the cron mail's grep and for alerting on a run that otherwise looks fine."""
    held = [_LIMIT_EFFECTS[limit] for limit, was_held in limits_held.items() if was_held]
    if held:
        logger.warning("A limit held actions back in this run: %s", "; ".join(held))


_LIMIT_EFFECTS = {
    "max_adobe_only_users": "max_adobe_only_users (no Adobe-only user was acted on)",
    "run_history": "the run history (no removal was sent; see limits.max_shrink and --accept-shrink)",
}


def _outputs(invocation: SyncInvocation, settings: RunSettings, state: RunStatePaths) -> list[OutputPath]:
    """Every place the run will write besides its logs (opened already), for ``check_writable``."""
    named_by = settings.options.named_by
    outputs = [OutputPath(state.folder, named_by.get("state_dir", "the state folder (beside the config file; "
                                                     "choose another with --state-dir)"), WriteKind.FOLDER)]
    if invocation.lock_file is not None:
        outputs.append(OutputPath(invocation.lock_file, "option --lock-file", WriteKind.IN_PLACE))
    if settings.options.adobe_only_write_file is not None:
        outputs.append(OutputPath(settings.options.adobe_only_write_file,
                                  f"{named_by['adobe_only_user_action']} (write-file)", WriteKind.IN_PLACE))
    if invocation.summary_json is not None:
        outputs.append(OutputPath(invocation.summary_json, "option --summary-json", WriteKind.REPLACED))
    if invocation.metrics_file is not None:
        outputs.append(OutputPath(invocation.metrics_file, "option --metrics-file", WriteKind.REPLACED))
    return outputs


def _inputs(settings: RunSettings) -> dict[Path, str]:
    """The files the run reads that an output option could name by mistake, for ``check_writable``."""
    inputs = {settings.config.file: "the configuration file"}
    if isinstance(settings.directory, CsvSettings) and settings.directory.file_path is not None:
        inputs[settings.directory.file_path] = "the users file the run reads"
    if settings.options.adobe_only_user_list is not None:
        inputs[settings.options.adobe_only_user_list] = "the Adobe-only user list the run reads"
    return inputs


def _run_history(settings: RunSettings, job: SyncJob, state: RunStatePaths) -> RunHistory | None:
    """The run history of this config file, when the guard applies: both sides are read (not push,
    not an Adobe-only user list)."""
    if job.push or job.listed_adobe_only_users is not None:
        return None
    return RunHistory(state.history, history_scope(settings.options))


def _schedule_guard(invocation: SyncInvocation, state: RunStatePaths) -> ScheduleGuard:
    interval = parse_interval(invocation.min_interval) if invocation.min_interval else DEFAULT_MIN_INTERVAL
    return ScheduleGuard(state.last_run, interval, invocation.refuse_too_soon, state.legacy_last_run)


_INTERVAL = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d)?\s*", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_interval(text: str, option: str = "--min-interval") -> timedelta:
    """``2h``, ``90m``, ``45s``, ``1d``; a bare number is minutes. ConfigError naming ``option``."""
    match = _INTERVAL.fullmatch(text)
    if match is None:
        raise ConfigError(f"option {option}: expected a duration such as 2h, 90m or 45s, got '{text}'")
    unit = (match.group(2) or "m").lower()
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[unit])


def print_error(error: UsersyncError) -> None:
    """One line on stderr, for errors found before the log is open."""
    print(f"async-usersync: error: {error}", file=sys.stderr)
