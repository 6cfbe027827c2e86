"""Running the sandbox: ``async with run_sandbox(SandboxConfig(...)) as server`` serves until the block ends.

The state file, when configured, is loaded at start (if it exists; else the org is seeded) and
written back when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator

import orjson
from aiohttp import web

from async_usersync.sandbox.app import UMAPI_PREFIX, Sandbox, build_app
from async_usersync.sandbox.config import SandboxConfig
from async_usersync.sandbox.state import OrgState
from async_usersync.sandbox.tls import server_context, write_self_signed


@dataclass(slots=True)
class SandboxServer:
    """A running sandbox: where it listens, the certificate to trust, and its org, for tests,
    benchmarks and the demo (``run_sandbox`` makes one)."""

    sandbox: Sandbox
    host: str
    port: int
    ca_cert: Path | None
    """The certificate to trust (``ssl_verify=...``), or ``None`` without TLS."""
    runner: web.AppRunner | None = None
    site: web.TCPSite | None = None

    async def outage(self, seconds: float) -> None:
        """A restart with ``seconds`` of downtime: stops listening and drops every open connection,
        then serves again on the same port with the same org, certificate and counters. Requests
        meanwhile are refused (connection refused or reset), as with a server that is down."""
        assert self.runner is not None and self.site is not None and self.runner.server is not None
        ssl_context = self.site._ssl_context
        await self.site.stop()
        for handler in list(self.runner.server.connections):
            if handler.transport is not None:
                handler.transport.abort()
        await asyncio.sleep(seconds)
        self.site = web.TCPSite(self.runner, self.host, self.port, ssl_context=ssl_context, backlog=1024,
                                reuse_address=True)
        await self.site.start()

    @property
    def config(self) -> SandboxConfig:
        """The limits, faults and credentials it serves with (changed through ``PUT /_sandbox/config``)."""
        return self.sandbox.config

    @property
    def scheme(self) -> str:
        """``https`` with TLS (the default), ``http`` without."""
        return "https" if self.ca_cert is not None else "http"

    @property
    def base_url(self) -> str:
        """``scheme://host:port``, with no path."""
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The UMAPI base, ending in /v2/usermanagement (umapi-client's ``endpoint``)."""
        return self.base_url + UMAPI_PREFIX

    @property
    def ims_host(self) -> str:
        """``host:port``, as umapi-client's ``auth_host`` wants it."""
        return f"{self.host}:{self.port}"

    @property
    def ims_url(self) -> str:
        """The OAuth token endpoint (v2, as umapi-client and User Sync use)."""
        return self.base_url + "/ims/token/v2"

    @property
    def org_id(self) -> str:
        """The org served: the configured one, or the one in the loaded state file."""
        return self.sandbox.state.org_id

    @property
    def client_id(self) -> str:
        """The OAuth client id the sandbox's IMS accepts."""
        return self.config.client_id

    @property
    def client_secret(self) -> str:
        """The OAuth client secret the sandbox's IMS accepts (a test value, never a real secret)."""
        return self.config.client_secret

    @property
    def state(self) -> OrgState:
        """The org in memory: users, groups, and what each action changed."""
        return self.sandbox.state


def load_state_file(path: Path) -> dict[str, Any]:
    """Reads a state file; ``ValueError`` names the file and what is wrong."""
    try:
        data = orjson.loads(path.read_bytes())
        OrgState.from_json(data, where=str(path))
    except orjson.JSONDecodeError as problem:
        raise ValueError(f"{path}: not valid JSON ({problem})") from None
    return data


def save_state_file(path: Path, state: OrgState) -> None:
    """Writes through a temporary file, so a crash never leaves half a state file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(orjson.dumps(state.to_json(), option=orjson.OPT_INDENT_2))
    partial.replace(path)


@contextlib.asynccontextmanager
async def serve_app(app: web.Application, host: str, port: int, tls: bool, prefix: str
                    ) -> AsyncIterator[tuple[web.AppRunner, web.TCPSite, Path | None]]:
    """Serves ``app`` on ``host:port`` while the context is open: the runner, the site and the
    certificate to trust (https with a self-signed one written to a scratch folder named ``prefix``
    when ``tls``, else None). The bound port is ``runner.addresses[0][1]``. Raises OSError when the
    port cannot be bound."""
    with tempfile.TemporaryDirectory(prefix=prefix) as scratch:
        ssl_context = None
        ca_cert = None
        if tls:
            ca_cert, key = write_self_signed(Path(scratch))
            ssl_context = server_context(ca_cert, key)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port, ssl_context=ssl_context, backlog=1024, reuse_address=True)
            await site.start()
            yield runner, site, ca_cert
        finally:
            await runner.cleanup()


@contextlib.asynccontextmanager
async def run_sandbox(config: SandboxConfig) -> AsyncIterator[SandboxServer]:
    """Serves the sandbox while the context is open (its certificate in a scratch folder, its org
    from ``config.state_file`` when that exists, saved back there on the way out). Raises
    ValueError for a state file that cannot be loaded, OSError when the port cannot be bound."""
    state_file = Path(config.state_file) if config.state_file else None
    initial = load_state_file(state_file) if state_file is not None and state_file.exists() else None
    sandbox = Sandbox(config, initial)
    try:
        async with serve_app(build_app(sandbox), config.host, config.port, config.tls, "usersync-sandbox-") as (
                runner, site, ca_cert):
            server = SandboxServer(sandbox, config.host, runner.addresses[0][1], ca_cert, runner, site)
            sandbox.restart = server.outage
            yield server
    finally:
        if state_file is not None:
            save_state_file(state_file, sandbox.state)
