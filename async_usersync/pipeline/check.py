"""The ``check`` command: each connection a sync needs, tried once, with nothing changed.

Steps, in order: ``config`` (every config file read and checked, as a sync reads them),
``directory`` (LDAP: connect, bind, check ``base_dn`` and read the first page of users; CSV: open
the file, check its header and build the users of its first rows), ``token`` (an access token from
Adobe IMS) and ``org`` (page 0 of the org's users, without the sync signals). Each step prints one
line with its outcome and its time, and where a step fails, the keys involved and their file. No
action is sent, no state file is written and no run lock is taken. The exit code is 0 when every
step passed, else the first failing step's (2 configuration, 3 a failed read or connection, 1 an
internal error).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

from async_usersync.config import RunSettings, load_run_settings
from async_usersync.config.settings import AdobeConsoleSettings, CsvSettings, OktaSettings
from async_usersync.errors import ExitCode, UsersyncError
from async_usersync.records import UnreadableDirectoryUser
from async_usersync.redaction import SecretRedactor, redact
from async_usersync.sources.adobe_console import AdobeConsoleSource
from async_usersync.sources.csv import CsvSource
from async_usersync.sources.ldap import LdapSource
from async_usersync.sources.okta import OktaSource
from async_usersync.umapi import UmapiClient

log = logging.getLogger("async_usersync.check")


@dataclass(frozen=True)
class StepOutcome:
    """One step's result: ``passed`` (None when skipped), its time in seconds, what it found or the
    error, the keys to look at when it failed, and its exit code."""
    step: str
    passed: bool | None
    seconds: float
    detail: str
    keys: str = ""
    exit_code: ExitCode = ExitCode.OK

    def lines(self) -> list[str]:
        """The step's line (and, when it failed, the line naming the keys involved), redacted."""
        status = {True: "ok", False: "FAILED", None: "skipped"}[self.passed]
        lines = [f"check {self.step:<9} {status:<7} {self.seconds:6.2f} s  {self.detail}"]
        if self.passed is False and self.keys:
            lines.append(f"{'':<33}the keys involved: {self.keys}")
        return [redact(line) for line in lines]


def check_main(config_file: Path, given: Mapping[str, Any], encoding: str = "utf8") -> ExitCode:
    """``async-usersync check``: runs the steps, prints each outcome as it ends and a last line
    naming the failing steps, and returns the exit code (see the module's docstring). Warnings
    logged meanwhile (verification off, say) go to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(SecretRedactor())
    package_logger = logging.getLogger("async_usersync")
    package_logger.addHandler(handler)
    previous_level = package_logger.level
    package_logger.setLevel(logging.WARNING)
    try:
        outcomes = _run(config_file, given, encoding)
    except KeyboardInterrupt:
        print("check: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    finally:
        package_logger.removeHandler(handler)
        package_logger.setLevel(previous_level)
    failed = [outcome for outcome in outcomes if outcome.passed is False]
    if not failed:
        print(f"check: all {len(outcomes)} steps passed")
        return ExitCode.OK
    code = failed[0].exit_code
    print(f"check: FAILED at step {', '.join(repr(outcome.step) for outcome in failed)} (exit code {int(code)})")
    return code


def _run(config_file: Path, given: Mapping[str, Any], encoding: str) -> list[StepOutcome]:
    started = time.monotonic()
    try:
        settings = load_run_settings(config_file, given, encoding)
    except UsersyncError as error:
        return [_report(StepOutcome("config", False, time.monotonic() - started, str(error),
                                    exit_code=error.exit_code))]
    files = [settings.config.file, settings.config.adobe.umapi_file,
             *([settings.config.directory.connector_files[settings.options.connector]]
               if settings.options.connector in settings.config.directory.connector_files else [])]
    outcomes = [_report(StepOutcome("config", True, time.monotonic() - started,
                                    f"read {', '.join(map(str, files))}"))]
    for note in settings.notes:  # what a sync logs as warnings at its start
        log.warning("%s", note)
    outcomes.extend(asyncio.run(_connections(settings)))
    return outcomes


async def _connections(settings: RunSettings) -> list[StepOutcome]:
    """The directory, token and org steps, one after the other (each timed alone)."""
    outcomes = [await _directory_step(settings)]
    umapi = settings.umapi
    umapi_keys = f"in {settings.config.adobe.umapi_file}: "
    client = UmapiClient(umapi)
    async with AsyncExitStack() as stack:
        async def get_token() -> str:
            await stack.enter_async_context(client)  # its TLS trust too: a CA bundle that cannot be loaded fails here
            return await client.transport.token.get()

        token = await _step("token", get_token,
                            lambda _: f"Adobe IMS at {umapi.token_url} gave an access token",
                            umapi_keys + "server.auth_host, server.auth_endpoint, enterprise.client_id, "
                                         "enterprise.client_secret, server.ca_file, server.ssl_verify")
        outcomes.append(token)
        if token.passed:
            outcomes.append(await _step(
                "org", client.first_page,
                lambda users: f"page 0 of org {umapi.org_id} at {umapi.base_url}: {len(users)} users",
                umapi_keys + "server.host, server.endpoint, enterprise.org_id"))
        else:
            outcomes.append(_report(StepOutcome("org", None, 0.0, "needs an access token")))
    return outcomes


async def _directory_step(settings: RunSettings) -> StepOutcome:
    directory = settings.directory
    identity_type = settings.config.directory.user_identity_type
    if directory is None:
        return _report(StepOutcome("directory", None, 0.0, "not read with --adobe-only-user-list"))
    if isinstance(directory, CsvSettings):
        csv_settings = directory
        csv_file = settings.config.directory.connector_files.get("csv", "connector-csv.yml")
        return await _step("directory", lambda: CsvSource(csv_settings, identity_type).first_page(),
                           lambda users: f"{directory.file_path}: header and first rows read, {_users(users)}",
                           f"the file's columns; in {csv_file}: file_path, delimiter, string_encoding and the "
                           "*_column_name keys")
    if isinstance(directory, AdobeConsoleSettings):
        console = directory
        return await _step("directory", lambda: AdobeConsoleSource(console).first_page(),
                           lambda users: f"page 0 of the source org {console.umapi.org_id}: {_users(users)}",
                           f"in {console.file}: integration.org_id, integration.client_id, integration.client_secret, "
                           "server.host, server.endpoint, server.auth_host, server.ca_file, server.ssl_verify")
    if isinstance(directory, OktaSettings):
        okta_settings, groups = directory, settings.selection.groups
        okta_file = settings.config.directory.connector_files.get("okta")
        return await _step("directory", lambda: OktaSource(okta_settings, identity_type).first_page(groups),
                           lambda users: (f"{okta_settings.host}: token accepted, group {groups[0]!r} found, first "
                                          f"page: {_users(users)}" if groups else f"{okta_settings.host}: no group selected"),
                           f"in {okta_file}: host, api_token (or secure_api_token_key), group_filter_format, "
                           "all_users_filter, ca_file")
    connector_file = settings.config.directory.connector_files.get("ldap")
    return await _step("directory", lambda: LdapSource(directory, identity_type).first_page(),
                       lambda users: (f"bound to {directory.host} as {directory.username or 'anonymous'}, "
                                      f"base_dn found, first page: {_users(users)}"),
                       f"in {connector_file}: host, username, password (or secure_password_key), "
                       "authentication_method, base_dn, all_users_filter, ca_cert_file, tls_verify")


async def _step(step: str, action: Callable[[], Awaitable[Any]], found: Callable[[Any], str], keys: str) -> StepOutcome:
    """Runs ``action`` (which builds what it uses, so that an error there is the step's too), timed;
    ``found`` words its result. A UsersyncError fails the step with its message and exit code;
    anything else fails it as an internal error."""
    started = time.monotonic()
    try:
        result = await action()
    except UsersyncError as error:
        return _report(StepOutcome(step, False, time.monotonic() - started, str(error), keys, error.exit_code))
    except Exception as error:  # a bug: named, never a traceback
        return _report(StepOutcome(step, False, time.monotonic() - started,
                                   f"unexpected internal error ({type(error).__name__}: {error}); please report it",
                                   keys, ExitCode.INTERNAL_ERROR))
    return _report(StepOutcome(step, True, time.monotonic() - started, found(result)))


def _users(users: list[Any]) -> str:
    """``N users``, and how many of them could not be read, with the first one's place and problem."""
    unreadable = [user for user in users if isinstance(user, UnreadableDirectoryUser)]
    if not unreadable:
        return f"{len(users)} users"
    return (f"{len(users)} users, {len(unreadable)} of them unreadable (the first {unreadable[0].where}: "
            f"{unreadable[0].problem})")


def _report(outcome: StepOutcome) -> StepOutcome:
    """Prints the outcome's lines at once (a slow step's predecessors are already on screen)."""
    for line in outcome.lines():
        print(line, flush=True)
    return outcome
