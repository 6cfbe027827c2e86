"""Where one config file's run state lives: the run lock, the last-run record, the run history and
the journal.

All three sit in one folder, the state folder: beside the config file unless ``--state-dir`` (or
``invocation_defaults.state_dir``) names another, so a read-only config folder (root-owned, read by a
service account) works with a state folder the account owns. Each file is named after the config
file, so two configs in one folder (two orgs) neither block nor time each other:
``user-sync-config.yml`` -> ``async-usersync.user-sync-config.lock``, ``...last-run.json``,
``...history.json`` and ``...journal.jsonl``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

LEGACY_LAST_RUN_NAME = "async-usersync.last-run.json"
"""The last-run record of versions before issue 14: one per config folder, shared by its configs."""


@dataclass(frozen=True)
class RunStatePaths:
    """The run state files of one config file (paths only; nothing is created here)."""

    folder: Path
    """The state folder: ``--state-dir``, or the config file's folder."""
    config_file: Path

    @classmethod
    def of(cls, config_file: Path, state_dir: Path | None = None) -> "RunStatePaths":
        """The run state of ``config_file``, in ``state_dir`` when given, else beside the config file."""
        return cls(state_dir if state_dir is not None else config_file.parent, config_file)

    def _named(self, kind: str) -> Path:
        return self.folder / f"async-usersync.{self.config_file.stem}.{kind}"

    @property
    def lock(self) -> Path:
        """The run lock (``pipeline.runlock``)."""
        return self._named("lock")

    @property
    def last_run(self) -> Path:
        """The last successful run's record (``pipeline.schedule``)."""
        return self._named("last-run.json")

    @property
    def history(self) -> Path:
        """The run history the removal guard compares with (``pipeline.history``)."""
        return self._named("history.json")

    @property
    def journal(self) -> Path:
        """The commands each run sent, for ``undo`` (``pipeline.journal``)."""
        return self._named("journal.jsonl")

    @property
    def legacy_last_run(self) -> Path:
        """Where versions before issue 14 kept the last-run record: one per config folder. It cannot
        say which config wrote it, so it is only read (for a warning) until this config has a record."""
        return self.config_file.parent / LEGACY_LAST_RUN_NAME
