"""``async-usersync check``: tries each connection a sync needs, once, changing nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from async_usersync.errors import ExitCode


def check(
    config_filename: Path = typer.Option(Path("user-sync-config.yml"), "-c", "--config-filename", help="The main configuration file."),
    config_file_encoding: str = typer.Option("utf8", "--config-file-encoding", help="Encoding of the configuration files."),
    users: str | None = typer.Option(None, "--users", help="As for sync: file users.csv checks that file."),
    connector: str | None = typer.Option(None, "--connector", help="As for sync: ldap | okta | csv users.csv | adobe_console."),
) -> None:
    """Read every config file, bind to the directory and read one page, get a token and read page 0
    of the org; report each step with its time. Sends no action. Exit 0 only if every step passed."""
    from async_usersync.cli.sync import split_option_value
    from async_usersync.pipeline.check import check_main

    given: dict[str, Any] = {"users": users and split_option_value(users),
                             "connector": connector and split_option_value(connector)}
    code = check_main(config_filename, {name: value for name, value in given.items() if value is not None},
                      config_file_encoding)
    if code != ExitCode.OK:
        raise typer.Exit(int(code))
