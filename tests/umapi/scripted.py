"""A scripted fake UMAPI at the wire (``umapi.wire.Wire``): the retry, pause and reporting rules
are tested against it in milliseconds, beside the tests against the real sandbox."""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Mapping

import orjson
from yarl import URL

from async_usersync.umapi import RateLimits, UmapiSettings
from async_usersync.umapi.wire import WireAnswer, WireFailure


@dataclass
class Sent:
    at: float
    """``time.monotonic()`` when it went on the wire."""
    method: str
    path: str
    headers: dict[str, str]
    body: Any


Script = Callable[[Sent, "ScriptedWire"], "WireAnswer | WireFailure | Awaitable[WireAnswer | WireFailure]"]


@dataclass
class ScriptedWire:
    """Answers each request with ``script(sent, wire)``: a ``WireAnswer``, or a ``WireFailure`` to raise.
    Tokens are issued as ``token-1``, ``token-2``, ... living ``token_lifetime`` seconds."""

    script: Script
    token_lifetime: float = 3600.0
    sent: list[Sent] = field(default_factory=list)
    issued: dict[str, float] = field(default_factory=dict)
    """Token -> when it was issued."""
    in_flight: int = 0
    most_in_flight: int = 0

    async def send(self, method: str, url: URL, headers: Mapping[str, str], data: bytes | None,
                   answered: Callable[[], None]) -> WireAnswer:
        record = Sent(time.monotonic(), method, url.path, dict(headers), orjson.loads(data) if data else None)
        self.sent.append(record)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            result = self.script(record, self)
            if inspect.isawaitable(result):
                result = await result
        finally:
            self.in_flight -= 1
            answered()
        if isinstance(result, WireFailure):
            raise result
        return result

    async def post_form(self, url: str, form: Mapping[str, str]) -> WireAnswer:
        token = f"token-{len(self.issued) + 1}"
        self.issued[token] = time.monotonic()
        return answer(200, {"access_token": token, "expires_in": self.token_lifetime, "token_type": "bearer"})

    def token_age(self, sent: Sent) -> float:
        """How old the request's token was when it went out."""
        return sent.at - self.issued[sent.headers["Authorization"].removeprefix("Bearer ")]


def answer(status: int, body: Any = None, headers: Mapping[str, str] | None = None) -> WireAnswer:
    return WireAnswer(status, dict(headers or {}), orjson.dumps(body) if body is not None else b"")


def actions_done(sent: Sent, errors: list[dict[str, Any]] | None = None) -> WireAnswer:
    """UMAPI's answer to an action request: every entry done but those in ``errors``."""
    failed = {error["index"] for error in errors or ()}
    return answer(200, {"result": "success" if not errors else "partial", "completed": len(sent.body) - len(failed),
                        "notCompleted": len(failed), "completedInTestMode": 0, "errors": errors or []})


def seam_settings(**overrides: Any) -> UmapiSettings:
    """Settings for the fake: fast pacing, millisecond backoffs."""
    values: dict[str, Any] = dict(org_id="org", client_id="client", client_secret="secret",
                                  limits=RateLimits(window=0.05), backoff_base=0.01, backoff_jitter=0.002,
                                  backoff_max=0.04, timeout=1.0)
    return UmapiSettings(**(values | overrides))


def too_many_requests_on(nth: int, retry_after: str) -> Script:
    """A script that answers the ``nth`` request with a 429 carrying ``retry_after``, the others as done."""
    def script(sent: Sent, wire: ScriptedWire) -> WireAnswer:
        if len(wire.sent) == nth:
            return answer(429, {"error_code": "429050", "message": "Too many requests"}, {"Retry-After": retry_after})
        return actions_done(sent)
    return script
