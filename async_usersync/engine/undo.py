"""The inverse of a run: from what a run's commands did to an org (its journal) back to what the org
held before them. Plain and side-effect free, as the rest of the engine; ``pipeline.undo`` reads the
journal and the org and sends what this plans.

Per user (by user key), the commands that landed are applied, in the order they were written, to
the state the first one found (``UserCommand.before``; none for a user the run created) to give the
state the run left. The user as the org holds it now is compared with that state (email, username,
names, groups, presence); one that differs changed since the run and is left alone with a warning,
unless ``force``. Otherwise one command takes the user from the state the run left back to the state
before it:

* created by the run: removed from the org (``removeFromOrg`` without ``deleteAccount``: the account
  itself stays, as UMAPI keeps an owned account removed from an org);
* removed from the org: added back with the create step of its identity type (``createFederatedID``,
  ``createEnterpriseID``, ``addAdobeID``) with the saved attributes and ``ignoreIfAlreadyExists`` (the
  account still exists: UMAPI then adds it to the org), and its groups;
* deleted (``removeFromOrg`` with ``deleteAccount``): its account and content are gone, nothing is
  sent, and an error names the user;
* otherwise: the attributes the run updated get their old values, groups added are removed, groups
  removed are added back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from async_usersync.engine.planner import command_root, match_keys
from async_usersync.engine.rules import fold
from async_usersync.records import AdobeUser, CreateUser, IdentityType, UserCommand

Message = tuple[int, str]
_ATTRIBUTES = ("email", "username", "firstname", "lastname")


@dataclass
class UndoPlan:
    """What undoing one org's part of a run sends, and why some users are left alone."""
    commands: list[UserCommand] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    """(logging level, text), for the pipeline to log."""
    removed: int = 0
    """Users the run created, now removed from the org."""
    added_back: int = 0
    """Users the run removed from the org, now added back."""
    restored: int = 0
    """Users whose attributes or groups are set back."""
    left_alone: int = 0
    """Users not undone: changed since the run (without ``force``), deleted, or without a saved state."""


def plan_undo(landed: Iterable[UserCommand], current: Mapping[str, AdobeUser], force: bool = False,
              org: str | None = None) -> UndoPlan:
    """The undo of one org's landed commands (in the order the run reported them). ``current``: the
    org's users now, by each of their ``match_keys``. ``org`` names a secondary org in messages."""
    by_user: dict[str, list[UserCommand]] = {}
    for command in landed:
        by_user.setdefault(command.key or command.user, []).append(command)
    plan = UndoPlan()
    where = f" in {org}" if org else ""
    for key, commands in by_user.items():
        first = commands[0]
        before = None if first.create is not None else first.before
        if before is None and first.create is None:
            plan.messages.append((logging.WARNING, f"Not undoing user key {key}{where}: the journal does not hold "
                                                   f"their state before the run"))
            plan.left_alone += 1
            continue
        after: AdobeUser | None = before
        for command in commands:
            after = _applied(after, command)
        found = _find(current, after or before)
        changed = _differences(after, found)
        if changed:
            if not force:
                plan.messages.append((logging.WARNING, f"Not undoing user key {key}{where}: changed since the run "
                                                       f"({changed}); --force undoes it anyway"))
                plan.left_alone += 1
                continue
            plan.messages.append((logging.WARNING, f"User key {key}{where} changed since the run ({changed}); undoing "
                                                   f"it anyway (--force)"))
        if any(command.delete_account for command in commands):
            plan.messages.append((logging.ERROR, f"Cannot restore user key {key}{where}: the run deleted the account "
                                                 f"(removeFromOrg with deleteAccount), and its content with it"))
            plan.left_alone += 1
            continue
        inverse = _inverse(before, after, found or after, key)
        if inverse is None:
            continue
        plan.commands.append(inverse)
        if before is None:
            plan.removed += 1
            plan.messages.append((logging.INFO, f"User key {key}{where} was created by the run: removing it from the "
                                                f"org (the account itself stays)"))
        elif after is None:
            plan.added_back += 1
        else:
            plan.restored += 1
    return plan


def _applied(user: AdobeUser | None, command: UserCommand) -> AdobeUser | None:
    """``user`` (None: not in the org) as ``command`` leaves it, as UMAPI runs its steps."""
    create = command.create
    if create is not None and user is None:
        username = command.user if command.domain is not None else create.email
        domain = command.domain or create.email.rpartition("@")[2]
        user = AdobeUser(create.identity_type, username, domain, create.email, create.firstname, create.lastname,
                         create.country, frozenset())
    if user is None:
        return None
    values = {name: getattr(user, name) for name in _ATTRIBUTES}
    values.update(command.update)
    if "email" in command.update and "username" not in command.update and fold(user.username) == fold(user.email):
        values["username"] = command.update["email"]  # UMAPI: an email-form username follows the email
    groups = {fold(group): group for group in user.groups}
    if command.remove_groups == "all":
        groups = {}
    else:
        for group in command.remove_groups:
            groups.pop(fold(group), None)
    groups.update((fold(group), group) for group in command.add_groups)
    if command.remove_from_org:
        return None
    return AdobeUser(user.identity_type, values["username"], user.domain, values["email"], values["firstname"],
                     values["lastname"], user.country, frozenset(groups.values()))


def _find(current: Mapping[str, AdobeUser], user: AdobeUser | None) -> AdobeUser | None:
    if user is None:
        return None
    return next((current[key] for key in match_keys(user) if key in current), None)


def _differences(expected: AdobeUser | None, found: AdobeUser | None) -> str:
    """What differs between the state the run left and the user now ("" when nothing does)."""
    if expected is None or found is None:
        if expected is found:
            return ""
        return "now in the org" if expected is None else "no longer in the org"
    differences = [f"{name} now {getattr(found, name)!r}, the run left {getattr(expected, name)!r}"
                   for name in _ATTRIBUTES if _folded(name, getattr(found, name)) != _folded(name, getattr(expected, name))]
    if {fold(group) for group in found.groups} != {fold(group) for group in expected.groups}:
        differences.append(f"groups now {sorted(found.groups)}, the run left {sorted(expected.groups)}")
    return "; ".join(differences)


def _folded(attribute: str, value: str | None) -> str | None:
    return fold(value or "") if attribute in ("email", "username") else value


def _inverse(before: AdobeUser | None, after: AdobeUser | None, now: AdobeUser | None, key: str) -> UserCommand | None:
    """One command from the state the run left (``now`` addresses the user) back to ``before``."""
    if before is None:
        if now is None:
            return None
        root, domain = command_root(now)
        return UserCommand(root, domain, now.identity_type is IdentityType.ADOBE_ID, remove_from_org=True, key=key,
                           before=now)
    if after is None:
        root, domain = command_root(before)
        create = CreateUser(before.identity_type, before.email, before.firstname, before.lastname, before.country)
        return UserCommand(root, domain, before.identity_type is IdentityType.ADOBE_ID, create,
                           add_groups=tuple(sorted(before.groups)), key=key)
    assert now is not None
    update = {name: getattr(before, name) for name in _ATTRIBUTES
              if getattr(before, name) and getattr(before, name) != getattr(after, name)}
    if "username" in update and fold(before.username) == fold(before.email) and "email" in update:
        del update["username"]  # follows the email back
    was = {fold(group): group for group in before.groups}
    left = {fold(group): group for group in after.groups}
    add = tuple(sorted(group for folded, group in was.items() if folded not in left))
    remove = tuple(sorted(group for folded, group in left.items() if folded not in was))
    if not (update or add or remove):
        return None
    root, domain = command_root(now)
    return UserCommand(root, domain, now.identity_type is IdentityType.ADOBE_ID, update=update, remove_groups=remove,
                       add_groups=add, key=key, before=now)
