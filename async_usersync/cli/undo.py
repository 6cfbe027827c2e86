"""``async-usersync undo RUN_ID``: sends the inverse of what landed in one journaled run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from async_usersync.errors import ExitCode


def undo(
    run_id: str = typer.Argument(..., help="The run to take back: its id, as the journal and the run's log give it."),
    config_filename: Path = typer.Option(Path("user-sync-config.yml"), "-c", "--config-filename", help="The main configuration file."),
    config_file_encoding: str = typer.Option("utf8", "--config-file-encoding", help="Encoding of the configuration files."),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="The folder of the run state and the journal, as for sync."),
    journal_retention: str | None = typer.Option(None, "--journal-retention", metavar="DAYS", help="As for sync: days the journal keeps a run's lines."),
    lock_file: Path | None = typer.Option(None, "--lock-file", help="The run lock (default: in the state folder)."),
    force: bool = typer.Option(False, "--force", help="Also undo users that changed since the run (they are left alone by default)."),
) -> None:
    """Send the inverse of what landed in run RUN_ID, in every org: groups added are removed, groups
    removed added back, updated attributes restored, created users removed from the org, removed
    users added back with their groups. A deleted account cannot be restored."""
    from async_usersync.pipeline.undo import UndoInvocation, undo_main

    given: dict[str, Any] = {"state_dir": str(state_dir) if state_dir else None, "journal_retention": journal_retention}
    code = undo_main(UndoInvocation(run_id, config_filename, config_file_encoding,
                                    {name: value for name, value in given.items() if value is not None}, force, lock_file))
    if code != ExitCode.OK:
        raise typer.Exit(int(code))
