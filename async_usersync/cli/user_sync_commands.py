"""User Sync's sub-commands that async-usersync does not provide, each answered with what to use
instead (exit code 2), so that a script or a habit carried over from User Sync gets a clear answer
rather than "unexpected extra argument".

What each command does in User Sync 2.x comes from its ``user_sync/app.py`` (branch v2).
"""

from __future__ import annotations

import sys

import typer

from async_usersync.errors import ExitCode

_SIGN_SYNC = ("Acrobat Sign is not synced by async-usersync; keep running Adobe's User Sync Tool "
              "('user-sync sign-sync') for it")
_NO_PRIVATE_KEY = ("Adobe switched JWT off in 2026 and the OAuth Server-to-Server credential has no private key; "
                   "keep its client secret out of connector-umapi.yml with secure_client_secret_key (the OS keyring "
                   "through 'async-usersync credentials set', env:VARIABLE or file:PATH)")

ANSWERS: dict[str, tuple[str, str]] = {
    "info": ("prints the Python, platform and package versions",
             "'async-usersync --version' gives the version, every run's log starts with the Python version and the "
             "platform, and 'pip list' in the install's environment lists the packages"),
    "docs": ("opens User Sync's online manual",
             "read async-usersync's README.md; 'async-usersync COMMAND -h' lists a command's options"),
    "certgen": ("makes a certificate and private key for a JWT (service account) credential",
                "Adobe switched JWT off in 2026: create an OAuth Server-to-Server credential in the Adobe Developer "
                "Console (it needs no certificate) and put its client_id and client_secret in connector-umapi.yml "
                "with 'authentication_method: oauth'"),
    "encrypt": ("encrypts the JWT private key with a passphrase", _NO_PRIVATE_KEY),
    "decrypt": ("decrypts the JWT private key", _NO_PRIVATE_KEY),
    "shell-scripts": ("writes the run scripts ust_live.sh and ust_test.sh (Run_UST_*.bat on Windows)",
                      "run 'async-usersync --users mapped --process-groups' (add -t for a test run); README's "
                      "'Running unattended' has cron, systemd and Task Scheduler examples"),
    "example-config-sign": ("writes example Sign Sync config files", _SIGN_SYNC),
    "sign-sync": ("syncs directory users into Acrobat Sign", _SIGN_SYNC),
    "migrate-post-sync": ("turns the old post_sync settings into Sign Sync files", _SIGN_SYNC),
}
"""User Sync command -> (what it does there, what to use instead)."""


def not_provided(ctx: typer.Context) -> None:
    """Answers a User Sync command async-usersync does not provide, whatever its arguments."""
    name = ctx.info_name or ""
    does, instead = ANSWERS[name]
    print(f"async-usersync: error: '{name}' is a User Sync command (it {does}) that async-usersync does not "
          f"provide: {instead}.", file=sys.stderr)
    raise typer.Exit(int(ExitCode.CONFIG_ERROR))


def register(app: typer.Typer) -> None:
    """Adds every command of ``ANSWERS`` to ``app``, hidden from the command list but with its own help."""
    for name, (does, _) in ANSWERS.items():
        app.command(name, help=f"User Sync's '{name}' ({does}): not provided; says what to use instead.",
                    hidden=True, context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
                    )(not_provided)
