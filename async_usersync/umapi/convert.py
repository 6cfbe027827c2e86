"""UMAPI user objects -> ``AdobeUser`` records (the hot loop of a large org's read).

A large org's users share few distinct domains, countries and group sets, so each record points
at one shared copy of these instead of its own: about half the memory of a record that waits in
the planner for its directory match.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import Any, Mapping

from async_usersync.records import AdobeUser, IdentityType

_IDENTITY_TYPES = {member.value: member for member in IdentityType}
"""UMAPI's exact spellings; a dict lookup, because ``IdentityType.parse`` is too slow for a million users."""
_GROUP_SETS_KEPT = 65536
"""Distinct group sets shared; beyond that (orgs with many groups) a rare set is simply not shared."""


@lru_cache(maxsize=_GROUP_SETS_KEPT)
def _group_set(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(sys.intern(name) for name in names)


def adobe_user(user: Mapping[str, Any]) -> AdobeUser | None:
    """The record for one user object of a users listing; ``None`` for a type we cannot manage
    (UMAPI lists ``unknown`` for some accounts) or an object without an email or username."""
    identity_type = _IDENTITY_TYPES.get(user.get("type"))  # type: ignore[arg-type]
    email = user.get("email") or ""
    username = user.get("username") or email
    if identity_type is None or not username:
        return None
    domain, country = user.get("domain"), user.get("country")
    return AdobeUser(
        identity_type=identity_type,
        username=email if username == email else username,
        domain=sys.intern(domain) if domain else None,
        email=email,
        firstname=user.get("firstname") or None,
        lastname=user.get("lastname") or None,
        country=sys.intern(country) if country else None,
        groups=_group_set(tuple(user.get("groups") or ())),
    )
