"""Packing many users' membership changes of one user group into entries rooted at the group.

UMAPI takes entries rooted at a user group (``{"usergroup": NAME, "do": [{"add": {"user": [...]}}]}``,
usergroupActionCommands page): up to 10 users a step and 10 steps an entry, so one entry moves up to
100 users where a user-rooted entry moves one. ``HeldMemberships`` keeps the commands that only add or
remove groups of an existing user (``is_packable``) until the stream of commands ends; ``plan`` then
turns each user group that at least ``PACK_MIN_USERS`` users gain (or lose) into group entries, and
gives back the rest of each command to be sent in user entries as before.

Ordering rule (one mechanism): a held change is sent only after every user entry of the stream has
been answered, and it is sent in exactly one place (a group entry, or the user's own entry). So a
user's create, update or removal from the org, and anything else sent while the stream ran, never
races with a group entry naming that user. A later command for a user whose changes are held, that
cannot be held itself, first releases the held ones to go out ahead of it as user entries, in the
order the planner made them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Iterable, Iterator, Mapping, TypeVar

from async_usersync.records import UserCommand
from async_usersync.umapi.entries import RequestIds

Owner = TypeVar("Owner")
"""What the sink keeps per command to report it (its outcome); opaque here."""

PACK_MIN_USERS = 10
"""A user group is packed for a verb when at least this many users gain it (or lose it): a full step.
Fewer gain nothing over user entries, which carry all of one user's groups in one entry."""
MAX_GROUP_MEMBERS_FOR_ADD = 200_000
"""UMAPI refuses ``add`` on a user group with more members (usergroupActionCommands page)."""


@dataclass(frozen=True, slots=True)
class GroupFacts:
    """What the group listing (GET groups) says of one group that matters for packing."""

    name: str
    user_group: bool
    """``type`` is ``USER_GROUP`` (product profiles cannot be an entry's root)."""
    read_only: bool
    """``isReadOnly``: shared from another org; its user memberships cannot change this way."""
    members: int
    """``memberCount``."""


def group_facts(listing: Iterable[Mapping[str, Any]]) -> dict[str, GroupFacts]:
    """Group objects as GET groups lists them -> ``GroupFacts`` by case-folded ``groupName``.
    ``isReadOnly`` is documented on the user-groups listing (getUserGroups page); a listing that
    leaves it out is taken as not read-only, and a refusal still falls back to user entries."""
    facts: dict[str, GroupFacts] = {}
    for group in listing:
        name = group.get("groupName")
        if not isinstance(name, str) or not name:
            continue
        members = group.get("memberCount")
        facts[name.casefold()] = GroupFacts(name, group.get("type") == "USER_GROUP", group.get("isReadOnly") is True,
                                            members if isinstance(members, int) else 0)
    return facts


def is_packable(command: UserCommand) -> bool:
    """Whether ``command`` only adds or removes named groups of an existing user addressed by email
    (no create, update, ``remove all`` or removal from the org; no non-email username, no Adobe ID
    flag): only such changes can go in group entries, whose steps name users by email."""
    return (command.create is None and not command.update and not command.remove_from_org
            and command.remove_groups != "all" and command.domain is None and not command.use_adobe_id
            and bool(command.add_groups or command.remove_groups))


def memberships(command: UserCommand) -> int:
    """How many (verb, group) changes a packable command holds."""
    return len(command.add_groups) + len(command.remove_groups)


def _changes(command: UserCommand) -> Iterator[tuple[str, str]]:
    """A packable command's changes as (verb, group name): removals first, as in its user entry."""
    for verb, groups in (("remove", command.remove_groups), ("add", command.add_groups)):
        for group in groups:
            yield verb, group


@dataclass(slots=True)
class GroupStep(Generic[Owner]):
    """One ``add`` or ``remove`` step of a group entry: the users (emails) and whose change each is."""

    verb: str
    group: str
    users: list[tuple[str, Owner]]


@dataclass(slots=True)
class GroupEntry(Generic[Owner]):
    """One entry rooted at a user group, with what its steps carry (same order as ``entry["do"]``)."""

    entry: dict[str, Any]
    steps: list[GroupStep[Owner]]


@dataclass(slots=True)
class Plan(Generic[Owner]):
    """``group_entries`` to post, and ``rest``: for each held command with changes left out of them,
    the command that sends those in a user entry, its owner, and how many changes it carries."""

    group_entries: list[GroupEntry[Owner]] = field(default_factory=list)
    rest: list[tuple[UserCommand, Owner, int]] = field(default_factory=list)


class HeldMemberships(Generic[Owner]):
    """The packable commands of one run, by user, in the order they came."""

    def __init__(self) -> None:
        self._by_user: dict[str, list[tuple[UserCommand, Owner]]] = {}
        self._count = 0

    def __len__(self) -> int:
        """Commands held."""
        return self._count

    def hold(self, command: UserCommand, owner: Owner) -> None:
        """Keeps a packable command (see ``is_packable``) until ``plan``."""
        self._by_user.setdefault(command.user.casefold(), []).append((command, owner))
        self._count += 1

    def release(self, user: str) -> list[tuple[UserCommand, Owner]]:
        """The commands held for ``user`` (an entry root), taken out: they go in user entries now."""
        released = self._by_user.pop(user.casefold(), [])
        self._count -= len(released)
        return released

    def take_all(self) -> list[tuple[UserCommand, Owner]]:
        """Every held command, taken out (an interrupted run reports them not sent)."""
        held = [item for items in self._by_user.values() for item in items]
        self._by_user.clear()
        self._count = 0
        return held

    def worth_packing(self) -> bool:
        """Whether some group is gained (or lost) by at least ``PACK_MIN_USERS`` held users, so that
        reading the group listing can pay."""
        counts: dict[tuple[str, str], int] = {}
        for items in self._by_user.values():
            for command, _ in items:
                for verb, group in _changes(command):
                    key = (verb, group.casefold())
                    counts[key] = counts.get(key, 0) + 1
                    if counts[key] >= PACK_MIN_USERS:
                        return True
        return False

    def plan(self, facts: Mapping[str, GroupFacts], request_ids: RequestIds, max_steps: int = 10,
             max_names: int = 10) -> Plan[Owner]:
        """Takes every held command out and splits it: changes of a user group that ``facts`` lists as
        a writable user group (not read-only; for ``add``, at most ``MAX_GROUP_MEMBERS_FOR_ADD``
        members) and that at least ``PACK_MIN_USERS`` users share for one verb go in group entries
        (``max_names`` users a step, ``max_steps`` steps an entry, each entry with the next of
        ``request_ids``); the rest of each command is returned to go in user entries. A user named
        twice for one group (two commands) stays in user entries, as UMAPI refuses a duplicate in a
        list."""
        held = self.take_all()
        users: dict[tuple[str, str], list[str]] = {}  # (verb, folded group) -> folded users, in order
        seen: dict[tuple[str, str], int] = {}  # (folded group, folded user) -> times named
        for command, _ in held:
            user = command.user.casefold()
            for verb, group in _changes(command):
                folded = group.casefold()
                seen[(folded, user)] = seen.get((folded, user), 0) + 1
                users.setdefault((verb, folded), []).append(user)
        steps: dict[tuple[str, str], list[tuple[str, Owner]]] = {  # in the order the groups came
            key: [] for key, names in users.items() if _packable_group(key, names, facts)}
        plan: Plan[Owner] = Plan()
        for command, owner in held:
            user = command.user.casefold()
            left: dict[str, list[str]] = {"remove": [], "add": []}
            for verb, group in _changes(command):
                key = (verb, group.casefold())
                if key in steps and seen[(key[1], user)] == 1:
                    steps[key].append((command.user, owner))
                else:
                    left[verb].append(group)
            if left["remove"] or left["add"]:
                rest = UserCommand(user=command.user, remove_groups=tuple(left["remove"]),
                                   add_groups=tuple(left["add"]), key=command.key)
                plan.rest.append((rest, owner, len(left["remove"]) + len(left["add"])))
        by_group: dict[str, list[GroupStep[Owner]]] = {}
        for (verb, folded), members in steps.items():
            name = facts[folded].name
            by_group.setdefault(folded, []).extend(
                GroupStep(verb, name, members[start:start + max_names]) for start in range(0, len(members), max_names))
        for folded, group_steps in by_group.items():
            for start in range(0, len(group_steps), max_steps):
                chunk = group_steps[start:start + max_steps]
                entry = {"usergroup": facts[folded].name, "requestID": request_ids.next(),
                         "do": [{step.verb: {"user": [user for user, _ in step.users]}} for step in chunk]}
                plan.group_entries.append(GroupEntry(entry, chunk))
        return plan


def _packable_group(key: tuple[str, str], users: list[str], facts: Mapping[str, GroupFacts]) -> bool:
    verb, folded = key
    group = facts.get(folded)
    if group is None or not group.user_group or group.read_only or len(set(users)) < PACK_MIN_USERS:
        return False
    return verb != "add" or group.members <= MAX_GROUP_MEMBERS_FOR_ADD
