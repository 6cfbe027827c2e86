"""The extension hook (User Sync's ``after_mapping_hook``), run between the directory source and
the planner: in this process (never in the LDAP reader's child), once per selected directory user,
after the mapping and before the user key is built.

The hook is user code with side effects (it logs, it may keep state in ``hook_storage``), so it
runs here, at the edge of the pipeline, and the planner (``engine/``) stays pure: it gets each user
as the hook left it, with the Adobe groups it chose in ``DirectoryUser.adobe_groups``.

As User Sync runs it (``RuleProcessor.read_desired_user_groups`` in its ``engine/umapi.py``): the
hook sees ``source_attributes``, ``source_groups``, ``target_attributes`` (email, username, domain,
firstname, lastname, country), ``target_groups`` (the mapped Adobe groups; a secondary org's as
``org::Group``, as User Sync qualifies them), ``hook_storage`` and
``logger``, all in one scope that lasts the run, so whatever the hook assigns at its top level
(``hook_storage`` included) is still there for the next user. A group it adds that is neither
mapped nor an ``extended_adobe_groups`` entry is ignored with an error, once per name.

Differences: the user key is built after the hook, from what it left (User Sync builds it before:
its issue 818), so a hook that changes the email changes whom the user matches; a username the
directory did not give (it was the email) follows the email the hook sets; ``hook_storage``
starts as an empty dict (User Sync: None). A hook that raises (``exit()`` too), or leaves no usable
email, fails for that user alone: the user becomes an ``UnreadableDirectoryUser`` (its Adobe account
gets no change and is never Adobe-only) and the pipeline ends the run as a failed read once the
directory is read.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from types import TracebackType
from typing import Any, Callable, Mapping

from async_usersync.config.settings import ExtensionSettings
from async_usersync.engine.rules import ORG_SEPARATOR, GroupMapping, SyncRules, fold, split_org
from async_usersync.records import DirectoryRecord, DirectoryUser, UnreadableDirectoryUser
from async_usersync.sources.base import build_user

HOOK_LOGGER = "async_usersync.extension"
"""The ``logger`` the hook is given."""
_TARGET_ATTRIBUTES = ("email", "username", "domain", "firstname", "lastname", "country")

SourceAttributes = Callable[[DirectoryUser, tuple[str, ...]], dict[str, Any]]
"""What the hook sees as ``source_attributes`` for a user of one kind of source, given the extended
attributes: ``ldap_source_attributes`` or ``csv_source_attributes``."""


def ldap_source_attributes(user: DirectoryUser, extended: tuple[str, ...]) -> dict[str, Any]:
    """User Sync's names for an LDAP user (``email``, ``identity_type``, ``username``, ``domain``,
    ``givenName``, ``sn``, ``c``: the user's values), then each extended attribute as read: a
    string (bytes when it does not decode), a list when it has several values, None when absent."""
    raw = user.source_attributes
    attributes: dict[str, Any] = {
        "email": user.email, "identity_type": user.identity_type.value, "username": user.username,
        "domain": user.domain, "givenName": user.firstname, "sn": user.lastname, "c": user.country,
    }
    for name in extended:
        value = raw.get(name)
        attributes[name] = list(value) if type(value) is tuple else value
    return attributes


def csv_source_attributes(user: DirectoryUser, extended: tuple[str, ...]) -> dict[str, Any]:
    """User Sync's view of a CSV row: each column by its header name, trimmed, None when empty; an
    extended column the file lacks is None too."""
    attributes: dict[str, Any] = {name: (value.strip() or None) if isinstance(value, str) else value
                                  for name, value in user.source_attributes.items()}
    for name in extended:
        attributes.setdefault(name, None)
    return attributes


class AfterMappingHook:
    """Runs the compiled hook for each selected directory user (``apply``); counts the users it failed
    for (``failures``), whom the pipeline then reports as a failed read."""

    def __init__(self, extension: ExtensionSettings, rules: SyncRules, source_attributes: SourceAttributes,
                 secondary_mappings: Mapping[str, GroupMapping] | None = None) -> None:
        """``rules``: the primary's; ``secondary_mappings``: each secondary org's part of the mapping
        (prefix taken off), whose groups the hook sees and may assign as ``org::Group``."""
        self.extension = extension
        self.rules = rules
        self.failures = 0
        self._source_attributes = source_attributes
        self._extended = extension.extended_attributes
        self._filters_usernames = rules.user_filter is not None
        self._code = extension.after_mapping_hook
        self._secondary_mappings = {org + ORG_SEPARATOR: mapping for org, mapping in (secondary_mappings or {}).items()}
        self._known = {fold(name): name for name in rules.mapping.static_targets} | {
            fold(prefix + name): prefix + name
            for prefix, mapping in self._secondary_mappings.items() for name in mapping.static_targets}
        """The groups a hook may assign (folded -> the config's spelling): mapped or extended."""
        self._unknown: set[str] = set()
        self._logger = logging.getLogger(HOOK_LOGGER)
        self._scope: dict[str, Any] = {"hook_storage": {}, "logger": self._logger}
        self._mapped = lru_cache(maxsize=65536)(self._mapped_groups)
        self._chosen = lru_cache(maxsize=65536)(self._known_groups)

    def apply(self, user: DirectoryRecord) -> DirectoryRecord:
        """The user as the hook leaves it (``adobe_groups``: the groups it chose), or an
        ``UnreadableDirectoryUser`` when it failed for them. A user the run does not select (by
        ``--users``, ``--user-filter``) and an unreadable one pass unchanged, as in User Sync."""
        if type(user) is not DirectoryUser:
            return user
        selected, mapped = self._mapped(user.groups)
        if not selected or (self._filters_usernames and not self.rules.selects_username(user.username or user.email)):
            return user
        scope = self._scope
        scope["source_attributes"] = self._source_attributes(user, self._extended)
        scope["source_groups"] = set(user.groups)
        values = email, username, domain, firstname, lastname, country = (
            user.email, user.username, user.domain, user.firstname, user.lastname, user.country)
        scope["target_attributes"] = {"email": email, "username": username, "domain": domain, "firstname": firstname,
                                      "lastname": lastname, "country": country}
        scope["target_groups"] = set(mapped)
        try:
            exec(self._code, scope)  # noqa: S102 - the admin's own hook, as User Sync runs it
        except (Exception, SystemExit) as error:  # noqa: BLE001 - any error of the hook's (exit() too) is that user's
            return self._failed(user, f"the extension hook raised {type(error).__name__}: {error} "
                                      f"at line {self._hook_line(error.__traceback__)} of {self.extension.file}")
        return self._result(user, values, scope["target_attributes"], scope["target_groups"])

    def _result(self, user: DirectoryUser, given: tuple[str | None, ...], attributes: Any, groups: Any) -> DirectoryRecord:
        """The user rebuilt from what the hook left (``given``: the target attributes it was given,
        in ``_TARGET_ATTRIBUTES``' order), by the sources' rules (``build_user``)."""
        if not (type(attributes) is dict or isinstance(attributes, Mapping)) or not isinstance(
                groups, (set, frozenset, list, tuple)):  # a dict first: the Mapping check alone costs 1.4 us
            return self._failed(user, "the extension hook left target_attributes or target_groups of the wrong "
                                      "kind (a dict and a set are expected)")
        try:
            chosen = self._chosen(frozenset(groups))
        except TypeError:  # an item that cannot be in a set
            chosen = None
        if chosen is None:
            return self._failed(user, "the extension hook left a group name that is not text in target_groups")
        get = attributes.get
        values = (get("email"), get("username"), get("domain"), get("firstname"), get("lastname"), get("country"))
        if values == given:
            return DirectoryUser(user.identity_type, user.username, user.domain, user.email, user.firstname,
                                 user.lastname, user.country, user.groups, user.source_attributes, user.origin, chosen)
        for name, value in zip(_TARGET_ATTRIBUTES, values):
            if value is not None and type(value) is not str:
                return self._failed(user, f"the extension hook left {name} {value!r}, which is not text")
        email, username, domain, firstname, lastname, country = values
        if not email or "@" not in email:
            return self._failed(user, f"the extension hook left no valid email (got {email!r})")
        if username == user.username == user.email:  # the directory gave no username: it follows the email
            username = None
        rebuilt = build_user(
            user.origin, identity_text=None, identity_field="", default_identity_type=user.identity_type, email=email,
            username=username, domain=domain, firstname=firstname, lastname=lastname, country=country,
            groups=user.groups, source_attributes=user.source_attributes, origin=user.origin, adobe_groups=chosen)
        assert rebuilt is not None  # the email was checked above
        return rebuilt

    def _mapped_groups(self, groups: frozenset[str]) -> tuple[bool, tuple[str, ...]]:
        """Whether a user in these directory groups is selected, and the Adobe groups they map to."""
        return (self.rules.selects_groups(fold(group) for group in groups),
                (*self.rules.mapping.targets_of(groups).values(),
                 *(prefix + name for prefix, mapping in self._secondary_mappings.items()
                   for name in mapping.targets_of(groups).values())))

    def _known_groups(self, groups: frozenset[Any]) -> frozenset[str] | None:
        """The hook's groups that are mapped or extended, as the config spells them (None when a name
        is not text); each other name is logged once, as User Sync's "Target adobe group ... is not
        known; ignored"."""
        if any(type(name) is not str for name in groups):
            return None
        known = set()
        for name in groups:
            spelling = self._known.get(fold(name))
            if spelling is not None:
                known.add(spelling)
            elif name not in self._unknown:
                self._unknown.add(name)
                self._logger.error("The extension hook assigned the Adobe group '%s', which is neither mapped nor "
                                   "in extended_adobe_groups of %s: ignored", name, self.extension.file)
        return frozenset(known)

    def _failed(self, user: DirectoryUser, problem: str) -> UnreadableDirectoryUser:
        self.failures += 1
        return UnreadableDirectoryUser(where=f"{user.email} ({user.origin})", problem=problem, email=user.email,
                                       username=user.username, domain=user.domain)

    def _hook_line(self, trace: TracebackType | None) -> int | str:
        """The line of the extension file the hook failed at (its deepest frame in the hook's code)."""
        line: int | str = "?"
        file_name = self._code.co_filename
        while trace is not None:
            if trace.tb_frame.f_code.co_filename == file_name:
                line = trace.tb_lineno
            trace = trace.tb_next
        return line


def in_org(user: DirectoryRecord, org: str | None) -> DirectoryRecord:
    """The user as one org's planner takes it (``org``: a secondary's name, None: the primary): of the
    Adobe groups the hook chose, those of that org, prefix taken off (``split_org``). A user the hook
    did not run for passes unchanged."""
    if type(user) is not DirectoryUser or user.adobe_groups is None:
        return user
    chosen = frozenset(group for owner, group in map(split_org, user.adobe_groups) if owner == org)
    if chosen == user.adobe_groups:
        return user
    return DirectoryUser(user.identity_type, user.username, user.domain, user.email, user.firstname, user.lastname,
                         user.country, user.groups, user.source_attributes, user.origin, chosen)
