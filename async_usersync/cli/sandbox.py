"""``async-usersync sandbox``: serve a local stand-in for UMAPI and Adobe IMS until SIGINT or SIGTERM;
``async-usersync okta-sandbox``: the same for a fake Okta org.

The first line on stdout is ``sandbox listening on <scheme>://<host>:<port>`` (the real port when
``--port 0``), then with TLS ``sandbox ca-cert <path>``; tests and scripts read these two lines. The
fake Okta org prints ``okta-sandbox listening on ...``, ``okta-sandbox ca-cert <path>`` and
``okta-sandbox api-token <token>`` (a test value).


The sandbox needs the ``sandbox`` extra (cryptography, for its certificate), which a sync does not:
it is imported when the command runs, and its absence is a usage error naming the extra.
"""

from __future__ import annotations

import asyncio
import ipaddress
import signal
import sys
from pathlib import Path
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Callable, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from async_usersync.sandbox import SandboxConfig
    from async_usersync.sandbox.okta import OktaSandboxConfig

T = TypeVar("T")
EXTRA_MISSING = ("async-usersync sandbox: the sandbox needs the 'sandbox' extra ({module} is missing): "
                 "pip install 'async-usersync[sandbox]'")


def sandbox(
    host: str = typer.Option("127.0.0.1", help="Address to listen on; one other than loopback needs --allow-public."),
    allow_public: bool = typer.Option(False, "--allow-public", help="Allow a --host other than loopback: anyone who reaches it can read and reset the org through the unauthenticated /_sandbox/* endpoints."),
    port: int = typer.Option(8443, help="Port to listen on; 0 picks a free one."),
    tls: bool = typer.Option(True, "--tls/--no-tls", help="Serve https with a generated self-signed certificate."),
    org_id: str | None = typer.Option(None, help="The organization id served (default: the sandbox's own)."),
    client_id: str | None = typer.Option(None, help="The OAuth client id (also the API key) (default: the sandbox's own)."),
    client_secret: str | None = typer.Option(None, help="The OAuth client secret (default: the sandbox's own)."),
    extra_client: list[str] = typer.Option([], help="Another integration as ID:SECRET (repeatable), to see per-client and global limits apart."),
    users: int | None = typer.Option(None, min=0, help="Users to seed the org with (default: the sandbox's own)."),
    groups: int | None = typer.Option(None, min=0, help="Groups (user groups and product profiles) to seed (default: the sandbox's own)."),
    seed: int = typer.Option(0, help="Seed for the generated org and the fault dice."),
    time_scale: float = typer.Option(1.0, min=0.001, help="Divide every throttle window by this (60: per-minute limits become per-second)."),
    throttle: bool = typer.Option(True, "--throttle/--no-throttle", help="Apply UMAPI's rate limits."),
    limits: str = typer.Option("", help="Rate limits per family, e.g. 'action=10/100,users=25/100,groups=5/100' (per client/global; 0 = none)."),
    faults: str = typer.Option("", help="Injected faults: FAMILY:KIND=SHARE,... with KIND 429/500/502/503/504/reset/lost/slow, e.g. 'action:503=0.1,lost=0.05;users:slow=0.2@1.5,429=0.01@3600'."),
    state_file: Path | None = typer.Option(None, help="Load the org from this JSON file if it exists; save it there on exit."),
    user_page_size: int = typer.Option(2000, min=1, help="Users per page."),
    group_page_size: int = typer.Option(400, min=1, help="Groups per page."),
    max_names_per_list: int = typer.Option(10, min=1, help="Names allowed in one add/remove list (Adobe documents 10; 20 was seen live)."),
    token_lifetime: int = typer.Option(86399, min=1, help="Seconds an access token lives."),
    sync_penalty: bool = typer.Option(False, "--sync-penalty/--no-sync-penalty", help="Punish reading page 0 of users or groups twice within --sync-interval."),
    sync_interval: float = typer.Option(7200.0, min=0.001, help="Seconds (before --time-scale) between page-0 reads that earn no penalty."),
    sync_penalty_seconds: int = typer.Option(2000, min=1, help="The penalty's Retry-After, before --time-scale."),
) -> None:
    """Serve a local stand-in for UMAPI and Adobe IMS."""
    _check_host("sandbox", host, allow_public)
    try:
        from async_usersync.sandbox import SandboxConfig
        from async_usersync.sandbox.config import parse_rate_limits
        from async_usersync.sandbox.faults import parse_fault_plan
    except ImportError as missing:
        _extra_missing(missing)
    chosen: dict[str, Any] = {name: value for name, value in (
        ("org_id", org_id), ("client_id", client_id), ("client_secret", client_secret), ("users", users),
        ("groups", groups)) if value is not None}
    try:
        config = SandboxConfig(
            host=host, port=port, tls=tls, **chosen, extra_clients=_parse_clients(extra_client), seed=seed,
            time_scale=time_scale, throttle=throttle,
            rate_limits=parse_rate_limits(limits), faults=parse_fault_plan(faults),
            state_file=str(state_file) if state_file else None, user_page_size=user_page_size,
            group_page_size=group_page_size, max_names_per_list=max_names_per_list, token_lifetime=token_lifetime,
            sync_penalty=sync_penalty, sync_interval=sync_interval, sync_penalty_seconds=sync_penalty_seconds,
        )
    except ValueError as problem:
        typer.echo(f"async-usersync sandbox: {problem}", err=True)
        raise typer.Exit(2) from None
    try:
        asyncio.run(_serve(config))
    except ValueError as problem:  # an unreadable state file
        typer.echo(f"async-usersync sandbox: {problem}", err=True)
        raise typer.Exit(2) from None
    except OSError as problem:
        typer.echo(f"async-usersync sandbox: cannot listen on {host}:{port}: {problem.strerror or problem}", err=True)
        raise typer.Exit(2) from None


def okta_sandbox(
    host: str = typer.Option("127.0.0.1", help="Address to listen on; one other than loopback needs --allow-public."),
    allow_public: bool = typer.Option(False, "--allow-public", help="Allow a --host other than loopback: anyone who reaches it can read the directory through /_sandbox/state."),
    port: int = typer.Option(8444, help="Port to listen on; 0 picks a free one."),
    api_token: str | None = typer.Option(None, help="The SSWS API token accepted (default: the fake org's own)."),
    users: int = typer.Option(20, min=0, help="Users to seed (user i in group i mod groups)."),
    groups: int = typer.Option(4, min=0, help="Groups to seed, named 'Okta Group N'."),
    seed: int = typer.Option(0, help="Seed for the generated directory and the fault dice."),
    time_scale: float = typer.Option(1.0, min=0.001, help="Divide the one-minute rate windows by this."),
    throttle: bool = typer.Option(True, "--throttle/--no-throttle", help="Apply Okta's rate limits (groups 500/min, users 600/min)."),
    faults: str = typer.Option("", help="Injected faults over the families groups, members, users, e.g. 'members:429=0.1@2,503=0.01'."),
) -> None:
    """Serve a fake Okta org (Users and Groups APIs) for the Okta source."""
    _check_host("okta-sandbox", host, allow_public)
    try:
        from async_usersync.sandbox.faults import parse_fault_plan
        from async_usersync.sandbox.okta import DEFAULT_TOKEN, OKTA_FAULT_FAMILIES, OktaSandboxConfig
    except ImportError as missing:
        _extra_missing(missing)
    try:
        config = OktaSandboxConfig(host=host, port=port, api_token=api_token or DEFAULT_TOKEN, users=users,
                                   groups=groups, seed=seed, time_scale=time_scale, throttle=throttle,
                                   faults=parse_fault_plan(faults, OKTA_FAULT_FAMILIES))
    except ValueError as problem:
        typer.echo(f"async-usersync okta-sandbox: {problem}", err=True)
        raise typer.Exit(2) from None
    try:
        asyncio.run(_serve_okta(config))
    except OSError as problem:
        typer.echo(f"async-usersync okta-sandbox: cannot listen on {host}:{port}: {problem.strerror or problem}", err=True)
        raise typer.Exit(2) from None


def _check_host(command: str, host: str, allow_public: bool) -> None:
    """Exits 2 for a --host other than loopback without --allow-public; warns with it."""
    if _is_loopback(host):
        return
    if not allow_public:
        typer.echo(f"async-usersync {command}: --host {host} is not a loopback address; the /_sandbox/* "
                   "control endpoints need no credentials, so anyone who reaches it could read or replace "
                   "what it serves. Add --allow-public to serve it there anyway.", err=True)
        raise typer.Exit(2)
    typer.echo(f"async-usersync {command}: WARNING: serving on {host}, not loopback: anyone who reaches it can "
               "read and reconfigure it through /_sandbox/*, without credentials", err=True)


def _extra_missing(missing: ImportError) -> NoReturn:
    """Exits 2 naming the 'sandbox' extra when a module it brings is missing; re-raises any other."""
    if missing.name is None or missing.name.split(".")[0] == "async_usersync":
        raise missing
    typer.echo(EXTRA_MISSING.format(module=missing.name), err=True)
    raise typer.Exit(2) from None


def _is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP address (127.0.0.0/8, ::1); any other name or address is public."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _parse_clients(pairs: list[str]) -> dict[str, str]:
    clients = {}
    for pair in pairs:
        client_id, colon, secret = pair.partition(":")
        if not (client_id and colon and secret):
            raise ValueError(f"--extra-client: expected ID:SECRET, got {pair!r}")
        clients[client_id] = secret
    return clients


async def _serve(config: SandboxConfig) -> None:
    from async_usersync.sandbox import SandboxServer, run_sandbox

    def announce(server: SandboxServer) -> None:
        print(f"sandbox listening on {server.base_url}", flush=True)
        if server.ca_cert is not None:
            print(f"sandbox ca-cert {server.ca_cert}", flush=True)
        print(
            f"sandbox org {server.org_id} client-id {server.client_id}"
            f" users {len(server.state.users)} groups {len(server.state.groups)}",
            file=sys.stderr, flush=True,
        )

    await _serve_until_stopped(run_sandbox(config), announce)


async def _serve_okta(config: OktaSandboxConfig) -> None:
    from async_usersync.sandbox.okta import OktaSandboxServer, run_okta_sandbox

    def announce(server: OktaSandboxServer) -> None:
        print(f"okta-sandbox listening on {server.base_url}", flush=True)
        if server.ca_cert is not None:
            print(f"okta-sandbox ca-cert {server.ca_cert}", flush=True)
        print(f"okta-sandbox api-token {server.api_token}", flush=True)
        print(f"okta-sandbox users {len(server.directory.users)} groups {len(server.directory.groups)}",
              file=sys.stderr, flush=True)

    await _serve_until_stopped(run_okta_sandbox(config), announce)


async def _serve_until_stopped(serving: AbstractAsyncContextManager[T], announce: Callable[[T], None]) -> None:
    """Serves until the first SIGINT or SIGTERM (their handlers set before serving starts), after
    ``announce`` has printed where."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    async with serving as server:
        announce(server)
        await stop.wait()
