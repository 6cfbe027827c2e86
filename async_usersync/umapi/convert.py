"""UMAPI user objects -> ``AdobeUser`` records (the hot loop of a large org's read)."""

from __future__ import annotations

from typing import Any, Mapping

from async_usersync.records import AdobeUser, IdentityType

_IDENTITY_TYPES = {member.value: member for member in IdentityType}
"""UMAPI's exact spellings; a dict lookup, because ``IdentityType.parse`` is too slow for a million users."""


def adobe_user(user: Mapping[str, Any]) -> AdobeUser | None:
    """The record for one user object of a users listing; ``None`` for a type we cannot manage
    (UMAPI lists ``unknown`` for some accounts) or an object without an email or username."""
    identity_type = _IDENTITY_TYPES.get(user.get("type"))  # type: ignore[arg-type]
    email = user.get("email") or ""
    username = user.get("username") or email
    if identity_type is None or not username:
        return None
    return AdobeUser(
        identity_type=identity_type,
        username=username,
        domain=user.get("domain") or None,
        email=email,
        firstname=user.get("firstname") or None,
        lastname=user.get("lastname") or None,
        country=user.get("country") or None,
        groups=frozenset(user.get("groups") or ()),
    )
