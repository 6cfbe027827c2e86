"""The IMS side: the OAuth server-to-server (client_credentials) token grant and the tokens it issued."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Mapping

REQUIRED_SCOPE = "user_management_sdk"


@dataclass(frozen=True, slots=True)
class GrantRefused(Exception):
    """A token request IMS refuses: the HTTP status and IMS's ``error`` and ``error_description``."""
    status: int
    error: str
    description: str

    def body(self) -> dict[str, str]:
        """The JSON body IMS answers a refused grant with."""
        return {"error": self.error, "error_description": self.description}


class TokenStore:
    """Issued tokens and their expiry (wall-clock seconds from the given clock's epoch)."""

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[str, float]] = {}

    def grant(self, params: Mapping[str, str], clients: Mapping[str, str], lifetime: int, now: float) -> dict[str, object]:
        """Checks a client_credentials request; returns the token answer or raises ``GrantRefused``."""
        if params.get("grant_type") != "client_credentials":
            raise GrantRefused(400, "unsupported_grant_type", "grant_type must be client_credentials")
        client_id = params.get("client_id", "")
        if not client_id:
            raise GrantRefused(400, "invalid_request", "missing client_id parameter")
        if client_id not in clients:
            raise GrantRefused(400, "invalid_client", "invalid client_id parameter")
        if not secrets.compare_digest(params.get("client_secret", ""), clients[client_id]):
            raise GrantRefused(401, "invalid_client", "invalid client_secret parameter")
        scopes = {scope.strip() for scope in params.get("scope", "").split(",")}
        if REQUIRED_SCOPE not in scopes:
            raise GrantRefused(400, "invalid_scope", f"scope must include {REQUIRED_SCOPE}")
        token = "ey" + secrets.token_urlsafe(48)
        self._tokens[token] = (client_id, now + lifetime)
        return {"access_token": token, "token_type": "bearer", "expires_in": lifetime}

    def client_of(self, token: str, now: float) -> str | None:
        """The client a live token was issued to, or ``None`` for an unknown or expired token."""
        issued = self._tokens.get(token)
        if issued is None or issued[1] <= now:
            return None
        return issued[0]
