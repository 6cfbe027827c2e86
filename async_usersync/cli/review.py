"""``async-usersync plan``, ``apply`` and ``explain``: changes reviewed before they are sent (issue 18)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from async_usersync.errors import ConfigError, ExitCode

_CONFIG = typer.Option(Path("user-sync-config.yml"), "-c", "--config-filename", help="The main configuration file.")
_ENCODING = typer.Option("utf8", "--config-file-encoding", help="Encoding of the configuration files.")
_USERS = typer.Option(None, "--users", help="As for sync: all | mapped | group A,B | file users.csv.")
_CONNECTOR = typer.Option(None, "--connector", help="As for sync: ldap | csv users.csv.")
_PROCESS_GROUPS = typer.Option(None, "--process-groups/--no-process-groups", help="As for sync.")
_UPDATE_USER_INFO = typer.Option(None, "--update-user-info/--no-update-user-info", help="As for sync.")
_ADOBE_ONLY_ACTION = typer.Option(None, "--adobe-only-user-action", help="As for sync.")
_ADOBE_USERS = typer.Option(None, "--adobe-users", help="As for sync: all | mapped | group A,B.")
_STRATEGY = typer.Option(None, "--strategy", help="As for sync: sync | push.")
_EXCLUDE_UNMAPPED = typer.Option(None, "--exclude-unmapped-users/--include-unmapped-users", help="As for sync.")
_USER_FILTER = typer.Option(None, "--user-filter", help="As for sync.")


def _given(users: str | None, connector: str | None, process_groups: bool | None, update_user_info: bool | None,
           adobe_only_user_action: str | None, adobe_users: str | None, strategy: str | None,
           exclude_unmapped_users: bool | None, user_filter: str | None) -> dict[str, Any]:
    """The sync options given, by invocation_defaults name (``cli.sync.read_options``)."""
    from async_usersync.cli.sync import read_options

    return read_options(users=users, connector=connector, process_groups=process_groups,
                        update_user_info=update_user_info, adobe_only_user_action=adobe_only_user_action,
                        adobe_users=adobe_users, strategy=strategy, exclude_unmapped_users=exclude_unmapped_users,
                        user_filter=user_filter)


def _exit(code: ExitCode) -> None:
    if code != ExitCode.OK:
        raise typer.Exit(int(code))


def plan(
    config_filename: Path = _CONFIG, config_file_encoding: str = _ENCODING, users: str | None = _USERS,
    connector: str | None = _CONNECTOR, process_groups: bool | None = _PROCESS_GROUPS,
    update_user_info: bool | None = _UPDATE_USER_INFO, adobe_only_user_action: str | None = _ADOBE_ONLY_ACTION,
    adobe_users: str | None = _ADOBE_USERS, strategy: str | None = _STRATEGY,
    exclude_unmapped_users: bool | None = _EXCLUDE_UNMAPPED, user_filter: str | None = _USER_FILTER,
    out: Path | None = typer.Option(None, "--out", help="Write the plan (JSON, readable by its owner only) to this file."),
    diff: bool = typer.Option(False, "--diff", help="Print one 'Would ...' line per change, with its reason."),
) -> None:
    """Read both sides as sync does and say what it would change, sending nothing. Exit 0: nothing to
    do; 7: the plan holds changes."""
    from async_usersync.pipeline.review import plan_main

    _exit(plan_main(config_filename, config_file_encoding,
                    _given(users, connector, process_groups, update_user_info, adobe_only_user_action, adobe_users,
                           strategy, exclude_unmapped_users, user_filter), out, diff))


def explain(
    user: str = typer.Argument(..., help="The user's email (or username)."),
    config_filename: Path = _CONFIG, config_file_encoding: str = _ENCODING, users: str | None = _USERS,
    connector: str | None = _CONNECTOR, process_groups: bool | None = _PROCESS_GROUPS,
    update_user_info: bool | None = _UPDATE_USER_INFO, adobe_only_user_action: str | None = _ADOBE_ONLY_ACTION,
    adobe_users: str | None = _ADOBE_USERS, strategy: str | None = _STRATEGY,
    exclude_unmapped_users: bool | None = _EXCLUDE_UNMAPPED, user_filter: str | None = _USER_FILTER,
) -> None:
    """Say why each of one user's groups and attributes would be kept, added or removed."""
    from async_usersync.pipeline.review import explain_main

    _exit(explain_main(user, config_filename, config_file_encoding,
                       _given(users, connector, process_groups, update_user_info, adobe_only_user_action, adobe_users,
                              strategy, exclude_unmapped_users, user_filter)))


def apply(
    plan_file: Path = typer.Argument(..., help="The plan file 'plan --out' wrote."),
    max_plan_age: str = typer.Option("24h", "--max-plan-age", help="Refuse a plan older than this (e.g. 24h, 90m; a bare number is minutes)."),
    summary_json: Path | None = typer.Option(None, "--summary-json", help="Also write the run's summary as JSON to this file."),
    metrics_file: Path | None = typer.Option(None, "--metrics-file", help="Write the run's metrics (Prometheus text format) to this file."),
    lock_file: Path | None = typer.Option(None, "--lock-file", help="The run lock (default: in the state folder)."),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="The folder of the run state (default: the plan's configuration file's folder)."),
    full_check: bool = typer.Option(False, "--full-check", help="Read both sides in full to check the plan (default: only the plan's users, for a plan of at most 100)."),
) -> None:
    """Send exactly a plan's commands, after checking that no user it touches changed since it was made."""
    from async_usersync.pipeline.main import parse_interval, print_error
    from async_usersync.pipeline.review import apply_main

    try:
        max_age = parse_interval(max_plan_age, "--max-plan-age")
    except ConfigError as error:
        print_error(error)
        raise typer.Exit(int(error.exit_code)) from None
    _exit(apply_main(plan_file, max_age, {"summary_json": summary_json, "metrics_file": metrics_file,
                                          "lock_file": lock_file, "state_dir": state_dir,
                                          "arguments": tuple(sys.argv[1:])}, full_check))
