"""``async-usersync sync`` (the default command) and ``example-config``.

The options keep User Sync's names and meaning. A few of them take two tokens in User Sync
(``--users group "A,B"``, ``--adobe-only-user-action write-file out.csv``, ``--connector csv users.csv``);
a typer option takes one value, so ``join_multi_token_options`` (called from ``cli.main.main``) folds
such pairs into the single value ``group:A,B`` before typer parses the line. Both spellings work.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from async_usersync.errors import ExitCode, UsersyncError

# Option -> the keywords that take further tokens after them.
_MULTI_TOKEN_OPTIONS: dict[str, frozenset[str]] = {
    "--users": frozenset({"group", "file"}),
    "--adobe-users": frozenset({"group"}),
    "--adobe-only-user-action": frozenset({"write-file"}),
    "--connector": frozenset({"csv"}),
}


def join_multi_token_options(argv: list[str]) -> list[str]:
    """Folds ``sync --users group A,B`` into ``sync --users group:A,B`` (and likewise for the other
    multi-token options, and for ``check``, ``plan`` and ``explain``); other commands' lines are returned as they are. Like User Sync, every
    token up to the next ``-``-prefixed one belongs to the option, also after the equals form
    (``--users=group A,B``); group tokens are joined with commas."""
    if not argv or argv[0] not in ("sync", "check", "plan", "explain"):
        return argv
    argv = [part for token in argv for part in _split_equals_form(token)]
    joined: list[str] = []
    position = 0
    while position < len(argv):
        token = argv[position]
        joined.append(token)
        position += 1
        keywords = _MULTI_TOKEN_OPTIONS.get(token)
        if keywords is None or position >= len(argv) or argv[position] not in keywords:
            continue
        keyword = argv[position]
        position += 1
        extra: list[str] = []
        while position < len(argv) and not argv[position].startswith("-"):
            extra.append(argv[position])
            position += 1
        joined.append(f"{keyword}:{','.join(extra)}" if extra else keyword)
    return joined


def _split_equals_form(token: str) -> list[str]:
    """``--users=group`` -> ``["--users", "group"]`` for the multi-token options; other tokens as they are."""
    name, equals, value = token.partition("=")
    return [name, value] if equals and name in _MULTI_TOKEN_OPTIONS else [token]


def split_option_value(value: str) -> list[str]:
    """``group:A,B`` -> ``["group", "A,B"]``; ``mapped`` -> ``["mapped"]`` (User Sync's list form)."""
    keyword, separator, rest = value.partition(":")
    return [keyword.strip(), rest.strip()] if separator else [value.strip()]


_SPLIT_OPTIONS = ("users", "connector", "adobe_only_user_action", "adobe_users")
"""The options whose value is split by ``split_option_value``."""


def read_options(**given: Any) -> dict[str, Any]:
    """The options given on a command line (by invocation_defaults name; None: not given), as
    ``config.options.merge_options`` takes them: the multi-token ones split, the others as they are."""
    return {name: split_option_value(value) if name in _SPLIT_OPTIONS and value else value
            for name, value in given.items() if value is not None}


def sync(
    config_filename: Path = typer.Option(Path("user-sync-config.yml"), "-c", "--config-filename", help="The main configuration file."),
    config_file_encoding: str = typer.Option("utf8", "--config-file-encoding", help="Encoding of the configuration files."),
    users: str | None = typer.Option(None, "--users", help="all | mapped | group A,B | file users.csv (also written group:A,B)."),
    connector: str | None = typer.Option(None, "--connector", help="ldap | csv users.csv | adobe_console: the directory source."),
    process_groups: bool | None = typer.Option(None, "--process-groups/--no-process-groups", help="Make mapped Adobe groups match the directory."),
    update_user_info: bool | None = typer.Option(None, "--update-user-info/--no-update-user-info", help="Push name and email changes to Adobe."),
    adobe_only_user_action: str | None = typer.Option(
        None, "--adobe-only-user-action",
        help="preserve | exclude | write-file F | remove-adobe-groups | remove | delete: what to do with Adobe users missing from the directory."),
    adobe_only_user_list: Path | None = typer.Option(None, "--adobe-only-user-list", help="Apply the Adobe-only action to the users in this CSV; reads neither side."),
    adobe_users: str | None = typer.Option(None, "--adobe-users", help="all | mapped | group A,B: which Adobe users to read."),
    strategy: str | None = typer.Option(None, "--strategy", help="sync | push (push never reads Adobe users)."),
    exclude_unmapped_users: bool | None = typer.Option(None, "--exclude-unmapped-users/--include-unmapped-users", help="Do not create directory users that map to no Adobe group."),
    user_filter: str | None = typer.Option(None, "--user-filter", help="Keep only directory users whose username matches this regular expression."),
    test_mode: bool | None = typer.Option(None, "--test-mode/--no-test-mode", "-t/-T", help="Ask UMAPI to validate every action but change nothing."),
    summary_json: Path | None = typer.Option(None, "--summary-json", help="Also write the run's summary as JSON to this file."),
    metrics_file: Path | None = typer.Option(None, "--metrics-file", help="Write the run's metrics (Prometheus text format) to this file."),
    lock_file: Path | None = typer.Option(None, "--lock-file", help="The run lock (default: in the state folder)."),
    state_dir: Path | None = typer.Option(None, "--state-dir", help="The folder of the run state: lock, last-run record, run history (default: the main configuration file's folder)."),
    journal_retention: str | None = typer.Option(None, "--journal-retention", metavar="DAYS", help="Days the journal keeps a run's lines (default 90); older ones are pruned when a run starts."),
    min_interval: str | None = typer.Option(None, "--min-interval", help="Shortest time between two successful runs, e.g. 2h or 90m (default 2h; a run sooner only warns, unless --refuse-too-soon)."),
    refuse_too_soon: bool = typer.Option(False, "--refuse-too-soon", help="Exit with code 5 instead of only warning when the last run is more recent than --min-interval."),
    accept_shrink: bool = typer.Option(False, "--accept-shrink", help="For this run only, let removals go ahead although what was read shrank since the last successful run (see limits.max_shrink)."),
) -> None:
    """Sync the directory into the Adobe org."""
    options = read_options(users=users, connector=connector, process_groups=process_groups,
                           update_user_info=update_user_info, adobe_only_user_action=adobe_only_user_action,
                           adobe_users=adobe_users, strategy=strategy, exclude_unmapped_users=exclude_unmapped_users,
                           user_filter=user_filter, test_mode=test_mode,
                           adobe_only_user_list=str(adobe_only_user_list) if adobe_only_user_list else None,
                           state_dir=str(state_dir) if state_dir else None,
                           journal_retention=journal_retention)
    from async_usersync.pipeline.interrupts import hold_stop_signals
    hold_stop_signals()  # a Ctrl-C or SIGTERM while the pipeline loads waits for sync_main, which reports it
    from async_usersync.pipeline.main import SyncInvocation, sync_main

    invocation = SyncInvocation(
        config_file=config_filename,
        encoding=config_file_encoding,
        options=options,
        summary_json=summary_json,
        metrics_file=metrics_file,
        lock_file=lock_file,
        min_interval=min_interval,
        refuse_too_soon=refuse_too_soon,
        accept_shrink=accept_shrink,
        arguments=tuple(sys.argv[1:]),
    )
    code = sync_main(invocation)
    if code != ExitCode.OK:
        raise typer.Exit(int(code))


def example_config(
    folder: Path = typer.Option(Path("."), "--folder", "-d", help="Where to write the files."),
) -> None:
    """Write commented starting config files (user-sync-config.yml and its connector files)."""
    from async_usersync.config import write_example_config
    from async_usersync.pipeline.main import print_error

    try:
        paths = write_example_config(folder)
    except UsersyncError as error:
        print_error(error)
        raise typer.Exit(int(error.exit_code)) from None
    for path in paths:
        print(f"wrote {path}")
