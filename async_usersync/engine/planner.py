"""The incremental rule engine: users from both reads stream in, commands come out as soon as
they are certain.

* A directory user and an Adobe user match when their email or username agree, ignoring case.
  A matched pair yields its update and group commands at once, whichever side came first (a
  command that removes groups waits for the whole directory, see below), and both users are
  dropped from memory.
* A directory user no Adobe user matched is created once the Adobe read is done (at once if it
  arrives after that).
* An Adobe user no directory user matched is Adobe-only once the directory read is done; what
  happens to Adobe-only users is decided only in ``finish()``, which the pipeline calls only when
  both reads succeeded, so a failed read can never remove anyone.
* Removals wait for the whole directory: while it is read, a matched pair's command that removes
  groups is held (``directory_done()`` yields it), and each matched or created user is remembered
  by its match keys (a few numbers and its origin), so a second entry with the same email or
  username merges its groups into the first (held commands are redone, sent ones get the missing
  groups): the outcome does not depend on the order of the reads.
* A directory user whose record could not be built (``UnreadableDirectoryUser``) protects the
  Adobe user it matches: no command for either, and never Adobe-only.
* A directory user the extension hook ran for (``adobe_groups`` set) was selected before the hook
  (by its groups and its username then, as in User Sync) and wants the Adobe groups the hook chose
  instead of its mapped ones; ``additional_groups`` still apply to its directory groups.

Nothing here logs or does I/O: warnings and the CRITICAL limit message are collected in
``messages`` as (logging level, text) for the pipeline to log.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from functools import lru_cache
from types import MappingProxyType
from typing import AbstractSet, Any, Iterable, Iterator, Mapping, TypeVar

from async_usersync.engine.rules import AdobeOnlyAction, Strategy, SyncRules, fold
from async_usersync.engine.action_summary import ADOBE_ONLY_LABELS, GROUPS_PROCESSED_LABEL, SummaryCounters
from async_usersync.records import (
    AdobeUser, CreateUser, DirectoryRecord, DirectoryUser, IdentityType, UnreadableDirectoryUser, UserCommand,
)

Message = tuple[int, str]
_Match = tuple[int, int, str, bool, int]
"""A directory user matched or created while the directory is read: the numbers of its directory
groups and of the Adobe user's groups (-1: nothing is managed for it), where the first entry came
from, whether the Adobe user is an Adobe ID, and the index of its held command (-1: none)."""
_Held = tuple[AdobeUser, "Mapping[str, str] | None", tuple[str, ...], tuple[str, ...]]
"""A held command's parts: the Adobe user as read (the command's ``before``; its root, domain and
user key are worked out from it when the command is built), the update (None: none), groups to add
and to remove."""
_NO_UPDATE: Mapping[str, str] = MappingProxyType({})
"""The update of a command that changes no attribute: one shared, read-only empty mapping."""
AnyUser = TypeVar("AnyUser", DirectoryRecord, AdobeUser)
_CACHE_SIZE = 65536
"""Entries of each per-group-set cache: users share few distinct group sets, so this bounds memory
without losing hits."""
_ADOBE_ID = IdentityType.ADOBE_ID
_ENTERPRISE_ID = IdentityType.ENTERPRISE_ID
_FEDERATED_ID = IdentityType.FEDERATED_ID
_TYPE_NAMES = {identity_type: f"{identity_type.value}," for identity_type in IdentityType}
_blank_command = object.__new__
_fill_command = UserCommand.__init__
_CHOSEN = "\x00"
"""Inside the planner, the group set of a user the extension hook ran for holds its directory groups,
this mark, and each Adobe group the hook chose prefixed with it (no directory group name holds a NUL).
Merging two entries is then a union, and every per-group-set cache works unchanged."""


def _new_command(user: str, domain: str | None, use_adobe_id: bool, key: str, create: CreateUser | None = None,
                 update: Mapping[str, str] = _NO_UPDATE, remove_groups: tuple[str, ...] = (),
                 add_groups: tuple[str, ...] = (), before: AdobeUser | None = None) -> UserCommand:
    """``UserCommand(...)`` for the planner's million commands (the creates, the matched pairs'
    changes, the held commands). Calling the class with keywords packs them into a dict on the way to
    ``__init__`` (type.__call__); calling ``__init__`` on a blank command, with its arguments in
    order, does not (1.7 instead of 2.4 us a command, side by side). Never a removal from the org."""
    command: UserCommand = _blank_command(UserCommand)
    _fill_command(command, user, domain, use_adobe_id, create, update, remove_groups, add_groups, False, False, key,
                  before)
    return command


def user_key(user: DirectoryUser | AdobeUser) -> str:
    """User Sync's user key ``idtype,username,domain,email``: the type as spelled (``federatedID``),
    the rest lower-cased; the domain is left empty when the username is an email address."""
    username = user.username or user.email
    domain = "" if "@" in username else (user.domain or "")
    return _TYPE_NAMES[user.identity_type] + f"{username},{domain},{user.email}".lower()


def match_keys(user: DirectoryRecord | AdobeUser) -> tuple[str, ...]:
    """The keys a user is found by: the email, and the username (qualified by the domain when it
    is not an email address), folded."""
    email, username = user.email, user.username
    if not username or username == email:
        return (email.lower(),)
    name_key = (username if "@" in username else f"{username},{user.domain or ''}").lower()
    email_key = email.lower()
    if not email_key or email_key == name_key:
        return (name_key,)
    return (email_key, name_key)


def command_root(user: DirectoryUser | AdobeUser) -> tuple[str, str | None]:
    """UMAPI's entry root for a user: the email, or a non-email username with its domain."""
    if user.username and "@" not in user.username:
        return user.username, user.domain
    return user.email or user.username, None


class SyncPlanner:
    """Feed it both reads in any interleaving; see the module docstring for when commands appear."""

    def __init__(self, rules: SyncRules) -> None:
        self.rules = rules
        self.counters = SummaryCounters(strategy=rules.strategy)
        self.messages: list[Message] = []
        self.adobe_only_users: list[AdobeUser] = []
        """The non-excluded Adobe-only users (the rows ``write-file`` writes), complete after both
        reads; kept only when they are written or acted on."""
        self.adobe_only_changed = 0
        """Adobe-only users that ``finish()`` gave a command (the summary counts every one acted on)."""
        self.adobe_only_over_limit = False
        """``finish()`` took no Adobe-only action: more candidates than ``max_adobe_only_users`` allows."""
        self.excluded_keys: set[str] = set()
        """The match keys of the Adobe users ``exclude_*`` excluded: a secondary org's planner is told
        them (``finish``), since User Sync's exclusions are decided in the primary."""
        self._waiting_directory: dict[str, DirectoryRecord] = {}
        self._waiting_adobe: dict[str, AdobeUser] = {}
        self._waiting_excluded: dict[str, AdobeUser] = {}
        self._unmatched_by_username: dict[str, AdobeUser] = {}
        """Non-excluded Adobe users with a non-email username not matched (yet), by folded username:
        a directory user with that username in another domain must not replace one of them."""
        self._username_conflicts: set[str] = set()
        """Folded usernames held this run: nothing created, nothing removed (``_username_conflict``)."""
        self._matched: dict[str, _Match] = {}
        """While the directory is read: match key -> the user matched or created under it, so that
        a later entry with the same email or username merges into it instead of being a new user."""
        self._held: list[_Held | None] = []
        """The commands of matched users that remove groups (None: dropped), held while the
        directory is read (a later entry with the same email may still want those groups) and,
        with ``defer_group_removals``, until the run history guard has decided."""
        self._group_set_ids: dict[frozenset[str], int] = {}
        self._group_sets: list[frozenset[str]] = []
        """The group sets ``_matched`` refers to by number: its entries then hold no container, and
        the garbage collector stops tracking them."""
        self._directory_done = False
        self._adobe_done = False
        self._finished = False
        self._group_facts = lru_cache(maxsize=_CACHE_SIZE)(self._compute_group_facts)
        self._group_changes = lru_cache(maxsize=_CACHE_SIZE)(self._compute_group_changes)
        self._excluded_by_groups = lru_cache(maxsize=_CACHE_SIZE)(rules.exclusions.excludes_groups)
        self._mapped_groups_of = lru_cache(maxsize=_CACHE_SIZE)(self._compute_mapped_groups)
        self._mapped = lru_cache(maxsize=_CACHE_SIZE)(self._is_managed)
        self._with_chosen = lru_cache(maxsize=_CACHE_SIZE)(_with_chosen_groups)
        self.missing_directory_groups: list[str] = []
        """Mapped directory groups the directory does not have (``hold_missing_group``)."""
        self._held_targets: set[str] = set()
        self._group_set_counts: dict[frozenset[str], int] = {}
        """Directory users read per group set (few distinct sets: cheap to count, summed in ``group_members``)."""
        self._removals_wait_for_guard = False
        self._selected_group_sets: set[frozenset[str]] | None = set() if rules.mapping.additional else None
        """With ``additional_groups``: the distinct group sets of the selected directory users, from
        which ``directory_done()`` finds the targets produced in this run."""
        self._produced_targets: frozenset[str] | None = None
        """Folded Adobe groups the selected directory users map to, once the directory is read: with
        ``additional_groups``, only those of its targets are mapped (``_is_managed``)."""
        self._static_targets = {fold(name): name for name in rules.mapping.static_targets}
        self._push = rules.strategy is Strategy.PUSH
        self._update_user_info = rules.update_user_info
        self._process_groups = rules.process_groups
        self._user_filter = rules.user_filter
        exclusions = rules.exclusions
        self._excludes_accounts = bool(exclusions.identity_types or exclusions.username_patterns)
        self._excludes_groups = bool(exclusions.groups)
        self._keep_adobe_only = rules.adobe_only_action is AdobeOnlyAction.WRITE_FILE or rules.manages_adobe_only_users

    # --- the streaming interface -------------------------------------------------------------

    def add_directory_user(self, user: DirectoryRecord) -> list[UserCommand]:
        """Takes one directory record and returns the commands that may go at once: a matched pair's
        changes (those removing groups are held until ``directory_done()``), or a create once the Adobe
        read is done (at once with ``push``). A user without email is skipped with a warning; an
        ``UnreadableDirectoryUser`` protects its Adobe match. RuntimeError after ``directory_done()``."""
        if self._directory_done:
            raise RuntimeError("add_directory_user() after directory_done()")
        self.counters.directory_users_read += 1
        if type(user) is UnreadableDirectoryUser:
            return self._protect(user)
        group_set_counts = self._group_set_counts
        group_set_counts[user.groups] = group_set_counts.get(user.groups, 0) + 1
        if not user.email:
            self._warn(f"Skipping directory user {user.username!r}: no email address")
            return []
        if user.adobe_groups is not None:  # selected before the hook
            user = DirectoryUser(user.identity_type, user.username, user.domain, user.email, user.firstname,
                                 user.lastname, user.country, self._with_chosen(user.groups, user.adobe_groups),
                                 user.source_attributes, user.origin)
        elif not self._group_facts(user.groups)[1]:
            return []
        elif self._user_filter is not None and not self.rules.selects_username(user.username or user.email):
            return []
        self.counters.directory_users_selected += 1
        if self._selected_group_sets is not None:
            self._selected_group_sets.add(user.groups)
        if self._push:
            return self._create(user)
        keys = match_keys(user)
        matched = self._matched
        if matched:
            for key in keys:
                earlier = matched.get(key)
                if earlier is not None:
                    return self._merge_into_match(user, keys, earlier)
        adobe_user = _take(self._waiting_adobe, keys) if self._waiting_adobe else None
        if adobe_user is not None:
            if self._unmatched_by_username and self._unmatched_by_username.get(fold(adobe_user.username)) is adobe_user:
                del self._unmatched_by_username[fold(adobe_user.username)]
            return self._pair(user, adobe_user, keys)
        if self._waiting_excluded and _take(self._waiting_excluded, keys) is not None:
            _index(self._matched, keys, _unmanaged(user))
            return []
        if self._adobe_done:
            return self._create_while_reading(user, keys)
        if not _put(self._waiting_directory, user, keys):
            self._merge_into_waiting(user, keys)
        return []

    def add_adobe_user(self, user: AdobeUser) -> list[UserCommand]:
        """Takes one Adobe user and returns the commands of the pair it completes, if any. Excluded
        users (``exclude_*``) are counted and never changed; an unmatched one waits for the directory, or
        is Adobe-only once it is read. A user key seen twice is ignored with a warning. RuntimeError
        after ``adobe_done()``."""
        if self._adobe_done:
            raise RuntimeError("add_adobe_user() after adobe_done()")
        self.counters.adobe_users_read += 1
        excluded = ((self._excludes_accounts and self.rules.exclusions.excludes_account(user))
                    or (self._excludes_groups and self._excluded_by_groups(user.groups)))
        keys = match_keys(user)
        if excluded:
            self.counters.adobe_users_excluded += 1
            self.excluded_keys.update(keys)
        directory_user = _take(self._waiting_directory, keys) if self._waiting_directory else None
        if directory_user is not None:
            if excluded or type(directory_user) is UnreadableDirectoryUser:
                if not self._directory_done:
                    _index(self._matched, match_keys(directory_user), _unmanaged(directory_user))
                return []
            return self._pair(directory_user, user, keys)
        if not excluded and "@" not in user.username:
            self._unmatched_by_username.setdefault(fold(user.username), user)
        if self._directory_done:
            if not excluded:
                self._add_adobe_only(user)
            return []
        if not _put(self._waiting_excluded if excluded else self._waiting_adobe, user, keys):
            self._warn(f"Ignoring Adobe user with user key {user_key(user)}: listed twice")
        return []

    def directory_done(self) -> Iterator[UserCommand]:
        """From now on an Adobe user that matches nothing is Adobe-only. Yields the commands held
        back because they remove groups (each directory user's groups are complete now), built one
        at a time as they are taken, so a million of them never exist at once."""
        self._directory_done = True
        for user in _unique(self._waiting_adobe.values()):
            self._add_adobe_only(user)
        self._waiting_adobe.clear()
        self._waiting_excluded.clear()
        self._matched = {}
        self._group_set_ids = {}
        self._group_sets = []
        if self._selected_group_sets is not None:
            self._narrow_to_produced_targets(self._selected_group_sets)
            self._selected_group_sets = None
        if self._removals_wait_for_guard:
            return iter(())
        return self.release_group_removals()

    def adobe_done(self) -> list[UserCommand]:
        """Creates every selected directory user no Adobe user matched (and, from now on, at once)."""
        self._adobe_done = True
        commands = [command for user in _unique(self._waiting_directory.values()) if type(user) is DirectoryUser
                    for command in self._create_while_reading(user, match_keys(user))]
        self._waiting_directory.clear()
        return commands

    def finish(self, excluded_elsewhere: AbstractSet[str] = frozenset()) -> list[UserCommand]:
        """The Adobe-only actions. Call only when both reads completed successfully.
        ``excluded_elsewhere``: match keys of users excluded in the primary org (its planner's
        ``excluded_keys``), which a secondary org's planner leaves alone (counted as excluded).

        As User Sync counts them: the Adobe-only line of the summary appears whenever Adobe-only
        users are acted on or written to a file (``write-file``), and counts every candidate once
        the limit allows them, whether or not it needed a command (0 when nothing is acted on).
        With ``limits.group_removals_only`` the candidates (and the rows ``write-file`` writes) are
        only the users with mapped groups to remove, which needs ``--process-groups``."""
        if not (self._directory_done and self._adobe_done) or self._finished:
            raise RuntimeError("finish() needs directory_done() and adobe_done() first, and runs once")
        self._finished = True
        rules = self.rules
        if rules.strategy is Strategy.PUSH:
            return []
        if excluded_elsewhere:
            kept = [user for user in self.adobe_only_users if excluded_elsewhere.isdisjoint(match_keys(user))]
            self.counters.adobe_users_excluded += len(self.adobe_only_users) - len(kept)
            self.adobe_only_users = kept
        if rules.limit.group_removals_only:
            self.adobe_only_users = [user for user in self.adobe_only_users
                                     if self._process_groups and self._mapped_groups_of(user.groups)]
        if rules.manages_adobe_only_users or rules.adobe_only_action is AdobeOnlyAction.WRITE_FILE:
            self.counters.adobe_only_label = ADOBE_ONLY_LABELS.get(rules.adobe_only_action, GROUPS_PROCESSED_LABEL)
        if not rules.manages_adobe_only_users:
            return []
        candidates = self.adobe_only_users
        if self._username_conflicts:
            candidates = [user for user in candidates if fold(user.username) not in self._username_conflicts]
        considered = self.counters.adobe_users_read - self.counters.adobe_users_excluded
        if not rules.limit.allows(len(candidates), considered):
            self.adobe_only_over_limit = True
            self.messages.append((logging.CRITICAL,
                                  f"Unable to process Adobe-only users, as their count ({len(candidates)}) is larger "
                                  f"than the max_adobe_only_users setting ({rules.limit})"))
            return []
        self.counters.adobe_only_processed = len(candidates)
        commands = [command for user in candidates if (command := self._adobe_only_command(user)) is not None]
        self.adobe_only_changed = len(commands)
        return commands

    def add_listed_adobe_only_user(self, user: AdobeUser) -> None:
        """``--adobe-only-user-list``: a user from the list, taken as Adobe-only as listed. As in
        User Sync, it is not an Adobe user read (the counter stays 0, so a percentage
        ``max_adobe_only_users`` has a base of 0) and no ``exclude_*`` rule applies to it."""
        if not self._directory_done or self._adobe_done:
            raise RuntimeError("add_listed_adobe_only_user() goes between directory_done() and adobe_done()")
        if self._keep_adobe_only:
            self.adobe_only_users.append(user)

    def hold_missing_group(self, directory_group: str) -> None:
        """A mapped directory group the directory does not have (renamed or deleted): its Adobe
        groups are removed from nobody in this run. Call before the first directory user; the
        pipeline then holds back the Adobe-only actions and ends the run as a failed read."""
        self.missing_directory_groups.append(directory_group)
        targets = self.rules.mapping.targets_by_directory_group.get(fold(directory_group), ())
        self._held_targets.update(fold(target) for target in targets)
        self._static_targets = {folded: name for folded, name in self._static_targets.items()
                                if folded not in self._held_targets}
        for cache in (self._mapped, self._group_changes, self._mapped_groups_of):
            cache.cache_clear()

    def defer_group_removals(self) -> None:
        """From now on a matched user's command that removes mapped groups is held, whole, until the
        run history guard has decided: ``release_group_removals`` when the removals may go,
        ``hold_group_removals`` when not. Call before the reads. (Whole, not split: splitting
        doubled the commands and the planner's CPU on a busy million-user run.)"""
        self._removals_wait_for_guard = True

    @property
    def deferred_removal_count(self) -> int:
        """Matched users whose mapped-group removals are held."""
        return sum(1 for parts in self._held if parts is not None)

    def release_group_removals(self) -> Iterator[UserCommand]:
        """The held commands, as planned, built one at a time as they are taken, so a million of
        them never exist at once."""
        held, self._held = self._held, []
        return (_held_command(*parts) for parts in held if parts is not None)

    def hold_group_removals(self) -> list[UserCommand]:
        """The held commands without their group removals: the users' other changes still go.
        For a failed read or a run the history guard holds back."""
        kept = []
        for parts in self._held:
            if parts is None:
                continue
            before, update, add_groups, _ = parts
            if update or add_groups:
                kept.append(_held_command(before, update, add_groups, ()))
            else:
                self.counters.adobe_users_updated -= 1
        self._held = []
        return kept

    def group_members(self) -> dict[str, int]:
        """Directory users read per mapped directory group (folded name; 0 for a group nobody is in)."""
        members = dict.fromkeys(self.rules.mapping.targets_by_directory_group, 0)
        for groups, count in self._group_set_counts.items():
            for group in groups:
                folded = fold(group)
                if folded in members:
                    members[folded] += count
        return members

    def take_messages(self) -> list[Message]:
        """The messages collected since the last call, for logging as the run goes."""
        messages, self.messages = self.messages, []
        return messages

    # --- the rules -------------------------------------------------------------------------------

    def _compute_group_facts(self, groups: frozenset[str]) -> tuple[Mapping[str, str], bool]:
        """For a set of directory groups: the desired Adobe groups (folded -> spelling) and
        whether the set passes ``--users mapped``/``group``. Cached: many users share a set."""
        mapping = self.rules.mapping
        directory_groups: Iterable[str] = groups
        if _CHOSEN in groups:  # the extension hook chose the Adobe groups (see _with_chosen_groups)
            directory_groups = [group for group in groups if group[0] != _CHOSEN]
            desired: dict[str, str] = {}
            for name in sorted(group[1:] for group in groups if group[0] == _CHOSEN and group != _CHOSEN):
                desired.setdefault(fold(name), name)
        else:
            desired = mapping.targets_of(groups)
        for group in sorted(directory_groups):
            for rule in mapping.additional:
                added = rule.target_for(group)
                if added is not None:
                    desired.setdefault(fold(added), added)
        return desired, self.rules.selects_groups(fold(group) for group in directory_groups)

    def _pair(self, directory_user: DirectoryUser, adobe_user: AdobeUser, keys: tuple[str, ...]) -> list[UserCommand]:
        """The update and group changes of a matched pair. While the directory is still read, the
        pair is remembered under ``keys`` (either user's), and a command that removes groups is
        held until ``directory_done()``."""
        update = self._attribute_changes(directory_user, adobe_user) if self._update_user_info else _NO_UPDATE
        add_groups, remove_groups = (self._group_changes(directory_user.groups, adobe_user.groups)
                                     if self._process_groups else ((), ()))
        use_adobe_id = adobe_user.identity_type is _ADOBE_ID
        reading = not self._directory_done
        commands: list[UserCommand] = []
        held = -1
        if update or add_groups or remove_groups:
            self.counters.adobe_users_updated += 1
            if remove_groups and (reading or self._removals_wait_for_guard):
                held = len(self._held)
                self._held.append((adobe_user, update or None, add_groups, remove_groups))
            else:
                root, domain = command_root(adobe_user)
                commands.append(_new_command(root, domain, use_adobe_id, user_key(adobe_user), None, update, remove_groups,
                                             add_groups, adobe_user))
        if reading:
            ids = self._group_set_ids
            directory_groups, adobe_groups = directory_user.groups, adobe_user.groups
            directory_id = ids.get(directory_groups)
            if directory_id is None:
                directory_id = self._group_set_id(directory_groups)
            adobe_id = ids.get(adobe_groups)
            if adobe_id is None:
                adobe_id = self._group_set_id(adobe_groups)
            match = (directory_id, adobe_id, directory_user.origin, use_adobe_id, held)
            matched = self._matched
            for key in keys:
                matched[key] = match
        return commands

    def _group_set_id(self, groups: frozenset[str]) -> int:
        """The number of a group set in ``_group_sets``, added if new."""
        number = self._group_set_ids.get(groups)
        if number is None:
            number = self._group_set_ids[groups] = len(self._group_sets)
            self._group_sets.append(groups)
        return number

    def _create_while_reading(self, user: DirectoryUser, keys: tuple[str, ...]) -> list[UserCommand]:
        """``_create``, remembering the new user while the directory is read (see ``_pair``)."""
        commands = self._create(user)
        if not self._directory_done:
            if commands:
                (command,) = commands
                _index(self._matched, keys, (self._group_set_id(user.groups), self._group_set_id(frozenset(command.add_groups)),
                                             user.origin, command.use_adobe_id, -1))
            else:
                _index(self._matched, keys, _unmanaged(user))
        return commands

    def _merge_into_match(self, user: DirectoryUser, keys: tuple[str, ...], earlier: _Match) -> list[UserCommand]:
        """A second entry for a user already matched or created this run: as in User Sync, one user
        with the groups of both (the first entry gives the other values). A held command is redone
        with all the groups; one already sent gets the groups it lacked."""
        directory_id, adobe_id, origin, use_adobe_id, held = earlier
        self._warn_duplicate(origin, user)
        groups = self._group_sets[directory_id] if directory_id >= 0 else frozenset()
        merged = groups | user.groups
        if adobe_id < 0 or merged == groups:
            return []
        _index(self._matched, keys, (self._group_set_id(merged), adobe_id, origin, use_adobe_id, held))
        if not self._process_groups:
            return []
        adobe_groups = self._group_sets[adobe_id]
        add_groups, remove_groups = self._group_changes(merged, adobe_groups)
        if held >= 0:
            command = self._held[held]
            if command is not None:
                before, update, _, _ = command
                redone = (before, update, add_groups, remove_groups)
                if not (update or add_groups or remove_groups):
                    self.counters.adobe_users_updated -= 1
                self._held[held] = redone if update or add_groups or remove_groups else None
            return []
        already_added = self._group_changes(groups, adobe_groups)[0]
        missing = tuple(name for name in add_groups if name not in already_added)
        if not missing:
            return []
        root, domain = command_root(user)  # the same person: UMAPI finds the email (or username) ignoring case
        return [UserCommand(user=root, domain=domain, use_adobe_id=use_adobe_id, add_groups=missing, key=user_key(user))]

    def _merge_into_waiting(self, user: DirectoryRecord, keys: tuple[str, ...]) -> None:
        """A second entry for a user still waiting for its Adobe match: one user with the groups of
        both; when either could not be read, the user is unreadable (and protected)."""
        earlier = next(self._waiting_directory[key] for key in keys if key in self._waiting_directory)
        self._warn_duplicate(earlier.where if type(earlier) is UnreadableDirectoryUser else earlier.origin, user)
        if type(earlier) is UnreadableDirectoryUser:
            return
        merged: DirectoryRecord = user if type(user) is UnreadableDirectoryUser else replace(
            earlier, groups=earlier.groups | user.groups)
        for key in match_keys(earlier):
            if self._waiting_directory.get(key) is earlier:
                self._waiting_directory[key] = merged

    def _warn_duplicate(self, earlier_origin: str, user: DirectoryRecord) -> None:
        origin = user.where if type(user) is UnreadableDirectoryUser else user.origin
        self._warn(f"Directory entries {earlier_origin!r} and {origin!r} have the same email or username "
                   f"({user.email}): they are taken as one user, with the groups of both")

    def _compute_group_changes(self, directory_groups: frozenset[str], adobe_groups: frozenset[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Groups to add (desired - current) and to remove ((current - desired) & mapped), ignoring case."""
        desired, _ = self._group_facts(directory_groups)
        current = {fold(group): group for group in adobe_groups}
        add = tuple(sorted(name for folded, name in desired.items() if folded not in current))
        remove = tuple(sorted(name for folded, name in current.items() if folded not in desired and self._mapped(folded)))
        return add, remove

    def _attribute_changes(self, directory_user: DirectoryUser, adobe_user: AdobeUser) -> Mapping[str, str]:
        """Attributes the directory has changed, limited to ``update_attributes`` (Adobe IDs belong
        to their owners and are never updated)."""
        if adobe_user.identity_type is _ADOBE_ID or (
                directory_user.email == adobe_user.email and directory_user.firstname == adobe_user.firstname
                and directory_user.lastname == adobe_user.lastname and directory_user.username == adobe_user.username):
            return _NO_UPDATE
        differences = [(attribute, wanted) for attribute, wanted, current in (
            ("email", directory_user.email, adobe_user.email),
            ("firstname", directory_user.firstname, adobe_user.firstname),
            ("lastname", directory_user.lastname, adobe_user.lastname),
            ("username", directory_user.username, adobe_user.username),
        ) if wanted and wanted != current and not _same(attribute, wanted, current)]
        changes: dict[str, str] = {}
        for attribute, wanted in differences:
            if attribute in self.rules.update_attributes:
                changes[attribute] = wanted
            else:
                self._warn(f"User key {user_key(adobe_user)}: {attribute} differs from the directory's "
                           f"but is not updated, as it is not in update_attributes")
        return changes

    def _create(self, user: DirectoryUser) -> list[UserCommand]:
        if self._unmatched_by_username and "@" not in user.username and self._username_conflict(user):
            return []
        rules = self.rules
        desired, _ = self._group_facts(user.groups)
        if (rules.exclude_unmapped_users or rules.secondary) and not desired:
            return []
        country = user.country or rules.default_country_code
        if not country:
            if user.identity_type is not _ENTERPRISE_ID:
                # User Sync: only Enterprise IDs may go without a country ("UD"); others are not created
                where = f" ({user.origin})" if user.origin else ""
                self.messages.append((logging.ERROR, f"User cannot be added without a specified country code: "
                                                     f"{user_key(user)}{where}; give one in the directory or set "
                                                     f"default_country_code"))
                return []
            country = "UD"
        add_groups: tuple[str, ...] = ()
        remove_groups: tuple[str, ...] = ()
        if rules.process_groups:
            add_groups = tuple(sorted(desired.values()))
            if rules.strategy is Strategy.PUSH:
                remove_groups = tuple(sorted(name for folded, name in self._static_targets.items() if folded not in desired))
        create = CreateUser(
            identity_type=user.identity_type, email=user.email, firstname=user.firstname, lastname=user.lastname,
            country=country,
            on_conflict="updateIfAlreadyExists" if rules.update_user_info else "ignoreIfAlreadyExists",
        )
        root, domain = command_root(user)
        if user.identity_type is _FEDERATED_ID and "@" in user.username:
            root = user.username  # as User Sync sends it; an org that requires the email refuses it for this user
        self.counters.adobe_users_created += 1
        return [_new_command(root, domain, user.identity_type is _ADOBE_ID, user_key(user), create=create,
                             remove_groups=remove_groups, add_groups=add_groups)]

    def _username_conflict(self, user: DirectoryUser) -> bool:
        """Whether an Adobe user no directory user matched has this new user's (non-email) username
        in another domain (e.g. its email moved to ``mail.school.example``). Creating one and
        removing the other would cost the person their account and its content, so neither is
        done this run and a warning names both and the settings that decide it."""
        adobe_user = self._unmatched_by_username.get(fold(user.username))
        if adobe_user is None or fold(adobe_user.domain or "") == fold(user.domain or ""):
            return False
        self._username_conflicts.add(fold(user.username))
        self._warn(f"Directory user with user key {user_key(user)} and Adobe user with user key {user_key(adobe_user)} "
                   f"share the username {user.username} in different domains: neither is created nor removed in "
                   f"this run. If they are one person, give the directory user the domain "
                   f"{adobe_user.domain} (user_domain_format in connector-ldap.yml, or a domain column in the CSV)")
        return True

    def _protect(self, user: UnreadableDirectoryUser) -> list[UserCommand]:
        """A person the directory returned but whose record could not be built: the Adobe user
        found by the keys that could be read gets no change this run and is never Adobe-only;
        nothing is created."""
        self.messages.append((logging.ERROR, f"Directory user {user.where} cannot be read ({user.problem}): "
                                             f"no change for them this run; their Adobe account keeps everything it has"))
        keys = match_keys(user)
        earlier = _find(self._matched, keys) if self._matched else None
        if earlier is not None:  # an entry with the same email was matched: its held command goes too
            self._warn_duplicate(earlier[2], user)
            if earlier[4] >= 0:
                self._held[earlier[4]] = None
        elif ((self._waiting_adobe and _take(self._waiting_adobe, keys) is not None)
              or (self._waiting_excluded and _take(self._waiting_excluded, keys) is not None)):
            pass
        elif not self._adobe_done:
            if not _put(self._waiting_directory, user, keys):
                self._merge_into_waiting(user, keys)
            return []
        _index(self._matched, keys, (-1, -1, user.where, False, -1))
        return []

    def _add_adobe_only(self, user: AdobeUser) -> None:
        if self.rules.adobe_only_action is AdobeOnlyAction.EXCLUDE:
            self.counters.adobe_users_excluded += 1
        elif self._keep_adobe_only:
            self.adobe_only_users.append(user)

    def _is_managed(self, folded_group: str) -> bool:
        """Whether a (folded) Adobe group may be removed: mapped, and not held by a missing group.

        An ``additional_groups`` target is mapped only when a selected directory user produced it in
        this run, as in User Sync: until the directory is read, any group fitting a target pattern
        may be one (the commands removing groups are held until then and narrowed by
        ``_narrow_to_produced_targets``)."""
        if folded_group in self._held_targets:
            return False
        if self._produced_targets is not None and folded_group not in self._static_targets:
            return folded_group in self._produced_targets
        return self.rules.mapping.may_be_mapped(folded_group)

    def _narrow_to_produced_targets(self, selected_group_sets: Iterable[frozenset[str]]) -> None:
        """The directory is read: the ``additional_groups`` targets mapped in this run are known, so
        the held commands keep only the removals of mapped groups (one left with no change is dropped)."""
        produced: set[str] = set()
        for groups in selected_group_sets:
            produced.update(self._group_facts(groups)[0])
        self._produced_targets = frozenset(produced)
        for cache in (self._mapped, self._group_changes, self._mapped_groups_of):
            cache.cache_clear()
        mapped = self._mapped
        held = self._held
        for index, parts in enumerate(held):
            if parts is None:
                continue
            before, update, add_groups, remove_groups = parts
            kept = tuple(name for name in remove_groups if mapped(fold(name)))
            if len(kept) == len(remove_groups):
                continue
            if update or add_groups or kept:
                held[index] = (before, update, add_groups, kept)
            else:
                held[index] = None
                self.counters.adobe_users_updated -= 1

    def _compute_mapped_groups(self, adobe_groups: frozenset[str]) -> tuple[str, ...]:
        return tuple(sorted(group for group in adobe_groups if self._mapped(fold(group))))

    def _adobe_only_command(self, user: AdobeUser) -> UserCommand | None:
        action = self.rules.adobe_only_action
        changes: dict[str, Any]
        if action is AdobeOnlyAction.REMOVE_ADOBE_GROUPS:
            changes = {"remove_groups": "all"}
        elif action is AdobeOnlyAction.REMOVE:
            changes = {"remove_from_org": True}
        elif action is AdobeOnlyAction.DELETE:
            changes = {"remove_from_org": True,
                       "delete_account": user.identity_type is not _ADOBE_ID and not self.rules.secondary}
        else:
            mapped_groups = self._mapped_groups_of(user.groups)
            if not mapped_groups:
                return None
            changes = {"remove_groups": mapped_groups}
        root, domain = command_root(user)
        return UserCommand(user=root, domain=domain, use_adobe_id=user.identity_type is _ADOBE_ID, key=user_key(user),
                           before=user, **changes)

    def _warn(self, text: str) -> None:
        self.messages.append((logging.WARNING, text))


def _same(attribute: str, wanted: str, current: str | None) -> bool:
    """Emails and usernames compare ignoring case (UMAPI cannot change their case); names exactly."""
    if attribute in ("email", "username"):
        return fold(wanted) == fold(current or "")
    return wanted == current


def _with_chosen_groups(groups: frozenset[str], chosen: frozenset[str]) -> frozenset[str]:
    """The planner's group set of a user the extension hook ran for: its directory groups, the
    ``_CHOSEN`` mark and the chosen Adobe groups, each prefixed with the mark."""
    return groups | {_CHOSEN} | {_CHOSEN + name for name in chosen}


def _take(index: dict[str, AnyUser], keys: tuple[str, ...]) -> AnyUser | None:
    """Removes and returns the user of ``index`` found by any of ``keys``, or None."""
    for key in keys:
        found = index.pop(key, None)
        if found is not None:
            if found.username and found.username != found.email:  # indexed under a second key too
                for found_key in match_keys(found):
                    index.pop(found_key, None)
            return found
    return None


def _held_command(before: AdobeUser, update: Mapping[str, str] | None, add_groups: tuple[str, ...],
                  remove_groups: tuple[str, ...]) -> UserCommand:
    root, domain = command_root(before)
    return _new_command(root, domain, before.identity_type is _ADOBE_ID, user_key(before), None, update or _NO_UPDATE,
                        remove_groups, add_groups, before)


def _find(index: dict[str, _Match], keys: tuple[str, ...]) -> _Match | None:
    for key in keys:
        found = index.get(key)
        if found is not None:
            return found
    return None


def _index(index: dict[str, _Match], keys: tuple[str, ...], match: _Match) -> None:
    for key in keys:
        index[key] = match


def _unmanaged(user: DirectoryRecord) -> _Match:
    """The match of a user this run changes nothing for (its Adobe user is excluded, or it could not be read)."""
    return (-1, -1, user.where if type(user) is UnreadableDirectoryUser else user.origin, False, -1)


def _put(index: dict[str, AnyUser], user: AnyUser, keys: tuple[str, ...]) -> bool:
    """Indexes ``user`` under each of its ``keys``; False (and nothing indexed) if a key is taken."""
    for key in keys:
        if key in index:
            return False
    for key in keys:
        index[key] = user
    return True


def _unique(users: Iterable[AnyUser]) -> list[AnyUser]:
    """The distinct users of an index's values (a user is there once per key), in arrival order."""
    return list({id(user): user for user in users}.values())
