"""Turning one ``UserCommand`` into UMAPI action entries, as the API's limits require.

All steps of a user go into one entry in the order create, update, remove, add, removeFromOrg.
Group lists longer than ``max_names`` become several steps of the same verb, and an entry with
more than ``max_steps`` steps is cut into pieces with the same root: the create step stays in the
first piece and removeFromOrg in the last, because the order is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from async_usersync.records import CreateUser, IdentityType, UserCommand

CREATE_STEP = {
    IdentityType.ADOBE_ID: "addAdobeID",
    IdentityType.ENTERPRISE_ID: "createEnterpriseID",
    IdentityType.FEDERATED_ID: "createFederatedID",
}


@dataclass(slots=True)
class Entry:
    """One action entry, ready to post, with what it takes to map its errors back."""

    command: UserCommand
    body: dict[str, Any]
    step_names: tuple[str, ...]


def command_entries(command: UserCommand, request_ids: "RequestIds", max_steps: int = 10,
                    max_names: int = 10) -> list[Entry]:
    names, steps = _steps(command, max_names)
    root: dict[str, Any] = {"user": command.user}
    if command.domain:
        root["domain"] = command.domain
    if command.use_adobe_id or (command.create is not None and command.create.identity_type is IdentityType.ADOBE_ID):
        root["useAdobeID"] = True
    if len(steps) <= max_steps:  # the usual case, kept cheap: a bulk load sends millions of these
        root["requestID"] = request_ids.next()
        root["do"] = steps
        return [Entry(command, root, tuple(names))]
    return [Entry(command, {**root, "requestID": request_ids.next(), "do": steps[start:start + max_steps]},
                  tuple(names[start:start + max_steps]))
            for start in range(0, len(steps), max_steps)]


class RequestIds:
    """``action_1``, ``action_2``, ... unique within one sink, echoed by UMAPI in its errors."""

    def __init__(self) -> None:
        self._count = 0

    def next(self) -> str:
        self._count += 1
        return f"action_{self._count}"


def _steps(command: UserCommand, max_names: int) -> tuple[list[str], list[dict[str, Any]]]:
    """The step names and the steps, in UMAPI's order."""
    names: list[str] = []
    steps: list[dict[str, Any]] = []
    if command.create is not None:
        name = CREATE_STEP[command.create.identity_type]
        names.append(name)
        steps.append({name: _create_arguments(command.create)})
    if command.update:
        names.append("update")
        steps.append({"update": dict(command.update)})
    if command.remove_groups == "all":
        names.append("remove")
        steps.append({"remove": "all"})
    elif command.remove_groups:
        _add_group_steps(names, steps, "remove", command.remove_groups, max_names)
    if command.add_groups:
        _add_group_steps(names, steps, "add", command.add_groups, max_names)
    if command.remove_from_org:
        names.append("removeFromOrg")
        steps.append({"removeFromOrg": {"deleteAccount": command.delete_account}})
    return names, steps


def _add_group_steps(names: list[str], steps: list[dict[str, Any]], verb: str, groups: tuple[str, ...],
                     max_names: int) -> None:
    if len(groups) <= max_names:  # the usual case: one step
        names.append(verb)
        steps.append({verb: {"group": list(groups)}})
        return
    for start in range(0, len(groups), max_names):
        names.append(verb)
        steps.append({verb: {"group": list(groups[start:start + max_names])}})


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
