"""Why the planner plans what it plans (issue 18): the rule behind each step of a command, and a
stable fingerprint of what each side held for a user.

The planner itself keeps no reasons: a sync never pays for them. A plan (``async-usersync plan``,
``apply``, ``explain``) runs a ``ReviewPlanner``, the same planner that also keeps every record it is
given, and asks this module afterwards, for each command, which rule produced each step. Plain,
synchronous and side-effect free, like the rest of the engine.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import AbstractSet, Any, Iterable

from async_usersync.engine.planner import SyncPlanner, match_keys, user_key
from async_usersync.engine.rules import Strategy, SyncRules, fold
from async_usersync.records import AdobeUser, DirectoryRecord, DirectoryUser, UnreadableDirectoryUser, UserCommand


@dataclass(frozen=True)
class Change:
    """One step of a command, with the rule that produced it.

    ``op``: ``create``, ``update`` (``target`` the attribute, ``value`` the new value, ``was`` the
    Adobe one), ``add`` or ``remove`` (``target`` the group), ``remove-all-groups``,
    ``remove-from-org`` or ``delete``."""
    op: str
    target: str
    reason: str
    value: str | None = None
    was: str | None = None


class ReviewPlanner(SyncPlanner):
    """The planner of a plan, an apply or an explain: plans exactly as ``SyncPlanner`` does and also
    keeps every directory record and Adobe user it is given (by match key), the users it took as
    Adobe-only, and the match keys of the excluded ones, so each command can be explained and each
    user fingerprinted afterwards. Never used by a sync (it holds every user in memory)."""

    def __init__(self, rules: SyncRules) -> None:
        super().__init__(rules)
        self.directory_records: dict[str, list[DirectoryRecord]] = {}
        self.adobe_records: dict[str, AdobeUser] = {}
        self.adobe_only_roots: set[str] = set()
        """Lookup keys (``lookup_key``) of the commands ``finish()`` made."""

    def add_directory_user(self, user: DirectoryRecord) -> list[UserCommand]:
        """``SyncPlanner.add_directory_user``, keeping the record (entries with one email are kept together)."""
        for key in match_keys(user):
            self.directory_records.setdefault(key, []).append(user)
        return super().add_directory_user(user)

    def add_adobe_user(self, user: AdobeUser) -> list[UserCommand]:
        """``SyncPlanner.add_adobe_user``, keeping the user."""
        for key in match_keys(user):
            self.adobe_records.setdefault(key, user)
        return super().add_adobe_user(user)

    def finish(self, excluded_elsewhere: AbstractSet[str] = frozenset()) -> list[UserCommand]:
        """``SyncPlanner.finish``, noting which commands are Adobe-only actions."""
        commands = super().finish(excluded_elsewhere)
        self.adobe_only_roots.update(lookup_key(command) for command in commands)
        return commands

    def records_of(self, command: UserCommand) -> tuple[list[DirectoryRecord], AdobeUser | None]:
        """The directory entries and the Adobe user a command is about (either may be missing): the
        Adobe user by the command's root, the entries by any key of that user (a directory user whose
        email changes matches by its username), or by the root for a create."""
        key = lookup_key(command)
        adobe_user = self.adobe_records.get(key)
        for match_key in match_keys(adobe_user) if adobe_user is not None else (key,):
            entries = self.directory_records.get(match_key)
            if entries:
                return entries, adobe_user
        return [], adobe_user

    def fingerprints(self, command: UserCommand) -> dict[str, str | None]:
        """``{"directory": ..., "adobe": ...}``: the fingerprints of what each side holds for the
        user of ``command`` (None: nothing)."""
        entries, adobe_user = self.records_of(command)
        return {"directory": directory_fingerprint(entries), "adobe": adobe_fingerprint(adobe_user)}

    def explain(self, command: UserCommand) -> list[Change]:
        """The steps of ``command``, each with its reason."""
        entries, adobe_user = self.records_of(command)
        return explain_command(self.rules, command, [entry for entry in entries if type(entry) is DirectoryUser],
                               adobe_user, lookup_key(command) in self.adobe_only_roots)


def lookup_key(command: UserCommand) -> str:
    """The match key (``planner.match_keys``) a command's root is found by: the email, or a
    non-email username with its domain, folded."""
    if command.domain is not None and "@" not in command.user:
        return f"{command.user},{command.domain}".lower()
    return command.user.lower()


def _digest(values: object) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:32]


def directory_fingerprint(entries: Iterable[DirectoryRecord]) -> str | None:
    """A stable hash of what the planner uses of a user's directory entries (identity type, names,
    email, country, groups, the groups an extension hook chose; an unreadable entry by its problem),
    or None when there is none. The same entries give the same hash in any order, in any run."""
    shapes: list[list[Any]] = []
    for entry in entries:
        if type(entry) is UnreadableDirectoryUser:
            shapes.append(["unreadable", entry.email, entry.username, entry.domain, entry.problem])
        else:
            assert type(entry) is DirectoryUser
            shapes.append([entry.identity_type.value, entry.username, entry.domain, entry.email, entry.firstname,
                           entry.lastname, entry.country, sorted(entry.groups),
                           None if entry.adobe_groups is None else sorted(entry.adobe_groups)])
    return _digest(sorted(shapes, key=json.dumps)) if shapes else None


def adobe_fingerprint(user: AdobeUser | None) -> str | None:
    """A stable hash of what the planner uses of an Adobe user (identity type, names, email,
    country, groups ignoring their order), or None when there is none."""
    if user is None:
        return None
    return _digest([user.identity_type.value, user.username, user.domain, user.email, user.firstname,
                    user.lastname, user.country, sorted(user.groups)])


def group_sources(rules: SyncRules, user: DirectoryUser) -> dict[str, tuple[str, str]]:
    """The Adobe groups a directory user is given (folded -> (spelling, the rule that gives it)):
    the extension hook's choice or the ``directory_users.groups`` mapping, then ``additional_groups``,
    in the planner's order (``SyncPlanner._compute_group_facts``)."""
    mapped: dict[str, tuple[str, str]] = {}
    for directory_group in sorted(user.groups, key=fold):
        for target in rules.mapping.targets_by_directory_group.get(fold(directory_group), ()):
            mapped.setdefault(fold(target), (target, f'directory group "{directory_group}" maps to "{target}" '
                                                     f"(directory_users.groups)"))
    sources: dict[str, tuple[str, str]] = mapped
    if user.adobe_groups is not None:
        sources = {}
        for name in sorted(user.adobe_groups):
            given = mapped.get(fold(name))
            sources.setdefault(fold(name), (name, f"{given[1]}, kept by the extension hook" if given is not None
                                            else "the extension hook (after_mapping_hook) added it"))
    for directory_group in sorted(user.groups):
        for rule in rules.mapping.additional:
            added = rule.target_for(directory_group)
            if added is not None:
                sources.setdefault(fold(added), (added, f'directory group "{directory_group}" matches '
                                                        f'additional_groups source "{rule.source.pattern}" '
                                                        f'(target "{rule.target}")'))
    return sources


def mapping_rule_of(rules: SyncRules, group: str) -> str:
    """Which rule makes an Adobe group a mapped one (so that it may be removed)."""
    folded = fold(group)
    sources = sorted(name for name, targets in rules.mapping.targets_by_directory_group.items()
                     if any(fold(target) == folded for target in targets))
    if sources:
        return f'mapped from directory group{"s" if len(sources) > 1 else ""} {", ".join(f"{name!r}" for name in sources)}'
    if any(fold(name) == folded for name in rules.mapping.extended):
        return "listed in extended_adobe_groups"
    for rule in rules.mapping.additional:
        if rule.target_pattern.fullmatch(folded):
            return f'a target of additional_groups source "{rule.source.pattern}"'
    return "mapped"


def exclusion_of(rules: SyncRules, user: AdobeUser) -> str:
    """Which ``adobe_users.exclude_*`` rule excludes an Adobe user (the first that does)."""
    exclusions = rules.exclusions
    if user.identity_type in exclusions.identity_types:
        return f"exclude_identity_types lists {user.identity_type.value}"
    for pattern in exclusions.username_patterns:
        if pattern.fullmatch(user.username):
            return f'exclude_users pattern "{pattern.pattern}" matches its username'
    groups = sorted(group for group in user.groups if fold(group) in exclusions.groups)
    if groups:
        return f'exclude_adobe_groups lists its group "{groups[0]}"'
    return "the primary org excludes it"


def explain_command(rules: SyncRules, command: UserCommand, entries: list[DirectoryUser], adobe_user: AdobeUser | None,
                    adobe_only: bool) -> list[Change]:
    """The steps of a command with their reasons, from the rules, the user's directory entries
    (merged as the planner merges them) and Adobe user. ``adobe_only``: ``finish()`` made it."""
    changes: list[Change] = []
    action = rules.adobe_only_action.value
    if adobe_only:
        why = f"Adobe-only user (no selected directory user matches it): --adobe-only-user-action {action}"
        if command.remove_from_org:
            changes.append(Change("delete" if command.delete_account else "remove-from-org", command.user, why))
        elif command.remove_groups == "all":
            changes.append(Change("remove-all-groups", command.user, why))
        else:
            for group in command.remove_groups:
                changes.append(Change("remove", group, f"Adobe-only user (no selected directory user matches it): "
                                                       f'"{group}" is {mapping_rule_of(rules, group)} (--process-groups)'))
        return changes
    merged = _merged(entries)
    given = group_sources(rules, merged) if merged is not None else {}
    origin = f" ({merged.origin})" if merged is not None and merged.origin else ""
    if command.create is not None:
        country = command.create.country
        source = ("default_country_code" if merged is not None and not merged.country and country != "UD"
                  else "no country: an Enterprise ID without one" if country == "UD" else "the directory")
        reason = ("--strategy push sends every selected directory user as a create" if rules.strategy is Strategy.PUSH
                  else f"directory user{origin} has no Adobe account")
        changes.append(Change("create", command.user, f"{reason}; country {country} from {source}",
                              value=command.create.identity_type.value))
    for attribute, value in command.update.items():
        current = getattr(adobe_user, attribute, None) if adobe_user is not None else None
        changes.append(Change("update", attribute, f"the directory{origin} differs (--update-user-info; {attribute} "
                                                   f"is in update_attributes)", value=value, was=current))
    for group in command.add_groups:
        rule = given.get(fold(group), (group, "mapped"))[1]
        changes.append(Change("add", group, f"{rule} (--process-groups)"))
    hooked = merged is not None and merged.adobe_groups is not None
    if command.remove_groups != "all":
        for group in command.remove_groups:
            why = ("--strategy push removes the mapped groups a user is not given" if rules.strategy is Strategy.PUSH
                   else "the extension hook (after_mapping_hook) did not give it" if hooked
                   else "none of the user's directory groups gives it")
            changes.append(Change("remove", group, f'"{group}" is {mapping_rule_of(rules, group)} and {why} '
                                                   f"(--process-groups)"))
    return changes


def _merged(entries: list[DirectoryUser]) -> DirectoryUser | None:
    """One user from its entries as the planner merges them: the first one's values, every one's groups."""
    if not entries:
        return None
    first = entries[0]
    if len(entries) == 1:
        return first
    groups = frozenset().union(*(entry.groups for entry in entries))
    chosen = None if first.adobe_groups is None else frozenset().union(
        *(entry.adobe_groups or frozenset() for entry in entries))
    return DirectoryUser(first.identity_type, first.username, first.domain, first.email, first.firstname,
                         first.lastname, first.country, groups, first.source_attributes, first.origin, chosen)


def explain_user(rules: SyncRules, entries: list[DirectoryRecord], adobe_user: AdobeUser | None,
                 commands: list[UserCommand], excluded: bool, adobe_only: bool, over_limit: bool) -> list[str]:
    """``async-usersync explain``: for one user, each group and attribute kept, added or removed
    and why, as lines of text. ``commands``: the user's commands in this org; ``excluded``: an
    ``exclude_*`` rule keeps the Adobe user; ``adobe_only``: no selected directory user matched it;
    ``over_limit``: ``max_adobe_only_users`` held the Adobe-only actions back."""
    readable = [entry for entry in entries if type(entry) is DirectoryUser]
    lines: list[str] = []
    merged = _merged(readable)
    if not entries:
        lines.append("directory: not found (by email or username)")
    elif merged is None:
        problems = "; ".join(entry.problem for entry in entries if type(entry) is UnreadableDirectoryUser)
        lines.append(f"directory: cannot be read ({problems}): its Adobe account gets no change")
    else:
        lines.append(f"directory: {user_key(merged)} ({merged.origin or 'no origin'}), groups "
                     f"{sorted(merged.groups) or '[]'}")
    lines.append(f"adobe: {user_key(adobe_user)}, groups {sorted(adobe_user.groups) or '[]'}" if adobe_user is not None
                 else "adobe: no Adobe account")
    if excluded:
        lines.append(f"excluded: {exclusion_of(rules, adobe_user) if adobe_user is not None else 'excluded'}, so this "
                     f"Adobe user is never changed or removed")
        return lines
    is_selected = merged is not None and selected(rules, merged)
    if merged is not None and not is_selected:
        lines.append("not selected: the user is not in the groups --users reads, or --user-filter leaves them out; "
                     "nothing is planned for them from the directory")
    changes = [change for command in commands
               for change in explain_command(rules, command, readable if is_selected else [], adobe_user, adobe_only)]
    if adobe_only and adobe_user is not None:
        if over_limit:
            lines.append(f"Adobe-only: held back, as more Adobe-only users than max_adobe_only_users "
                         f"({rules.limit}) would be acted on")
        elif not changes:
            lines.append(f"Adobe-only: --adobe-only-user-action {rules.adobe_only_action.value} takes no action for it")
    touched = {(change.op, fold(change.target)) for change in changes}
    for change in changes:
        lines.append(_change_text(change))
    if adobe_user is not None and merged is not None and is_selected:
        given = group_sources(rules, merged)
        for group in sorted(adobe_user.groups, key=fold):
            if ("remove", fold(group)) in touched:
                continue
            if fold(group) in given:
                lines.append(f'keep group "{group}": {given[fold(group)][1]}')
            else:
                lines.append(f'keep group "{group}": not mapped, so never removed'
                             if rules.process_groups else f'keep group "{group}": groups change only with --process-groups')
        for attribute in ("email", "firstname", "lastname", "username"):
            if ("update", attribute) not in touched:
                lines.append(f"keep {attribute} {getattr(adobe_user, attribute)!r}")
    return lines


def selected(rules: SyncRules, user: DirectoryUser) -> bool:
    """Whether ``--users`` and ``--user-filter`` select this directory user (as ``add_directory_user``)."""
    if user.adobe_groups is not None:  # selected before the hook ran
        return True
    return rules.selects_groups(fold(group) for group in user.groups) and rules.selects_username(user.username or user.email)


def _change_text(change: Change) -> str:
    if change.op == "create":
        return f"create as {change.value}: {change.reason}"
    if change.op == "update":
        return f"update {change.target} {change.was!r} -> {change.value!r}: {change.reason}"
    if change.op in ("add", "remove"):
        return f'{change.op} group "{change.target}": {change.reason}'
    return f"{change.op}: {change.reason}"

