"""One UMAPI request, sent under its family's throttle and retried by the API's rules.

Retried, with the same X-Request-Id: 429 (the whole family pauses for its Retry-After, or for an
exponential backoff when it has none), 502, 503, 504, timeouts and dropped connections, up to
``settings.retries`` attempts in all. A 401 renews the token once and is not counted as an attempt.
500 and the other 4xx are final.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Mapping

import aiohttp
import orjson
from yarl import URL

from async_usersync.umapi.auth import ImsToken
from async_usersync.umapi.errors import UmapiError
from async_usersync.umapi.settings import FAMILIES, UmapiSettings
from async_usersync.umapi.throttle import AdaptiveBucket

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({502, 503, 504})
CONNECTION_ERRORS = (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError)


@dataclass(slots=True)
class RequestCounters:
    attempts: int = 0
    """Requests put on the wire, retries included."""
    retries: int = 0
    server_errors: int = 0
    """502/503/504 answers."""
    timeouts: int = 0
    dropped: int = 0
    """Connections reset or closed before an answer."""
    token_renewals: int = 0


@dataclass(slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: Any
    request_id: str
    path: str
    """The URL's path (``/v2/usermanagement/users/<org>/0``), for error messages."""


@dataclass(slots=True)
class Transport:
    settings: UmapiSettings
    session: aiohttp.ClientSession
    throttles: dict[str, AdaptiveBucket] = field(init=False)
    counters: dict[str, RequestCounters] = field(init=False)
    token: ImsToken = field(init=False)
    _headers: dict[str, str] = field(init=False, default_factory=dict)
    """The headers every request carries, for the token they were made with (``_headers_token``)."""
    _headers_token: str = field(init=False, default="")
    _url: Callable[[str, tuple[tuple[str, str], ...]], URL] = field(init=False)

    def __post_init__(self) -> None:
        limits = self.settings.limits
        self.throttles = {family: AdaptiveBucket(getattr(limits, family), limits.window) for family in FAMILIES}
        self.counters = {family: RequestCounters() for family in FAMILIES}
        self.token = ImsToken(self.settings, self._post_token_form)
        # Per transport, not per class: the URLs start with this transport's base URL.
        self._url = lru_cache(maxsize=256)(self._build_url)

    async def call(self, family: str, method: str, path: str, *, params: Mapping[str, str] | None = None,
                   body: Any = None, pragma: str | None = None) -> Reply:
        """Sends ``method path`` (relative to the UMAPI base URL); returns a 2xx or 404 reply.

        Anything else, once the attempts are spent, raises ``UmapiError``.
        """
        settings = self.settings
        url = self._url(path, tuple(params.items()) if params else ())
        request_id = f"{uuid.uuid4().hex}_{int(time.time() * 1000)}"
        data = orjson.dumps(body) if body is not None else None
        throttle, counters = self.throttles[family], self.counters[family]
        renewed = False
        attempt = 0
        while True:
            attempt += 1
            token = await self.token.get()
            await throttle.acquire()
            if token is not self._headers_token:
                self._headers = {"Authorization": f"Bearer {token}", "X-Api-Key": settings.client_id,
                                 "Accept": "application/json", "Content-Type": "application/json"}
                self._headers_token = token
            headers = {**self._headers, "X-Request-Id": request_id}
            if pragma:
                headers["Pragma"] = pragma
            counters.attempts += 1
            try:
                status, reply_headers, raw = await self._send(throttle, method, url, data=data, headers=headers)
            except aiohttp.ClientConnectorCertificateError as error:
                raise UmapiError(f"the TLS certificate of {settings.host} is not trusted ({error.certificate_error}); "
                                 "name the CA in server.ca_file (or REQUESTS_CA_BUNDLE / SSL_CERT_FILE), or turn "
                                 "ssl_verify off only for a test server",
                                 code="tls", request_id=request_id) from None
            except asyncio.TimeoutError:
                counters.timeouts += 1
                failure, code, wait = f"no answer within {settings.timeout:g} s", "timeout", self.backoff(attempt)
                status = None
            except CONNECTION_ERRORS as error:
                counters.dropped += 1
                failure, code, wait = f"connection failed ({type(error).__name__})", "connection", self.backoff(attempt)
                status = None
            else:
                if 200 <= status < 300 or status == 404:
                    throttle.accepted()
                    return Reply(status, reply_headers, _json(raw), request_id, url.path)
                if status == 401 and not renewed:
                    renewed = True
                    attempt -= 1
                    counters.token_renewals += 1
                    await self.token.renew(token)
                    continue
                retry_after = parse_retry_after(reply_headers.get("Retry-After"))
                code = f"http.{status}"
                if status == 429:
                    pause = retry_after if retry_after is not None else self.backoff(attempt)
                    throttle.throttled(pause)
                    failure, wait = f"request limit reached (429), every {family} request paused {pause:g} s", 0.0
                elif status in RETRYABLE_STATUS:
                    counters.server_errors += 1
                    failure = f"service unavailable ({status})"
                    wait = retry_after if retry_after is not None else self.backoff(attempt)
                else:
                    raise _final_error(status, raw, method, path, request_id)
            if attempt >= settings.retries:
                raise UmapiError(f"UMAPI {method} {path}: {failure}; gave up after {attempt} attempts "
                                 f"(X-Request-Id {request_id})",
                                 code=code, status=status, request_id=request_id)
            counters.retries += 1
            log.warning("UMAPI %s %s: %s on try %d, retrying%s (X-Request-Id %s)", method, path, failure, attempt,
                        f" in {wait:.2f} s" if wait else "", request_id)
            if wait:
                await asyncio.sleep(wait)

    def _build_url(self, path: str, query: tuple[tuple[str, str], ...]) -> URL:
        """The URL of ``path`` with its query, parsed once (aiohttp would parse a string on every request)."""
        url = URL(f"{self.settings.base_url}/{path}")
        return url.with_query(query) if query else url

    async def _send(self, throttle: AdaptiveBucket, method: str, url: URL,
                    **options: Any) -> tuple[int, Mapping[str, str], bytes]:
        """One attempt. The server counted it before it began to answer, so its place in the throttle's
        window is freed from the moment the answer's headers arrive (or the attempt fails)."""
        answered = False
        try:
            async with self.session.request(method, url, **options) as response:
                throttle.done()
                answered = True
                return response.status, response.headers, await response.read()
        finally:
            if not answered:
                throttle.done()

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, for retryable answers that carry no Retry-After."""
        settings = self.settings
        return settings.backoff_base * 2 ** (attempt - 1) + random.uniform(0, settings.backoff_jitter)

    async def _post_token_form(self, url: str, form: dict[str, str]) -> dict:
        """The IMS token request: retried on 5xx and network failures, never throttled."""
        settings = self.settings
        for attempt in range(1, settings.retries + 1):
            try:
                async with self.session.post(url, data=form, headers={"Cache-Control": "no-cache"}) as response:
                    raw, status = await response.read(), response.status
            except aiohttp.ClientConnectorCertificateError as error:
                raise UmapiError(f"the TLS certificate of {settings.auth_host} is not trusted "
                                 f"({error.certificate_error})", code="tls") from None
            except (asyncio.TimeoutError, *CONNECTION_ERRORS) as error:
                problem = f"{type(error).__name__}"
            else:
                if status == 200:
                    return _json(raw) or {}
                if status not in RETRYABLE_STATUS:
                    answer = _json(raw)
                    detail = answer if isinstance(answer, dict) else {}
                    code = str(detail.get("error") or f"http.{status}")
                    reason = detail.get("error_description") or "no reason given"
                    raise UmapiError(f"Adobe IMS at {url} refused the credentials of client id "
                                     f"'{settings.client_id}' (HTTP {status}, {code}: {reason})",
                                     code=code, status=status)
                problem = f"HTTP {status}"
            if attempt < settings.retries:
                await asyncio.sleep(self.backoff(attempt))
        raise UmapiError(f"Adobe IMS at {url} could not be reached ({problem}) after {settings.retries} attempts",
                         code="ims.unavailable")


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait, from delta-seconds or an HTTP date; ``None`` when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _final_error(status: int, raw: bytes, method: str, path: str, request_id: str) -> UmapiError:
    body = _json(raw)
    detail = body if isinstance(body, dict) else {}
    code = str(detail.get("result") or detail.get("error_code") or f"http.{status}")
    message = str(detail.get("message") or {401: "the access token was refused", 403: "the API key (client id) "
                  "is not permitted for this org"}.get(status, "no reason given"))
    return UmapiError(f"UMAPI {method} {path} failed: HTTP {status}, {code}: {message}",
                      code=code, status=status, request_id=request_id)
