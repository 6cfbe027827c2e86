"""One UMAPI request, through layers that each do one job:

* the wire (``wire.py``): one HTTP exchange, aiohttp in a run, a scripted fake server in tests;
* pacing (``throttle.py``): one bucket per endpoint family, which also holds its pauses and probes;
* auth (``auth.py``): the token, taken right after the pacing wait, just before the wire, so it
  never ages in the queue (a renewal near expiry happens there too);
* the retry policy (``policy.py``): what a 401, a 429, an outage or another answer means;
* error mapping (``errors.answer_error``): the one place an error answer becomes an error.

Every attempt of a request carries the same X-Request-Id.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Callable, Mapping

import orjson
from yarl import URL

from async_usersync.config.settings import FAMILIES, UmapiSettings
from async_usersync.umapi.auth import ImsToken
from async_usersync.umapi.errors import NotSent, UmapiError, Unanswered, answer_error
from async_usersync.umapi.policy import RETRYABLE_STATUS, Backoff, Outage, parse_retry_after
from async_usersync.umapi.throttle import AdaptiveBucket
from async_usersync.umapi.wire import Wire, WireFailure

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RequestCounters:
    """One family's request counts in a run: attempts, retries and the failures that caused them."""
    attempts: int = 0
    """Requests put on the wire, retries included."""
    retries: int = 0
    server_errors: int = 0
    """502/503/504 answers."""
    timeouts: int = 0
    dropped: int = 0
    """Connections refused, reset or closed before an answer."""
    token_renewals: int = 0


@dataclass(slots=True)
class Reply:
    """An answer ``Transport.call()`` returns: status (2xx or 404), headers, decoded JSON body (or
    None) and the X-Request-Id it was sent with."""
    status: int
    headers: Mapping[str, str]
    body: Any
    request_id: str
    path: str
    """The URL's path (``/v2/usermanagement/users/<org>/0``), for error messages."""
    after_silence: bool = False
    """An earlier attempt got no answer, so the server may have acted on it already: an error that
    says the change is in place (``policy.already_in_place``) means it landed."""


@dataclass(slots=True)
class _Tries:
    """What one request has met so far."""

    request_id: str
    """The X-Request-Id every attempt carries."""
    renewed: bool = False
    """The token was renewed after a 401 (once per request)."""
    silent: bool = False
    """An attempt got no answer: the server may have acted on it."""
    failures: int = 0
    """Failed answers counted against ``server.retries``."""
    accepted_seen: int = -1
    """The family's accepted count at the last failure."""
    first_failure: float = 0.0
    problem: str = ""
    """The last failure, in words ('' while there was none)."""
    code: str = ""

    def final(self, message: str, method: str) -> UmapiError:
        """The error that ends the request with ``message``: ``Unanswered`` when an attempt of a
        request that changes something (not a GET) got no answer (that attempt may have landed, so
        failing it would misreport), else its last failure."""
        if self.silent and method != "GET":
            return Unanswered(f"{message} (an attempt got no answer, so the change may have landed; "
                              f"X-Request-Id {self.request_id})", self.request_id)
        return UmapiError(f"{message} (X-Request-Id {self.request_id})", code=self.code, request_id=self.request_id)


class Transport:
    """Sends UMAPI requests for one client: ``call()`` returns a 2xx or 404 ``Reply`` or raises
    ``UmapiError`` (``NotSent`` when the request never went out and never will in this run)."""

    def __init__(self, settings: UmapiSettings, wire: Wire) -> None:
        self.settings = settings
        self.wire = wire
        limits = settings.limits
        self.throttles = {family: AdaptiveBucket(getattr(limits, family), limits.window) for family in FAMILIES}
        self.counters = {family: RequestCounters() for family in FAMILIES}
        self.outages = {family: Outage() for family in FAMILIES}
        self.backoff = Backoff(settings.backoff_base, settings.backoff_jitter, settings.backoff_max)
        self.token = ImsToken(settings, self._post_token_form)
        self._common_headers: dict[str, str] = {}
        """The headers every request carries, for the token they were made with (``_headers_token``)."""
        self._headers_token = ""
        # Per transport, not per class: the URLs start with this transport's base URL.
        self._url: Callable[[str, tuple[tuple[str, str], ...]], URL] = lru_cache(maxsize=256)(self._build_url)
        self._reminders: dict[str, asyncio.Task[None]] = {}

    def stop(self, reason: str) -> None:
        """Sends nothing more: requests waiting for their turn, and later ones, raise ``NotSent``."""
        for bucket in self.throttles.values():
            bucket.stop(reason)

    async def close(self) -> None:
        """Cancels the reminders that repeat a long pause's resume time in the log, and waits for them."""
        for task in self._reminders.values():
            task.cancel()
        await asyncio.gather(*self._reminders.values(), return_exceptions=True)

    async def call(self, family: str, method: str, path: str, *, params: Mapping[str, str] | None = None,
                   body: Any = None, pragma: str | None = None) -> Reply:
        """Sends ``method path`` (relative to the UMAPI base URL) by the retry policy (``policy.py``)."""
        url = self._url(path, tuple(params.items()) if params else ())
        data = orjson.dumps(body) if body is not None else None
        tries = _Tries(f"{uuid.uuid4().hex}_{int(time.time() * 1000)}")
        bucket, counters = self.throttles[family], self.counters[family]
        while True:
            await self._turn(bucket, tries, method, url)
            try:
                token = await self.token.get()  # after the wait, so it never ages in the queue
            except BaseException:
                bucket.done()
                raise
            counters.attempts += 1
            sent_at = time.monotonic()
            retry_after: float | None = None
            try:
                answer = await self.wire.send(method, url, self._headers(token, tries.request_id, pragma), data,
                                              bucket.done)
            except WireFailure as failure:
                if failure.kind == "timeout":
                    counters.timeouts += 1
                else:
                    counters.dropped += 1
                tries.silent = True
                tries.problem, tries.code, answered = failure.detail, failure.kind, False
            else:
                status = answer.status
                if 200 <= status < 300 or status == 404:
                    bucket.accepted()
                    self.outages[family].recovered()
                    return Reply(status, answer.headers, _json(answer.body), tries.request_id, url.path, tries.silent)
                if status == 401 and not tries.renewed:
                    tries.renewed = True
                    counters.token_renewals += 1
                    await self.token.renew(token)
                    continue
                retry_after = parse_retry_after(answer.headers.get("Retry-After"))
                if status == 429:
                    counters.retries += 1
                    pause = retry_after if retry_after is not None else self.backoff(bucket.stats.throttled + 1)
                    self._pause(family, pause, f"UMAPI asked for a pause (429) after {method} {url.path}",
                                throttled=True)
                    continue
                if status not in RETRYABLE_STATUS:
                    raise answer_error(status, _json(answer.body), method, url.path, tries.request_id)
                counters.server_errors += 1
                tries.problem, tries.code, answered = f"service unavailable ({status})", f"http.{status}", True
            await self._failed(family, method, url, tries, answered, sent_at, retry_after)

    async def _turn(self, bucket: AdaptiveBucket, tries: _Tries, method: str, url: URL) -> None:
        """Waits for the request's turn. When its family has stopped: ``NotSent`` if it never went
        out, else the failure it met (without an answer, the change may have landed)."""
        try:
            await bucket.acquire()
        except NotSent as stopped:
            if not tries.problem:
                raise
            raise tries.final(f"UMAPI {method} {url.path}: {tries.problem}; then: {stopped}", method) from None

    def _headers(self, token: str, request_id: str, pragma: str | None) -> dict[str, str]:
        if token is not self._headers_token:  # built once per token
            self._common_headers = {"Authorization": f"Bearer {token}", "X-Api-Key": self.settings.client_id,
                                    "Accept": "application/json", "Content-Type": "application/json"}
            self._headers_token = token
        headers = {**self._common_headers, "X-Request-Id": request_id}
        if pragma:
            headers["Pragma"] = pragma
        return headers

    async def _failed(self, family: str, method: str, url: URL, tries: _Tries, answered: bool, sent_at: float,
                      retry_after: float | None) -> None:
        """After no answer or a 502/503/504. The first such failure since a request of the family was
        accepted is taken as this request's own (UMAPI was up a moment ago): it alone waits its
        backoff step (or the Retry-After) and goes again, and the family goes on. A second failure
        with nothing accepted in between is an outage: the family pauses for the next backoff step
        (or the Retry-After), then probes, or gives up (``policy.Outage``). An answered failure
        counts against the request's attempts only while others get through, so waiting out an
        outage spends none of them; one without an answer never counts (giving up on it could
        report a change that landed as failed), and only ``server.max_outage`` ends it."""
        settings, bucket, outage = self.settings, self.throttles[family], self.outages[family]
        now = time.monotonic()
        tries.first_failure = tries.first_failure or now
        if answered and (tries.failures == 0 or bucket.accepted_count != tries.accepted_seen):
            tries.failures += 1
        tries.accepted_seen = bucket.accepted_count
        step = outage.failed(sent_at, now)
        own = step == 0
        if own:
            step = max(1, tries.failures)
        elif outage.lasted(now) >= settings.max_outage:
            self._give_up(family, f"UMAPI has not accepted a {family} request for {outage.lasted(now):.0f} s "
                                  f"(server.max_outage is {settings.max_outage:g} s); the last problem: {tries.problem}")
            return  # the next turn raises
        if tries.failures >= settings.retries or now - tries.first_failure >= settings.max_outage:
            raise tries.final(f"UMAPI {method} {url.path}: {tries.problem}; gave up after {tries.failures} failed "
                              f"answers while other requests went through, {now - tries.first_failure:.0f} s after "
                              f"the first failure (server.retries {settings.retries}, server.max_outage "
                              f"{settings.max_outage:g} s)", method)
        self.counters[family].retries += 1
        pause = retry_after if retry_after is not None else self.backoff(step)
        if own:
            log.warning("UMAPI %s %s: %s while other %s requests get through; this one goes again in %.2f s "
                        "(X-Request-Id %s)", method, url.path, tries.problem, family, pause, tries.request_id)
            await bucket.back_off(pause)
            return
        log.warning("UMAPI %s %s: %s; every %s request waits %.2f s, then one goes first to test the service "
                    "(X-Request-Id %s)", method, url.path, tries.problem, family, pause, tries.request_id)
        self._pause(family, pause, f"UMAPI is unavailable ({tries.problem})", throttled=False)

    def _pause(self, family: str, seconds: float, why: str, *, throttled: bool) -> None:
        """Pauses the family (a 429's slow-down, or an outage with probes); past the ceiling on one
        wait, stops it. A long pause is announced at WARNING with the local time sending resumes."""
        settings = self.settings
        if seconds > settings.max_retry_after:
            self._give_up(family, f"{why}: asked to wait {_duration(seconds)}, until {_local_time(seconds)}, which is "
                                  f"over server.max_retry_after ({_duration(settings.max_retry_after)})")
            return
        bucket = self.throttles[family]
        if throttled:
            bucket.throttled(seconds)
        else:
            bucket.outage(seconds)
        left = bucket.paused_until - time.monotonic()
        if left >= settings.long_wait:
            log.warning("%s: every %s request waits %s; sending resumes at %s (local time)", why, family,
                        _duration(left), _local_time(left))
            reminder = self._reminders.get(family)
            if reminder is None or reminder.done():
                self._reminders[family] = asyncio.create_task(self._remind(family), name=f"{family} pause reminder")

    async def _remind(self, family: str) -> None:
        """Repeats the resume time every ``wait_reminder`` seconds while the family is paused."""
        bucket = self.throttles[family]
        while True:
            await asyncio.sleep(self.settings.wait_reminder)
            left = bucket.paused_until - time.monotonic()
            if left <= 0 or bucket.stopped is not None:
                return
            log.warning("Still waiting for UMAPI: every %s request resumes at %s (local time), in %s", family,
                        _local_time(left), _duration(left))

    def _give_up(self, family: str, reason: str) -> None:
        bucket = self.throttles[family]
        if bucket.stopped is None:
            log.error("%s; no more %s requests are sent in this run", reason, family)
            bucket.stop(reason)

    def _build_url(self, path: str, query: tuple[tuple[str, str], ...]) -> URL:
        """The URL of ``path`` with its query, parsed once (aiohttp would parse a string on every request)."""
        url = URL(f"{self.settings.base_url}/{path}")
        return url.with_query(query) if query else url

    async def _post_token_form(self, url: str, form: dict[str, str]) -> dict:
        """The IMS token request: retried on 5xx and network failures, never paced."""
        settings = self.settings
        for attempt in range(1, settings.retries + 1):
            try:
                answer = await self.wire.post_form(url, form)
            except WireFailure as failure:
                problem = failure.detail
            else:
                if answer.status == 200:
                    return _json(answer.body) or {}
                if answer.status not in RETRYABLE_STATUS:
                    body = _json(answer.body)
                    detail = body if isinstance(body, dict) else {}
                    code = str(detail.get("error") or f"http.{answer.status}")
                    reason = detail.get("error_description") or "no reason given"
                    raise UmapiError(f"Adobe IMS at {url} refused the credentials of client id "
                                     f"'{settings.client_id}' (HTTP {answer.status}, {code}: {reason})",
                                     code=code, status=answer.status)
                problem = f"HTTP {answer.status}"
            if attempt < settings.retries:
                await asyncio.sleep(self.backoff(attempt))
        raise UmapiError(f"Adobe IMS at {url} could not be reached ({problem}) after {settings.retries} attempts",
                         code="ims.unavailable")


def _duration(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds))) if seconds >= 60 else f"{seconds:.1f} s"


def _local_time(seconds_from_now: float) -> str:
    return (datetime.now().astimezone() + timedelta(seconds=seconds_from_now)).strftime("%H:%M:%S %Z")


def _json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
