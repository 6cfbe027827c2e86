"""The run history the removal guard compares with (``engine.history``), one file per config file.

Each successful run records what it read: directory users, members per mapped directory group,
Adobe users. The file sits in the state folder beside the last-run record (``pipeline.run_state``)
and is named after the config file, so two configs in one folder keep their own:
``user-sync-config.yml`` -> ``async-usersync.user-sync-config.history.json``. Inside, pictures are
kept per scope (which users were read, from where), so that a ``--users group A`` run is never
compared with a ``--users all`` one. A missing file or scope is a first run: nothing is held back.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from async_usersync.config.options import SyncOptions
from async_usersync.engine.history import RunPicture
from async_usersync.errors import ConfigError
from async_usersync.files import write_atomically

logger = logging.getLogger("async_usersync.history")


def history_scope(options: SyncOptions) -> str:
    """What a picture is comparable with: the users read, the Adobe users read, the source."""
    users = options.users + (f" {','.join(options.user_groups)}" if options.users == "group" else "")
    adobe = options.adobe_users + (f" {','.join(options.adobe_user_groups)}" if options.adobe_users == "group" else "")
    source = f"csv {options.csv_file.name}" if options.connector == "csv" and options.csv_file else options.connector
    return f"users {users}; adobe-users {adobe}; connector {source}"


@dataclass(frozen=True)
class RunHistory:
    """The run history file: per ``scope`` (``history_scope``), the picture of the last successful run.
    Read at the start of a run, written after one that ends 0 or 4 (``pipeline.main``)."""
    path: Path
    scope: str

    def last_picture(self) -> RunPicture | None:
        """The picture of the last successful run in this scope, or None (none yet, or a file that
        cannot be trusted: then a warning, and the run is treated as a first run)."""
        entry = self._entries().get(self.scope)
        if entry is None:
            return None
        try:
            members = entry["group_members"]
            picture = RunPicture(int(entry["directory_users"]), int(entry["adobe_users"]),
                                 {str(name): int(count) for name, count in members.items()})
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            self._unreadable(error)
            return None
        return picture

    def record(self, picture: RunPicture, run_id: str, now: datetime | None = None) -> None:
        """Replaces this scope's picture, atomically (other scopes are kept)."""
        entries = self._entries()
        entries[self.scope] = {
            "finished": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds"), "run_id": run_id,
            "directory_users": picture.directory_users, "adobe_users": picture.adobe_users,
            "group_members": dict(picture.group_members),
        }
        try:
            write_atomically(self.path, json.dumps({"scopes": entries}, indent=1).encode(), mode=0o600)
        except OSError as error:
            raise ConfigError(f"cannot write the run history {self.path}: {error.strerror}") from None

    def _entries(self) -> dict[str, Any]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as error:
            raise ConfigError(f"cannot read the run history {self.path}: {error.strerror}") from None
        try:
            entries = json.loads(text)["scopes"]
            if not isinstance(entries, dict):
                raise TypeError("'scopes' is not an object")
        except (ValueError, KeyError, TypeError) as error:
            self._unreadable(error)
            return {}
        return entries

    def _unreadable(self, error: Exception) -> None:
        logger.warning("The run history %s is unreadable (%s: %s); removals are not compared with the last run",
                       self.path, type(error).__name__, error)
