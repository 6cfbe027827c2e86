"""Turning one ``UserCommand`` into UMAPI action entries, as the API's limits require.

All steps of a user go into one entry in the order create, update, remove, add, removeFromOrg.
Group lists longer than ``max_names`` become several steps of the same verb, and an entry with
more than ``max_steps`` steps is cut into pieces with the same root: the create step stays in the
first piece and removeFromOrg in the last, because the order is kept.
"""

from __future__ import annotations

from typing import Any

from async_usersync.records import CreateUser, IdentityType, UserCommand

CREATE_STEP = {
    IdentityType.ADOBE_ID: "addAdobeID",
    IdentityType.ENTERPRISE_ID: "createEnterpriseID",
    IdentityType.FEDERATED_ID: "createFederatedID",
}


Entry = dict[str, Any]
"""One action entry as posted: ``{"user": ..., "requestID": ..., "do": [steps]}``. Each step is a
one-key object, so its name is its key (see ``step_name``); nothing else is kept beside it, because a
bulk load makes millions of these."""


def command_entries(command: UserCommand, request_ids: "RequestIds", max_steps: int = 10,
                    max_names: int = 10) -> list[Entry]:
    """The action entries for one command (usually one; more when it has over ``max_steps``
    steps, each piece under the same root with its own requestID). Group lists are split into steps
    of at most ``max_names`` names. Both defaults are UMAPI's documented limits (10 names a step;
    10 steps an entry, from its 2017 docs). ``useAdobeID`` is set for Adobe IDs."""
    steps = _steps(command, max_names)
    root: Entry = {"user": command.user}
    if command.domain:
        root["domain"] = command.domain
    if command.use_adobe_id or (command.create is not None and command.create.identity_type is IdentityType.ADOBE_ID):
        root["useAdobeID"] = True
    if len(steps) <= max_steps:  # the usual case, kept cheap
        root["requestID"] = request_ids.next()
        root["do"] = steps
        return [root]
    return [{**root, "requestID": request_ids.next(), "do": steps[start:start + max_steps]}
            for start in range(0, len(steps), max_steps)]


def step_name(entry: Entry, step: int) -> str:
    """The name of step ``step`` of ``entry`` (``createFederatedID``, ``add``, ...), or ``unknown``."""
    steps = entry["do"]
    return next(iter(steps[step])) if 0 <= step < len(steps) else "unknown"


class RequestIds:
    """``action_1``, ``action_2``, ... unique within one sink, echoed by UMAPI in its errors."""

    def __init__(self) -> None:
        self._count = 0

    def next(self) -> str:
        """The next request ID: ``action_1`` first."""
        self._count += 1
        return f"action_{self._count}"


def _steps(command: UserCommand, max_names: int) -> list[dict[str, Any]]:
    """The steps, in UMAPI's order."""
    steps: list[dict[str, Any]] = []
    if command.create is not None:
        steps.append({CREATE_STEP[command.create.identity_type]: _create_arguments(command.create)})
    if command.update:
        steps.append({"update": dict(command.update)})
    if command.remove_groups == "all":
        steps.append({"remove": "all"})
    elif command.remove_groups:
        _add_group_steps(steps, "remove", command.remove_groups, max_names)
    if command.add_groups:
        _add_group_steps(steps, "add", command.add_groups, max_names)
    if command.remove_from_org:
        steps.append({"removeFromOrg": {"deleteAccount": command.delete_account}})
    return steps


def _add_group_steps(steps: list[dict[str, Any]], verb: str, groups: tuple[str, ...], max_names: int) -> None:
    if len(groups) <= max_names:  # the usual case: one step
        steps.append({verb: {"group": list(groups)}})
        return
    steps.extend({verb: {"group": list(groups[start:start + max_names])}} for start in range(0, len(groups), max_names))


def _create_arguments(create: CreateUser) -> dict[str, Any]:
    arguments: dict[str, Any] = {"email": create.email}
    if create.firstname:
        arguments["firstname"] = create.firstname
    if create.lastname:
        arguments["lastname"] = create.lastname
    if create.country:
        arguments["country"] = create.country
    if create.on_conflict:
        arguments["option"] = create.on_conflict
    return arguments
