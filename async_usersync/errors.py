"""Errors a user can see, and the exit code each one ends a run with.

Every error that reaches the command line is a ``UsersyncError``: the CLI prints its message
(never a traceback) and exits with its ``exit_code``. The codes are listed in the README.
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path


class ExitCode(IntEnum):
    """The exit code a run ends with (the README lists them); each ``UsersyncError`` carries one."""
    OK = 0
    INTERNAL_ERROR = 1
    """A bug: an unexpected exception (its trace is logged at debug level)."""
    CONFIG_ERROR = 2
    READ_FAILED = 3
    COMMANDS_FAILED = 4
    REFUSED_START = 5
    REMOVALS_HELD = 6
    """The run history guard held back the removals (the picture shrank since the last success)."""
    CHANGES_PLANNED = 7
    """``plan``: the plan holds changes (a drift check's signal; 0 means nothing to do)."""
    PLAN_REFUSED = 8
    """``apply``: the plan is older than ``--max-plan-age``, or a user it touches changed since."""
    INTERRUPTED = 130


class UsersyncError(Exception):
    """Base of every error meant for the user; the message says what and where."""

    exit_code: ExitCode = ExitCode.CONFIG_ERROR


class ConfigError(UsersyncError):
    """A configuration file, key or option is wrong. Names the file and the key where known."""

    exit_code = ExitCode.CONFIG_ERROR

    def __init__(self, message: str, *, file: str | Path | None = None, key: str | None = None) -> None:
        self.file = str(file) if file is not None else None
        self.key = key
        where = ", ".join(part for part in (self.file and f"in {self.file}", key and f"key '{key}'") if part)
        super().__init__(f"{where}: {message}" if where else message)


class ReadError(UsersyncError):
    """Reading the directory or the Adobe org failed; nothing may be taken for a departed user."""

    exit_code = ExitCode.READ_FAILED


class RefusedStart(UsersyncError):
    """The run was refused before it started (another run holds the lock, or it is too soon)."""

    exit_code = ExitCode.REFUSED_START


class PlanRefused(UsersyncError):
    """``apply`` refused a plan before sending anything: too old, or a user it touches changed since."""
    exit_code = ExitCode.PLAN_REFUSED
