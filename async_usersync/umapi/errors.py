"""Errors of the UMAPI client. A failed read ends the run with exit code 3 (ReadError)."""

from __future__ import annotations

from async_usersync.errors import ReadError


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
