"""The wire: one HTTP exchange and nothing else (no token, pace, retry or error rules).

``Wire`` is the seam the transport is built on: ``AiohttpWire`` speaks to UMAPI and IMS through an
aiohttp session; tests put a scripted fake server in its place, to check the retry, pause and
reporting rules in milliseconds. A wire answers with the status, headers and raw body, or raises
``WireFailure`` when no answer came (the request may or may not have reached the server).
"""

from __future__ import annotations

import asyncio
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator, Literal, Mapping, Protocol

import aiohttp
from yarl import URL

from async_usersync.tls import TlsTrust
from async_usersync.umapi.errors import UmapiError


@dataclass(frozen=True, slots=True)
class WireAnswer:
    """One HTTP answer as received: status, headers and the raw body (bytes)."""
    status: int
    headers: Mapping[str, str]
    body: bytes


class WireFailure(Exception):
    """No answer: the connection failed, was dropped, or the server was silent past the timeout.
    ``kind`` is ``connection`` or ``timeout``; either way the server may have acted on the request."""

    def __init__(self, kind: Literal["connection", "timeout"], detail: str) -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(detail)


class Wire(Protocol):
    """The HTTP exchange the transport uses: ``AiohttpWire``, or a scripted server in tests. Both
    methods raise ``WireFailure`` when no answer came."""
    async def send(self, method: str, url: URL, headers: Mapping[str, str], data: bytes | None,
                   answered: Callable[[], None]) -> WireAnswer:
        """One request. ``answered`` is called once, as soon as the answer's headers arrive or the
        attempt fails, before the body is read (the pacing frees the request's place from then)."""
        ...

    async def post_form(self, url: str, form: Mapping[str, str]) -> WireAnswer:
        """An IMS token request (a form post, not paced)."""
        ...


class AiohttpWire:
    """The real wire: an aiohttp session (its connector holds the TLS trust and the timeouts);
    ``trust`` words the remedy when a server's certificate is not trusted."""

    def __init__(self, session: aiohttp.ClientSession, timeout: float, trust: TlsTrust) -> None:
        self.session = session
        self.timeout = timeout
        self.trust = trust

    async def send(self, method: str, url: URL, headers: Mapping[str, str], data: bytes | None,
                   answered: Callable[[], None]) -> WireAnswer:
        """One request through the session; see ``Wire.send``. Raises ``WireFailure`` when no answer came,
        and ``UmapiError`` (code ``tls``) when the server's certificate is not trusted."""
        told = False
        try:
            with self._failures_mapped(f"UMAPI at {url.host}"):
                async with self.session.request(method, url, headers=headers, data=data) as response:
                    told = True
                    answered()
                    return WireAnswer(response.status, response.headers, await response.read())
        finally:
            if not told:
                answered()

    async def post_form(self, url: str, form: Mapping[str, str]) -> WireAnswer:
        """A form post to IMS (``Cache-Control: no-cache``); errors as ``send``."""
        with self._failures_mapped(f"Adobe IMS at {URL(url).host}"):
            async with self.session.post(url, data=dict(form), headers={"Cache-Control": "no-cache"}) as response:
                return WireAnswer(response.status, response.headers, await response.read())

    @contextmanager
    def _failures_mapped(self, server: str) -> Iterator[None]:
        """aiohttp's exceptions as ``WireFailure``; an untrusted certificate of ``server`` (``UMAPI at
        host``) as a final ``UmapiError`` with the trust's remedy."""
        try:
            yield
        except aiohttp.ClientConnectorCertificateError as error:
            raise UmapiError(self.trust.untrusted(server, str(error.certificate_error)), code="tls") from None
        except asyncio.TimeoutError:
            raise WireFailure("timeout", f"no answer within {self.timeout:g} s") from None
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as error:
            raise WireFailure("connection", f"connection failed ({type(error).__name__})") from None
