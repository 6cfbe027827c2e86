"""Fixtures that start the project's own UMAPI + IMS sandbox server.

Fixtures (all function-scoped):

- ``sandbox_config``: the ``SandboxConfig`` the ``sandbox`` fixture starts with (TLS on, port 0,
  20 seeded users over 6 groups, UMAPI's real limits). Override it in a test module to change anything.
- ``sandbox``: a running in-process sandbox (``SandboxServer``): ``.url`` (UMAPI base ending in
  /v2/usermanagement), ``.base_url``, ``.ims_url``, ``.ims_host`` (``host:port`` for umapi-client's
  ``auth_host``), ``.ca_cert``, ``.org_id``, ``.client_id``, ``.client_secret``, ``.state`` (the live
  ``OrgState``), ``.sandbox`` (config, throttle, stats).
- ``sandbox_factory``: ``await sandbox_factory(**overrides)`` starts another sandbox with
  ``SandboxConfig`` fields overridden; each is stopped after the test.
- ``sandbox_http``: an ``aiohttp.ClientSession`` that trusts the sandboxes' certificates, and
  ``SandboxCaller(session, server)`` below, which fetches a token and calls the API with the right headers.
- ``sandbox_process``: ``with sandbox_process("--users", "5") as proc:`` runs ``async-usersync sandbox
  --port 0`` as a subprocess (for the blocking umapi-client) and gives ``proc.base_url``, ``.url``,
  ``.ims_host``, ``.ca_cert``, ``.org_id``, ``.client_id``, ``.client_secret``; it is stopped with
  SIGTERM after the block.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, Mapping

import aiohttp
import orjson
import pytest
from multidict import CIMultiDict

from async_usersync.sandbox import SandboxConfig, SandboxServer, run_sandbox

TOKEN_SCOPE = "openid,AdobeID,user_management_sdk"


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(port=0, users=20, groups=6)


@pytest.fixture
async def sandbox(sandbox_config: SandboxConfig) -> AsyncIterator[SandboxServer]:
    async with run_sandbox(sandbox_config) as server:
        yield server


@pytest.fixture
async def sandbox_factory() -> AsyncIterator[Callable[..., Awaitable[SandboxServer]]]:
    async with contextlib.AsyncExitStack() as stack:

        async def start(**overrides: Any) -> SandboxServer:
            config = dataclasses.replace(SandboxConfig(port=0, users=20, groups=6), **overrides)
            return await stack.enter_async_context(run_sandbox(config))

        yield start


def trusting_context(ca_cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_cert))


@pytest.fixture
async def sandbox_http() -> AsyncIterator[aiohttp.ClientSession]:
    """A session for sandboxes: certificate checks stay on, each call passes ``ssl=`` for its server."""
    async with aiohttp.ClientSession() as session:
        yield session


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    """Case-insensitive, as HTTP headers are."""
    body: Any


class SandboxCaller:
    """Calls one sandbox's UMAPI with a token, API key and the sandbox's certificate."""

    def __init__(self, session: aiohttp.ClientSession, server: SandboxServer, client_id: str | None = None,
                 client_secret: str | None = None) -> None:
        self.session = session
        self.server = server
        self.client_id = client_id or server.client_id
        self.client_secret = client_secret or server.client_secret
        self.ssl = trusting_context(server.ca_cert) if server.ca_cert else None
        self.token: str | None = None

    async def fetch_token(self, path: str = "/ims/token/v2/", **params: str) -> Answer:
        form = {"grant_type": "client_credentials", "client_id": self.client_id,
                "client_secret": self.client_secret, "scope": TOKEN_SCOPE} | params
        return await self.raw("POST", self.server.base_url + path, data=form)

    async def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
        """``path`` is relative to /v2/usermanagement; ``{org}`` in it becomes the org id."""
        if self.token is None:
            self.token = (await self.fetch_token()).body["access_token"]
        sent = {"Authorization": f"Bearer {self.token}", "X-Api-Key": self.client_id} | (headers or {})
        data = None if body is None else orjson.dumps(body)
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        return await self.raw(method, self.server.url + path.replace("{org}", self.server.org_id), data=data, headers=sent)

    async def control(self, method: str, path: str, body: Any = None) -> Answer:
        data = None if body is None else orjson.dumps(body)
        return await self.raw(method, self.server.base_url + "/_sandbox/" + path, data=data)

    async def raw(self, method: str, url: str, **kwargs: Any) -> Answer:
        async with self.session.request(method, url, ssl=self.ssl if self.ssl else True, **kwargs) as response:
            raw = await response.read()
            body = orjson.loads(raw) if raw and response.content_type == "application/json" else raw
            return Answer(response.status, CIMultiDict(response.headers), body)


@dataclass
class SandboxProcess:
    process: subprocess.Popen[str]
    base_url: str
    ca_cert: Path | None
    org_id: str
    client_id: str
    client_secret: str

    @property
    def url(self) -> str:
        return self.base_url + "/v2/usermanagement"

    @property
    def ims_host(self) -> str:
        return self.base_url.split("://", 1)[1]


@contextlib.contextmanager
def run_sandbox_process(*args: str) -> Iterator[SandboxProcess]:
    """Runs ``async-usersync sandbox --port 0 *args`` and reads its first lines; SIGTERM at the end."""
    defaults = SandboxConfig()
    command = [sys.executable, "-m", "async_usersync", "sandbox", "--port", "0", *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline().split()  # type: ignore[union-attr]
        if first[:3] != ["sandbox", "listening", "on"]:
            process.kill()
            raise RuntimeError(f"sandbox did not start: {first} {process.stderr.read()}")  # type: ignore[union-attr]
        ca_cert = None
        if first[3].startswith("https"):
            ca_cert = Path(process.stdout.readline().split()[2])  # type: ignore[union-attr]
        option = dict(zip(args[::2], args[1::2]))
        yield SandboxProcess(
            process, first[3], ca_cert,
            option.get("--org-id", defaults.org_id),
            option.get("--client-id", defaults.client_id),
            option.get("--client-secret", defaults.client_secret),
        )
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def sandbox_process() -> Callable[..., contextlib.AbstractContextManager[SandboxProcess]]:
    return run_sandbox_process
