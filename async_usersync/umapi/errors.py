"""Errors of the UMAPI client, and the one place where an error answer becomes an error.

A failed read ends the run with exit code 3 (ReadError).
"""

from __future__ import annotations

from typing import Any

from async_usersync.errors import ReadError

DEFAULT_REASONS = {401: "the access token was refused", 403: "the API key (client id) is not permitted for this org",
                   413: "the request is too large"}


class UmapiError(ReadError):
    """A UMAPI or IMS request failed for good.

    ``code`` is short and stable, for counting failures: the API's ``result`` or ``error`` key when
    the body has one, else ``http.<status>``, ``timeout`` or ``connection``.
    """

    def __init__(self, message: str, *, code: str, status: int | None = None, request_id: str | None = None) -> None:
        self.code = code
        self.status = status
        self.request_id = request_id
        super().__init__(message)


class NotSent(UmapiError):
    """The request never reached UMAPI and never will in this run: the run was interrupted, or its
    family stopped (an outage past ``server.max_outage``, a Retry-After past ``server.max_retry_after``).
    Its commands are reported as not sent, not as failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, code="not_sent")


class Unanswered(UmapiError):
    """The request was sent, but it ends without an answer that settles it: an attempt got no
    answer (lost on the wire, timed out) and then the run was interrupted or the family stopped.
    The change may have landed; its commands are reported as unanswered, neither landed nor failed."""

    def __init__(self, message: str, request_id: str | None = None) -> None:
        super().__init__(message, code="unanswered", request_id=request_id)


def answer_error(status: int, body: Any, method: str, path: str, request_id: str | None,
                 reason: str = "no reason given") -> UmapiError:
    """The error for an answer that ends a request unsuccessfully: UMAPI's ``result`` (or
    ``error_code``) and ``message`` when the JSON body has them, else the status's usual meaning,
    else ``reason``. ``path`` is the URL's path, so a wrong ``server.endpoint`` shows."""
    detail = body if isinstance(body, dict) else {}
    code = str(detail.get("result") or detail.get("error_code") or f"http.{status}")
    message = str(detail.get("message") or DEFAULT_REASONS.get(status, reason))
    return UmapiError(f"UMAPI {method} {path} failed: HTTP {status}, {code}: {message}",
                      code=code, status=status, request_id=request_id)
