"""``async-usersync credentials set|get|delete``: keep secure_*_key secrets in the OS keyring.

The service is the value written after ``secure_<name>_key:`` and the user is the one User Sync
uses for that secret (``org_id`` for UMAPI secrets, the LDAP ``username`` for its password).
Values are never taken from the command line, where shell history and ``ps`` would keep them.
"""

from __future__ import annotations

import getpass
import sys
from contextlib import contextmanager
from typing import Iterator

import typer

from async_usersync.config.secrets import keyring_delete, keyring_get, keyring_set
from async_usersync.errors import UsersyncError

app = typer.Typer(help="Store, check or delete secrets in the OS keyring (for secure_<name>_key).",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

SERVICE = typer.Argument(..., help="The keyring service: the value of secure_<name>_key in the config file.")
USER = typer.Option(..., "--user", "-u", help="The keyring user: org_id for UMAPI secrets, the LDAP username for its password.")


@app.command("set")
def set_secret(service: str = SERVICE, user: str = USER) -> None:
    """Store a secret, typed at a hidden prompt or piped on standard input."""
    value = _read_value()
    with _user_errors():
        keyring_set(service, user, value)
    typer.echo(f"Stored the secret of service '{service}' for user '{user}'.", err=True)


@app.command("get")
def get_secret(service: str = SERVICE, user: str = USER,
               show: bool = typer.Option(False, "--show", help="Print the secret itself on standard output.")) -> None:
    """Check that a secret is stored (exit code 1 when not); --show prints it."""
    with _user_errors():
        value = keyring_get(service, user)
    if value is None:
        typer.echo(f"No secret stored for service '{service}' and user '{user}'.", err=True)
        raise typer.Exit(1)
    if show:
        typer.echo(value)
    else:
        typer.echo(f"A secret of {len(value)} characters is stored for service '{service}' and user '{user}'.", err=True)


@app.command("delete")
def delete_secret(service: str = SERVICE, user: str = USER) -> None:
    """Delete a stored secret (exit code 1 when there was none)."""
    with _user_errors():
        deleted = keyring_delete(service, user)
    if not deleted:
        typer.echo(f"No secret stored for service '{service}' and user '{user}'.", err=True)
        raise typer.Exit(1)
    typer.echo(f"Deleted the secret of service '{service}' for user '{user}'.", err=True)


def _read_value() -> str:
    if sys.stdin.isatty():
        value = getpass.getpass("Secret: ")
        if getpass.getpass("Again, to confirm: ") != value:
            _fail("the two entries differ; nothing stored")
    else:
        value = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    if not value:
        _fail("the secret is empty; nothing stored")
    return value


@contextmanager
def _user_errors() -> Iterator[None]:
    """Shows a ``UsersyncError`` as its message and exit code, never as a traceback."""
    try:
        yield
    except UsersyncError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(error.exit_code) from None


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)
