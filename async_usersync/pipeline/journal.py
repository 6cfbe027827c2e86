"""The journal: one JSON line per command a run sent, with its outcome and the user's state before it.

Every run that sends actions (a sync, an ``undo``) appends to ``async-usersync.<config name>.journal.jsonl``
in the state folder (``pipeline.run_state``), so that ``undo RUN_ID`` can send the inverse of what landed.
A line (keys in this order)::

    {"run": "3f2a...", "time": "2026-12-01T01:02:03+00:00", "kind": "sync", "org": null,
     "user": "federatedid,ann@example.com,,ann@example.com",
     "command": {"user": "ann@example.com", "domain": null, "use_adobe_id": false, "create": null,
                 "update": {"firstname": "Ann"}, "remove_groups": ["Old"], "add_groups": ["New"],
                 "remove_from_org": false, "delete_account": false, "key": "..."},
     "outcome": "landed" | "failed" | "not_sent" | "unanswered", "errors": [{"step": "add", "code": "...", "message": "..."}],
     "before": {"identity_type": "federatedID", "email": ..., "username": ..., "domain": ..., "firstname": ...,
                "lastname": ..., "country": ..., "groups": [...]} | null}

``unanswered``: sent, and no answer came before sending stopped, so it may have landed. ``org`` is
a secondary org's name (null: the primary); ``before`` is null for a create (the user was
not in the org). ``kind`` is ``sync``, ``undo``, or ``push`` / ``list`` for a sync that read no Adobe
user (``--strategy push``, ``--adobe-only-user-list``), which ``undo`` cannot take back. Crash-safe: the file is created 0600 and each line is written whole with one
``write`` on a descriptor opened for appending, so a crash leaves at most a torn last line, which a
reader skips with a warning (and the next run starts on a new line). Runs older than the retention
(``--journal-retention DAYS``, default 90) are pruned when a run starts: the journal names people.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

from async_usersync.errors import ConfigError
from async_usersync.files import write_atomically
from async_usersync.records import (AdobeUser, CommandError, CommandResult, IdentityType, UserCommand, command_from_json,
                                    command_to_json)

logger = logging.getLogger("async_usersync.journal")

DEFAULT_RETENTION_DAYS = 90
"""Days a journal line is kept (``--journal-retention``, ``invocation_defaults.journal_retention``)."""

Outcome = Literal["landed", "failed", "not_sent", "unanswered"]


@dataclass(frozen=True)
class JournalEntry:
    """One journal line, read back: which run, when, in which org (None: the primary), the command
    (with ``before`` set from the line), how it ended and UMAPI's errors."""
    run: str
    time: datetime
    kind: str
    """What wrote it: ``sync``, ``undo``, or a sync that read no Adobe user (so its ``before`` states are
    not what the org held): ``push`` (``--strategy push``) or ``list`` (``--adobe-only-user-list``)."""
    org: str | None
    command: UserCommand
    outcome: Outcome
    errors: tuple[CommandError, ...] = ()


def user_state(user: AdobeUser) -> dict[str, Any]:
    """The journal's form of an Adobe user (groups sorted, so lines compare)."""
    return {"identity_type": user.identity_type.value, "email": user.email, "username": user.username,
            "domain": user.domain, "firstname": user.firstname, "lastname": user.lastname, "country": user.country,
            "groups": sorted(user.groups)}


def _adobe_user(state: dict[str, Any]) -> AdobeUser:
    return AdobeUser(IdentityType(state["identity_type"]), state["username"], state["domain"], state["email"],
                     state["firstname"], state["lastname"], state["country"], frozenset(state["groups"]))


def journal_line(run: str, kind: str, org: str | None, result: CommandResult, when: datetime) -> bytes:
    """One command's line (with its newline), as the module docstring shows it."""
    command = result.command
    outcome: Outcome = ("not_sent" if result.not_sent else "unanswered" if result.unanswered
                        else "failed" if result.errors else "landed")
    line = {"run": run, "time": when.isoformat(timespec="seconds"), "kind": kind, "org": org,
            "user": command.key or command.user, "command": command_to_json(command), "outcome": outcome,
            "errors": [{"step": error.step, "code": error.code, "message": error.message} for error in result.errors],
            "before": None if command.before is None else user_state(command.before)}
    return json.dumps(line, ensure_ascii=False).encode() + b"\n"


def _entry(line: dict[str, Any]) -> JournalEntry:
    before = line["before"]
    return JournalEntry(
        str(line["run"]), datetime.fromisoformat(line["time"]), str(line["kind"]), line["org"],
        replace(command_from_json(line["command"]), key=str(line["user"]),
                before=None if before is None else _adobe_user(before)),
        line["outcome"], tuple(CommandError(error["step"], error["code"], error["message"]) for error in line["errors"]))


def read_journal(path: Path) -> tuple[list[JournalEntry], list[str]]:
    """Every complete line of the journal at ``path``, in the order written, and a warning for each
    line skipped: a torn last line (the run writing it stopped mid-line) or a line that is not a
    journal entry (naming its number). A missing journal has no entries. Raises ConfigError when the
    file cannot be read."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], []
    except OSError as error:
        raise ConfigError(f"cannot read the journal {path}: {error.strerror or error}") from None
    entries: list[JournalEntry] = []
    warnings: list[str] = []
    lines = data.split(b"\n")
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            entries.append(_entry(json.loads(raw)))
        except (ValueError, KeyError, TypeError) as error:
            torn = number == len(lines)  # no newline after it: the write never finished
            warnings.append(f"Skipping line {number} of the journal {path}: "
                            + ("it is incomplete (the run writing it stopped)" if torn else f"not a journal entry ({error})"))
    return entries, warnings


class Journal:
    """Appends one run's lines to the journal at ``path`` (opened on the first line, created 0600).
    ``kind``: what the run is (``JournalEntry.kind``)."""

    def __init__(self, path: Path, run: str, kind: str) -> None:
        self.path = path
        self.run = run
        self.kind = kind
        self.lines = 0
        self._fd: int | None = None
        self._failed = False

    @classmethod
    def start(cls, path: Path, run: str, kind: str, retention_days: float, test_mode: bool) -> "Journal | None":
        """The journal of a run that sends actions, its old lines pruned first (logged); None in test
        mode, which changes nothing in the org and so leaves nothing to undo. Raises ConfigError when
        the journal cannot be read, OSError when it cannot be rewritten."""
        if test_mode:
            logger.info("Test mode: this run is not journaled (nothing it sends changes the org)")
            return None
        journal = cls(path, run, kind)
        dropped, warnings = journal.prune(retention_days)
        for warning in warnings:
            logger.warning("%s", warning)
        if dropped:
            logger.info("Journal: dropped %d lines of runs older than %g days (the journal retention) from %s", dropped,
                        retention_days, path)
        return journal

    def prune(self, retention_days: float, now: datetime | None = None) -> tuple[int, list[str]]:
        """Drops the runs whose last line is older than ``retention_days`` (a run is kept or dropped
        whole) and the lines that cannot be read, rewriting the file whole; returns how many lines were
        dropped and the read's warnings."""
        entries, warnings = read_journal(self.path)
        cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=retention_days)
        kept_runs = {entry.run for entry in entries if entry.time >= cutoff}
        if len(kept_runs) == len({entry.run for entry in entries}) and not warnings:
            return 0, warnings
        lines = [raw for raw in self.path.read_bytes().split(b"\n") if raw.strip()]
        kept = [raw for raw in lines if _run_of(raw) in kept_runs]
        write_atomically(self.path, b"".join(raw + b"\n" for raw in kept))
        return len(lines) - len(kept), warnings

    def record(self, result: CommandResult, org: str | None) -> None:
        """Appends ``result``'s line, written whole before this returns. A journal that cannot be
        written is logged once (ERROR: undo will not know this run's commands) and the run goes on."""
        if self._failed:
            return
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                if os.fstat(self._fd).st_size and not _ends_with_newline(self.path):
                    os.write(self._fd, b"\n")  # a torn last line stays alone on its line
            os.write(self._fd, journal_line(self.run, self.kind, org, result, datetime.now(timezone.utc)))
        except OSError as error:
            self._failed = True
            logger.error("Cannot write the journal %s (%s): undo will not know the rest of this run's commands",
                         self.path, error.strerror or error)
            return
        self.lines += 1

    def close(self) -> None:
        """Closes the file (a journal that wrote nothing never opened it) and logs where this run's
        lines are, with its run id (what ``undo`` takes)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.lines:
            logger.info("Journal: %d commands of run %s in %s (async-usersync undo %s takes back what landed)",
                        self.lines, self.run, self.path, self.run)


def _run_of(raw: bytes) -> str | None:
    """The run id of a line (None: not a journal line)."""
    try:
        return str(json.loads(raw)["run"])
    except (ValueError, KeyError, TypeError):
        return None


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1) == b"\n"
