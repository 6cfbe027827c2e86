"""Adobe IMS OAuth server-to-server tokens: fetched once, reused, renewed before they expire.

Neither the client secret nor the token is ever put in a log line or an error message, and both
are registered with the log redactor as soon as they are known, so a line that would carry one
anyway (a server's error text, a library's debug output, a traceback) shows a mask instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable

from async_usersync.redaction import register_secret
from async_usersync.umapi.errors import UmapiError
from async_usersync.config.settings import UmapiSettings

log = logging.getLogger(__name__)

SCOPE = "openid,AdobeID,user_management_sdk"

TokenRequest = Callable[[str, dict[str, str]], Awaitable[dict]]
"""Posts a form to a URL and returns the JSON answer (retries are the caller's business)."""


class ImsToken:
    """The access token of one UMAPI client, from Adobe IMS's OAuth server-to-server flow
    (``client_credentials``, scope ``SCOPE``). ``get()`` and ``renew()`` raise ``UmapiError``:
    ``ims.malformed`` when IMS answers without a token and lifetime, and what ``post_form`` raises
    (the transport's: credentials refused, IMS unreachable). ``fetches`` counts the tokens fetched."""
    def __init__(self, settings: UmapiSettings, post_form: TokenRequest) -> None:
        self._settings = settings
        register_secret(settings.client_secret)  # config.secrets did so too, unless the settings were built in code
        self._post_form = post_form
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def get(self) -> str:
        """A valid access token, fetched only when none is held or it is about to expire."""
        if self._token is not None and time.monotonic() < self._renew_at:
            return self._token
        async with self._lock:
            if self._token is None or time.monotonic() >= self._renew_at:
                await self._fetch()
            assert self._token is not None
            return self._token

    async def renew(self, rejected: str) -> str:
        """After a 401 for ``rejected``: a new token, fetched once however many requests saw it."""
        async with self._lock:
            if self._token == rejected:
                await self._fetch()
            assert self._token is not None
            return self._token

    async def _fetch(self) -> None:
        settings = self._settings
        form = {
            "grant_type": "client_credentials",
            "client_id": settings.client_id,
            "client_secret": settings.client_secret,
            "scope": SCOPE,
        }
        answer = await self._post_form(settings.token_url, form)
        token = answer.get("access_token")
        lifetime = answer.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(lifetime, (int, float)) or lifetime <= 0:
            raise UmapiError(f"Adobe IMS at {settings.token_url} answered without an access token and lifetime",
                             code="ims.malformed")
        register_secret(token)
        margin = min(settings.token_margin, lifetime / 10)
        self._token = token
        self._renew_at = time.monotonic() + lifetime - margin
        self.fetches += 1
        log.debug("IMS access token obtained, valid %d s", lifetime)
