"""UMAPI user objects -> ``AdobeUser`` records."""

from __future__ import annotations

from typing import Any, Mapping

from async_usersync.records import AdobeUser, IdentityType


def adobe_user(user: Mapping[str, Any]) -> AdobeUser | None:
    """The record for one user object of a users listing; ``None`` for a type we cannot manage
    (UMAPI lists ``unknown`` for some accounts) or an object without an email or username."""
    try:
        identity_type = IdentityType.parse(str(user.get("type", "")))
    except ValueError:
        return None
    email = user.get("email") or ""
    username = user.get("username") or email
    if not username:
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
