"""What every directory source offers, and the User Sync rules that turn read values into a user."""

from __future__ import annotations

import logging
from typing import Any, AsyncGenerator, Callable, Mapping, Protocol

from async_usersync.config.settings import UserSelection
from async_usersync.errors import ReadError
from async_usersync.records import DirectoryUser, IdentityType, UnreadableDirectoryUser

LOG = logging.getLogger("async_usersync.sources")


MissingGroupHandler = Callable[[str], None]
"""Told the name of each selected group the directory does not have, before the first user comes."""


class DirectorySource(Protocol):
    """A directory source (LDAP, or a CSV file): what the pipeline reads users from."""
    def users(self, selection: UserSelection, on_missing_group: MissingGroupHandler | None = None
              ) -> AsyncGenerator[DirectoryUser | UnreadableDirectoryUser, None]:
        """Streams the selected users, each one once, with all its selected groups; an entry whose
        record cannot be built comes as an ``UnreadableDirectoryUser``, whatever the selection. A
        selected group the directory does not have is logged and, before any user, given to
        ``on_missing_group``. Raises ReadError (at the end, after the users) when part of the
        directory could not be read at all."""
        ...


class EmailCheck:
    """One read's watch on entries skipped for having no valid email address (``build_user``): a
    read in which entries were found but every one was skipped so fails (``raise_if_every_entry_skipped``)
    instead of looking like an empty directory, whose Adobe users would all look Adobe-only. A wrong
    ``user_email_format`` (an attribute no entry has) or an empty email column reads so. A flag, not
    a count: the LDAP source builds users on its connections' worker threads."""

    def __init__(self, email_key: str) -> None:
        self.email_key = email_key
        """What gives the email, for the message: e.g. ``user_email_format '{mail}' in FILE``."""
        self.skipped = False

    def raise_if_every_entry_skipped(self, users_built: int) -> None:
        """Raises ReadError when entries were skipped for having no email and none became a user."""
        if self.skipped and not users_built:
            raise ReadError(f"no entry read has a valid email address (each was skipped: see the warnings above); "
                            f"check {self.email_key}. An empty read would make every Adobe user look Adobe-only")


def build_user(where: str, *, identity_text: str | None, identity_field: str, default_identity_type: IdentityType,
               email: str | None, username: str | None, domain: str | None, firstname: str | None,
               lastname: str | None, country: str | None, groups: frozenset[str], source_attributes: Mapping[str, Any],
               origin: str = "", problem: str | None = None, adobe_groups: frozenset[str] | None = None,
               email_check: EmailCheck | None = None) -> DirectoryUser | UnreadableDirectoryUser | None:
    """Applies User Sync's rules to one entry's values.

    An email with an '@' is required (else a warning naming ``where`` and None: as in User Sync,
    such an entry is no user). The username defaults to the email; a username that differs from
    the email takes its domain from the email unless one is given; the country is upper-cased; the
    identity type is ``identity_text`` (read from ``identity_field``) or ``default_identity_type``.
    When a value could not be read (``problem``, or an identity type that does not parse) the
    result is an ``UnreadableDirectoryUser`` carrying only what identifies the person. ``origin``
    (the DN, or the file and line) goes into the user for later messages, and ``adobe_groups`` (the
    extension hook's choice, which the hook's runner rebuilds its users with) as it is. A skipped
    entry is noted in ``email_check``."""
    email = email.strip() if email else None
    if not email or "@" not in email:
        LOG.warning("Skipping user %s: no valid email address (got %r)", where, email)
        if email_check is not None:
            email_check.skipped = True
        return None
    username = username.strip() if username and username.strip() else email
    domain = domain.strip() if domain and domain.strip() else None
    if domain is None and username != email:
        domain = email.rsplit("@", 1)[1]
    identity_type = default_identity_type
    if identity_text is not None and identity_text.strip():
        try:
            identity_type = IdentityType.parse(identity_text)
        except ValueError as error:
            problem = problem or f"{identity_field}: {error}"
    if problem is not None:
        return UnreadableDirectoryUser(where=where, problem=problem, email=email, username=username, domain=domain)
    return DirectoryUser(
        identity_type=identity_type, username=username, domain=domain, email=email,
        firstname=firstname or None, lastname=lastname or None,
        country=country.strip().upper() if country and country.strip() else None,
        groups=groups, source_attributes=source_attributes, origin=origin, adobe_groups=adobe_groups,
    )
