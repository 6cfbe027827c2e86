"""The ``async-usersync`` command line. ``sync`` is the default command, as in User Sync:
``async-usersync --users mapped`` means ``async-usersync sync --users mapped``.

Each command lives in its own module; this one only assembles them. ``-h`` is ``--help`` everywhere,
``init`` is ``example-config``, and User Sync's other commands are answered (``user_sync_commands``).
"""

from __future__ import annotations

import sys

import typer

from async_usersync import __version__
from async_usersync.cli import check, credentials, review, sandbox, sync, undo, user_sync_commands

app = typer.Typer(
    name="async-usersync",
    help="Sync an enterprise directory into the Adobe Admin Console, asynchronously.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("sync")(sync.sync)
app.command("check")(check.check)
app.command("undo")(undo.undo)
app.command("plan")(review.plan)
app.command("apply")(review.apply)
app.command("explain")(review.explain)
app.command("example-config")(sync.example_config)
app.command("init", help="The same as example-config (User Sync's init also wrote run scripts).")(sync.example_config)
app.command("sandbox")(sandbox.sandbox)
app.command("okta-sandbox")(sandbox.okta_sandbox)
app.add_typer(credentials.app, name="credentials")
user_sync_commands.register(app)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"async-usersync {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", "-v", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Sync an enterprise directory into the Adobe Admin Console, asynchronously."""


def _with_default_command(argv: list[str]) -> list[str]:
    """Puts ``sync`` in front of arguments that do not start with a command name."""
    commands = {info.name for info in app.registered_commands} | {info.name for info in app.registered_groups}
    if argv and (argv[0] in commands or argv[0] in {"--help", "-h", "--version", "-v"}):
        return argv
    return ["sync", *argv]


def main() -> None:
    """The ``async-usersync`` console script."""
    app(args=sync.join_multi_token_options(_with_default_command(sys.argv[1:])), prog_name="async-usersync")
