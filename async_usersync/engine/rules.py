"""What the planner needs to know, in plain types: the group mapping, the exclusions, the
Adobe-only limit and the options that change the rules. Built from the config files and the
command line by ``async_usersync.config.build_sync_rules``; the engine itself reads no file.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Iterable

from async_usersync.records import AdobeUser, IdentityType


class Strategy(str, Enum):
    """``--strategy``: ``sync`` reads both sides and plans against the org; ``push``, as in User
    Sync, reads no Adobe user and sends each selected directory user as a create."""
    SYNC = "sync"
    PUSH = "push"


class AdobeOnlyAction(str, Enum):
    """``--adobe-only-user-action``: what happens to Adobe users no selected directory user matches."""

    PRESERVE = "preserve"
    EXCLUDE = "exclude"
    WRITE_FILE = "write-file"
    REMOVE_ADOBE_GROUPS = "remove-adobe-groups"
    REMOVE = "remove"
    DELETE = "delete"


UPDATABLE_ATTRIBUTES = ("email", "firstname", "lastname", "username")
DEFAULT_UPDATE_ATTRIBUTES = frozenset({"firstname", "lastname", "email"})


def fold(name: str) -> str:
    """The case-insensitive form of a group name, email or username."""
    return name.lower()


ORG_SEPARATOR = "::"
"""Between a secondary org's name and one of its groups: ``org2::Acrobat`` (User Sync's
``GROUP_NAME_DELIMITER``)."""


def split_org(qualified_name: str) -> tuple[str | None, str]:
    """``(org, group)`` from a group name as User Sync's config writes it: the org is what comes
    before the last ``::`` (None, the primary, when there is none or it is empty), the group what
    follows it. ``org2::Acrobat`` -> ``("org2", "Acrobat")``, ``Acrobat`` -> ``(None, "Acrobat")``.
    As User Sync's ``AdobeGroup._parse``."""
    org, _, group = qualified_name.rpartition(ORG_SEPARATOR)
    return org or None, group


@dataclass(frozen=True, eq=False)
class AdditionalGroupRule:
    """``additional_groups``: each directory group matching ``source`` becomes the Adobe group
    named by ``target`` (a substitution template such as ``ACL-Grp-\\1``).

    As User Sync does it: ``source`` is matched case-sensitively at the start of the name only (a
    prefix match), and the target is the name with ``source`` substituted by ``target``, so
    ``ACL-([A-Za-z]+)`` makes ``ACL-Delta-Extra`` into ``ACL-Grp-Delta-Extra`` and leaves
    ``acl-gamma`` alone."""

    source: re.Pattern[str]
    target: str

    def target_for(self, directory_group: str) -> str | None:
        """The Adobe group ``directory_group`` maps to (interned), or None when ``source`` does not
        match at the start of its name."""
        if self.source.match(directory_group) is None:
            return None
        return sys.intern(self.source.sub(self.target, directory_group))

    @cached_property
    def target_pattern(self) -> re.Pattern[str]:
        """Matches every name this rule can produce: the template with each group reference made a
        wildcard (ignoring case), followed by anything (the substitution keeps the rest of the name).

        Only a group some selected directory user produced in this run counts as mapped (as in User
        Sync); while the directory is read, a group fitting this pattern may still become one.
        """
        pieces = re.split(r"(\\\d+|\\g<[^>]*>)", self.target)
        regex = "".join(".+" if index % 2 else re.escape(piece) for index, piece in enumerate(pieces))
        return re.compile(regex + ".*", re.IGNORECASE)


@dataclass(frozen=True, eq=False)
class GroupMapping:
    """Directory groups -> Adobe groups, from ``directory_users.groups`` and ``additional_groups``,
    and the extension's ``extended_adobe_groups`` (groups only its hook assigns)."""

    targets_by_directory_group: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Keyed by the folded directory group name; targets as the config spells them."""
    additional: tuple[AdditionalGroupRule, ...] = ()
    extended: tuple[str, ...] = ()
    """The extension's ``extended_adobe_groups``: mapped as the ``groups`` targets are (User Sync:
    "treated exactly as if the extended mapping had been specified as part of the groups setting"),
    though no directory group maps to them; the hook assigns them."""

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, Iterable[str]]], additional: Iterable[AdditionalGroupRule] = (),
                   extended: Iterable[str] = ()) -> "GroupMapping":
        """A mapping from ``(directory group, Adobe groups)`` pairs: a directory group listed twice
        (ignoring case) gets the targets of both, each Adobe group once (first spelling wins)."""
        targets: dict[str, tuple[str, ...]] = {}
        for directory_group, adobe_groups in pairs:
            names = list(targets.get(fold(directory_group), ()))
            for name in adobe_groups:
                if all(fold(name) != fold(known) for known in names):
                    names.append(sys.intern(name))
            targets[fold(directory_group)] = tuple(names)
        return cls(targets, tuple(additional), tuple(sys.intern(name) for name in extended))

    @property
    def static_targets(self) -> tuple[str, ...]:
        """Every Adobe group of the ``groups`` mapping, then the extended ones, once each (first
        spelling wins)."""
        seen: dict[str, str] = {}
        for names in (*self.targets_by_directory_group.values(), self.extended):
            for name in names:
                seen.setdefault(fold(name), name)
        return tuple(seen.values())

    def targets_of(self, groups: Iterable[str]) -> dict[str, str]:
        """The Adobe groups the ``groups`` mapping gives these directory groups (folded -> spelling,
        in a fixed order: the directory groups sorted by folded name, then each one's targets);
        ``additional_groups`` are not applied here."""
        desired: dict[str, str] = {}
        for folded_group in sorted(fold(group) for group in groups):
            for target in self.targets_by_directory_group.get(folded_group, ()):
                desired.setdefault(fold(target), target)
        return desired

    @cached_property
    def folded_static_targets(self) -> frozenset[str]:
        """``static_targets`` folded, for membership tests."""
        return frozenset(fold(name) for name in self.static_targets)

    def may_be_mapped(self, folded_group: str) -> bool:
        """Whether this (folded) Adobe group is a target of ``groups`` or fits an ``additional_groups``
        target pattern; the planner narrows the second kind to the targets produced in the run."""
        if folded_group in self.folded_static_targets:
            return True
        return any(rule.target_pattern.fullmatch(folded_group) for rule in self.additional)


@dataclass(frozen=True)
class Exclusions:
    """Adobe users that are never changed or removed (``adobe_users.exclude_*``)."""

    identity_types: frozenset[IdentityType] = frozenset()
    groups: frozenset[str] = frozenset()
    """Folded group names."""
    username_patterns: tuple[re.Pattern[str], ...] = ()
    """Matched in full against the username, case-insensitively."""

    def excludes_account(self, user: AdobeUser) -> bool:
        """By identity type or username (the group test is ``excludes_groups``)."""
        if user.identity_type in self.identity_types:
            return True
        return bool(self.username_patterns) and any(pattern.fullmatch(user.username) for pattern in self.username_patterns)

    def excludes_groups(self, groups: Iterable[str]) -> bool:
        """Whether any of ``groups`` (as the org spells them) is an ``exclude_groups`` group, ignoring case."""
        return not self.groups.isdisjoint(fold(group) for group in groups)


@dataclass(frozen=True)
class AdobeOnlyLimit:
    """``limits.max_adobe_only_users``: a count, or a percentage of the non-excluded Adobe users read."""

    count: int | None = 200
    percent: float | None = None
    group_removals_only: bool = False

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else str(self.count)

    def allows(self, adobe_only_count: int, adobe_users_considered: int) -> bool:
        """Whether ``adobe_only_count`` Adobe-only users may be acted on: at most ``count``, or at
        most ``percent`` % of ``adobe_users_considered`` (the non-excluded Adobe users read), as User
        Sync's ``max_adobe_only_users``."""
        if self.percent is not None:
            return adobe_only_count <= adobe_users_considered * self.percent / 100
        assert self.count is not None
        return adobe_only_count <= self.count


@dataclass(frozen=True)
class SyncRules:
    """Every rule the planner applies, in plain types: the mapping, exclusions and limit, and the
    options that change them (``--strategy``, ``--process-groups``, ``--update-user-info``,
    ``--adobe-only-user-action``, ``--users``, ``--user-filter``, ``--exclude-unmapped-users``,
    ``default_country_code``). Built by ``async_usersync.config.build_sync_rules``."""
    mapping: GroupMapping = field(default_factory=GroupMapping)
    exclusions: Exclusions = field(default_factory=Exclusions)
    limit: AdobeOnlyLimit = field(default_factory=AdobeOnlyLimit)
    strategy: Strategy = Strategy.SYNC
    process_groups: bool = False
    update_user_info: bool = False
    update_attributes: frozenset[str] = DEFAULT_UPDATE_ATTRIBUTES
    adobe_only_action: AdobeOnlyAction = AdobeOnlyAction.PRESERVE
    directory_group_filter: frozenset[str] | None = None
    """Folded directory groups a user must belong to (``--users mapped`` or ``group``); None keeps all."""
    user_filter: re.Pattern[str] | None = None
    """``--user-filter``: matched in full against the username part of the user key."""
    exclude_unmapped_users: bool = False
    default_country_code: str | None = None
    secondary: bool = False
    """A secondary (trustee) org, as User Sync treats one: a directory user is created there only when
    it has mapped groups there, attributes are never updated, and ``delete`` removes from the org
    without deleting the account (the primary owns it). Its Adobe-only users are handled too (User
    Sync skips those not Adobe-only in the primary, its issue 788)."""

    def selects_groups(self, folded_groups: Iterable[str]) -> bool:
        """Whether a user in these directory groups (folded) passes ``--users mapped``/``group``."""
        wanted = self.directory_group_filter
        return wanted is None or not wanted.isdisjoint(folded_groups)

    def selects_username(self, username: str) -> bool:
        """Whether a username (the email when the directory gives none) passes ``--user-filter``."""
        return self.user_filter is None or self.user_filter.fullmatch(fold(username)) is not None

    @property
    def manages_adobe_only_users(self) -> bool:
        """Whether anything is done to Adobe-only users, which is when the limit is checked
        (``exclude`` means no change of any kind, even with ``--process-groups``)."""
        if self.adobe_only_action is AdobeOnlyAction.EXCLUDE:
            return False
        return self.process_groups or self.adobe_only_action in (
            AdobeOnlyAction.REMOVE_ADOBE_GROUPS, AdobeOnlyAction.REMOVE, AdobeOnlyAction.DELETE)


def missing_user_groups(wanted: Iterable[str], existing: Iterable[str]) -> list[str]:
    """``auto_create``: the wanted groups the org lacks, compared ignoring case. Admin-role
    pseudo-groups (``_admin_...``, ``_product_admin_...``) are never created."""
    have = {fold(name) for name in existing}
    missing: dict[str, str] = {}
    for name in wanted:
        if not name.startswith("_") and fold(name) not in have:
            missing.setdefault(fold(name), name)
    return list(missing.values())
