"""POST /action/{orgId}: validates and runs command entries against the org, as UMAPI does.

Each entry is checked whole first (shape, step names, argument types, list lengths, create first,
removeFromOrg last); an entry with such errors runs no step. Then all its steps run in order: a step
that fails is reported with its position and the entry goes on with the next one (so a failed
create is followed by its add step failing on a user who does not exist), and the entry counts as
not completed. Only ``deleteUserGroup`` ends an entry early. In test mode nothing changes and steps
on users or user groups that do not exist count as successes, as UMAPI's testOnly does.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

from async_usersync.sandbox.config import SandboxConfig
from async_usersync.sandbox.state import ADOBE_ID, PROTECTED_GROUPS, Group, OrgState
from async_usersync.sandbox.validation import (
    Problem,
    check_country,
    check_email,
    check_group_name,
    check_name_list,
    check_string,
    is_email,
)

CREATE_STEPS = {"addAdobeID": "adobeID", "createEnterpriseID": "enterpriseID", "createFederatedID": "federatedID"}
CREATE_OPTIONS = ("ignoreIfAlreadyExists", "updateIfAlreadyExists")
USER_LIST_KEYS = ("group", "productConfiguration", "usergroup", "product")
GROUP_LIST_KEYS = ("user", "productConfiguration")
ENTRY_KEYS = {"user", "usergroup", "domain", "useAdobeID", "requestID", "do"}


class RequestRejected(Exception):
    """The whole request is malformed: answered with 400 and ``{"result", "message"}``."""

    def __init__(self, result: str, message: str) -> None:
        super().__init__(message)
        self.result = result
        self.message = message


@dataclass(slots=True)
class ActionOutcome:
    """The answer to one action request (``completed``, ``notCompleted``, ``result``, errors) and what
    it changed: entries and steps applied (0 in test mode), for the stats."""
    body: dict[str, Any]
    entries_applied: int
    steps_applied: int


@dataclass(slots=True)
class _Entry:
    index: int
    raw: dict[str, Any]
    root: str
    dry_run: bool
    errors: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    member_ceiling: int
    """A user group with more members than this takes no ``add`` step (``max_group_members_for_add``)."""
    steps_applied: int = 0
    user: dict[str, Any] | None = None
    group: Group | None = None

    def report(self, step: int, problem: Problem, *, warning: bool = False) -> None:
        """Records a failed (or, with ``warning``, warned) step as UMAPI reports it: index, step, requestID,
        user, error or warning code and message."""
        code, message = problem
        item: dict[str, Any] = {"index": self.index, "step": step}
        if "requestID" in self.raw:
            item["requestID"] = self.raw["requestID"]
        item["user"] = self.root
        item["warningCode" if warning else "errorCode"] = code
        item["message"] = message
        (self.warnings if warning else self.errors).append(item)


def run_actions(state: OrgState, body: Any, config: SandboxConfig, test_only: bool) -> ActionOutcome:
    """Runs one action request's entries against ``state`` (nothing changes with ``test_only``, UMAPI's
    ``testOnly``). Raises ``RequestRejected`` when the body is not a non-empty array or holds more than
    ``max_entries_per_request`` entries (UMAPI's 10)."""
    if not isinstance(body, list) or not body:
        raise RequestRejected("error.command.malformed", "Request body must be a non-empty JSON array of commands")
    if len(body) > config.max_entries_per_request:
        raise RequestRejected(
            "error.command.malformed",
            f"Too many commands in one request: {len(body)}, max is {config.max_entries_per_request}",
        )
    errors: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    succeeded = steps_applied = 0
    for index, raw in enumerate(body):
        entry = _Entry(index, raw if isinstance(raw, dict) else {}, _root_of(raw), test_only, errors, warnings,
                       config.max_group_members_for_add)
        if _run_entry(state, entry, raw, config):
            succeeded += 1
        steps_applied += entry.steps_applied
    failed = len(body) - succeeded
    response: dict[str, Any] = {
        "completed": 0 if test_only else succeeded,
        "notCompleted": failed,
        "completedInTestMode": succeeded if test_only else 0,
        "result": "success" if not failed else ("error" if not succeeded else "partial"),
    }
    if errors:
        response["errors"] = errors
    if warnings:
        response["warnings"] = warnings
    return ActionOutcome(response, 0 if test_only else succeeded, 0 if test_only else steps_applied)


def _root_of(raw: Any) -> str:
    if isinstance(raw, dict):
        root = raw.get("user", raw.get("usergroup"))
        if isinstance(root, str):
            return root
    return ""


def _run_entry(state: OrgState, entry: _Entry, raw: Any, config: SandboxConfig) -> bool:
    problem = _check_entry_shape(raw, config)
    if problem is not None:
        entry.report(0, problem)
        return False
    steps: list[dict[str, Any]] = raw["do"]
    is_user = "user" in raw
    checks = _USER_STEP_CHECKS if is_user else _GROUP_STEP_CHECKS
    shape_ok = True
    for position, step in enumerate(steps):
        problem = _check_step(step, position, steps, checks, is_user, config)
        if problem is not None:
            entry.report(position, problem)
            shape_ok = False
    if not shape_ok:
        return False
    if is_user:
        entry.user = state.find_user(entry.root, raw.get("domain"), bool(raw.get("useAdobeID", False)))
        runners = _USER_STEP_RUNNERS
    else:
        entry.group = state.groups.get(entry.root.lower())
        runners = _GROUP_STEP_RUNNERS
    completed = True
    for position, step in enumerate(steps):
        (name, args), = step.items()
        if type(args) is dict and "product" in args:
            entry.report(position, ("warning.command.deprecated", "'product' command is deprecated. Please use productConfiguration."), warning=True)
        problem = runners[name](state, entry, args)
        if problem is not None:
            # UMAPI does not stop an entry at a failed step: it runs the later steps and reports each
            # one that fails too. Evidence: User Sync's issue 462, where a maintainer explains an add
            # step's "error.user.not_found" as following the failure of the create step before it.
            entry.report(position, problem)
            completed = False
            continue
        entry.steps_applied += 1
        if name == "deleteUserGroup":
            break
    return completed


def _check_entry_shape(raw: Any, config: SandboxConfig) -> Problem | None:
    if not isinstance(raw, dict):
        return "error.command.illegal_entry", "Each command must be a JSON object"
    if not raw.keys() <= ENTRY_KEYS:
        return "error.command.illegal_entry", f"Unknown key in command: {sorted(raw.keys() - ENTRY_KEYS)[0]}"
    if ("user" in raw) == ("usergroup" in raw):
        return "error.command.user_usergroup.missing", "A command needs exactly one of user or usergroup"
    root = raw.get("user", raw.get("usergroup"))
    if not isinstance(root, str) or not root:
        return "error.command.string_expected", "user or usergroup must be a non-empty string"
    if "requestID" in raw and not isinstance(raw["requestID"], str):
        return "error.command.string_expected", "requestID must be a string"
    steps = raw.get("do")
    if not isinstance(steps, list) or not steps:
        return "error.command.steps.malformed", "do must be a non-empty array of steps"
    if len(steps) > config.max_steps_per_entry:
        return "error.command.add_remove.list_too_long", f"Too many steps in one command: max is {config.max_steps_per_entry}"
    if "usergroup" in raw:
        if "domain" in raw or "useAdobeID" in raw:
            return "error.command.illegal_entry", "domain and useAdobeID apply to user commands only"
        return None
    if "useAdobeID" in raw and not isinstance(raw["useAdobeID"], bool):
        return "error.command.boolean_expected", "useAdobeID must be true or false"
    domain = raw.get("domain")
    if domain is not None and not isinstance(domain, str):
        return "error.command.domain.string_expected", "domain must be a string"
    if domain is not None and is_email(root):
        return "error.command.domain.must_be_used_with_nonemail_username", "domain is only allowed with a non-email username"
    if domain is None and not is_email(root):
        return "error.command.domain.missing", f"A domain is needed with the non-email username {root}"
    return None


StepCheck = Callable[[Any, SandboxConfig], Problem | None]


def _check_step(
    step: Any, position: int, steps: list[Any], checks: dict[str, StepCheck], is_user: bool, config: SandboxConfig
) -> Problem | None:
    if not isinstance(step, dict) or len(step) != 1:
        return "error.command.steps.malformed", "Each step must be an object with a single key"
    (name, args), = step.items()
    if name not in checks:
        return "error.command.step.unknown", f"Unknown step: {name}"
    creates = CREATE_STEPS if is_user else {"createUserGroup": ""}
    if name in creates and position != 0:
        first = steps[0]
        if isinstance(first, dict) and len(first) == 1 and next(iter(first)) in creates:
            return "error.command.create.more_than_one", "A command may hold only one create step"
        return "error.command.create.not_first", f"{name} must be the first step"
    if name == "removeFromOrg" and position != len(steps) - 1:
        return "error.command.removefromorg.not_last", "removeFromOrg must be the last step"
    return checks[name](args, config)


# --- user steps: shape checks ---------------------------------------------------------------------


def _check_create(args: Any, config: SandboxConfig) -> Problem | None:
    if not isinstance(args, dict):
        return "error.command.create.object_expected", "A create step takes an object"
    unknown = set(args) - {"email", "firstname", "lastname", "country", "option"}
    if unknown:
        return "error.command.create.key.unknown", f"Unknown key in create step: {sorted(unknown)[0]}"
    for key in ("firstname", "lastname", "option"):
        if key in args and not isinstance(args[key], str):
            return "error.command.create.string_expected", f"Expected a string for field: {key}"
    if "email" not in args:
        return "error.user.email.invalid", "A create step needs an email"
    for problem in (
        check_email(args["email"]),
        check_string("firstname", args["firstname"]) if "firstname" in args else None,
        check_string("lastname", args["lastname"]) if "lastname" in args else None,
        check_country(args["country"]) if "country" in args else None,
    ):
        if problem is not None:
            return problem
    if "option" in args and args["option"] not in CREATE_OPTIONS:
        return "error.option.illegal", f"Illegal option: {args['option']}"
    return None


def _check_update(args: Any, config: SandboxConfig) -> Problem | None:
    if not isinstance(args, dict) or not args:
        return "error.user.command.missing.arguments", "update takes an object with at least one field"
    if "country" in args:
        return "error.update.country.no_update", "Country cannot be updated"
    unknown = set(args) - {"email", "firstname", "lastname", "username"}
    if unknown:
        return "error.command.update.option.no", f"Field cannot be updated: {sorted(unknown)[0]}"
    for key, value in args.items():
        problem = check_email(value) if key == "email" else check_string(key, value)
        if problem is not None:
            return problem
    return None


def _check_membership(args: Any, config: SandboxConfig, list_keys: tuple[str, ...], allow_all: bool) -> Problem | None:
    if args == "all" and allow_all:
        return None
    if not isinstance(args, dict):
        return "error.command.add_remove.list", "add/remove takes an object of lists" + (' or "all"' if allow_all else "")
    if not args:
        return "error.command.add_remove.missing_list", "add/remove needs at least one list"
    for key, values in args.items():
        if key not in list_keys:
            return "error.command.add_remove.key.unknown", f"Unknown list in add/remove: {key}"
        problem = check_name_list(values, key, config.max_names_per_list)
        if problem is not None:
            return problem
    return None


def _check_remove_from_org(args: Any, config: SandboxConfig) -> Problem | None:
    if not isinstance(args, dict):
        return "error.command.create.object_expected", "removeFromOrg takes an object"
    unknown = set(args) - {"deleteAccount"}
    if unknown:
        return "error.command.illegal_entry", f"Unknown key in removeFromOrg: {sorted(unknown)[0]}"
    if "deleteAccount" in args and not isinstance(args["deleteAccount"], bool):
        return "error.command.boolean_expected", "deleteAccount must be true or false"
    return None


def _check_empty_object(args: Any, config: SandboxConfig) -> Problem | None:
    if args != {}:
        return "error.command.object_not_empty", "This step takes an empty object"
    return None


_USER_STEP_CHECKS: dict[str, StepCheck] = {
    **{name: _check_create for name in CREATE_STEPS},
    "update": _check_update,
    "add": partial(_check_membership, list_keys=USER_LIST_KEYS, allow_all=False),
    "remove": partial(_check_membership, list_keys=USER_LIST_KEYS, allow_all=True),
    "removeFromOrg": _check_remove_from_org,
    "resetPassword": _check_empty_object,
}


# --- user steps: running --------------------------------------------------------------------------


def _missing_user(entry: _Entry) -> Problem | None:
    """The error for a step on a user who does not exist; none in test mode, as UMAPI's testOnly."""
    return None if entry.dry_run else ("error.user.nonexistent", f"User Id does not exist: {entry.root}")


def _no_member(entry: _Entry) -> Problem | None:
    """The error for adding or removing groups of a user who does not exist (as UMAPI answers it in
    User Sync's issue 462); none in test mode."""
    return None if entry.dry_run else ("error.user.not_found", "No valid users were found in the request")


def _run_create(kind: str) -> Callable[[OrgState, _Entry, dict[str, Any]], Problem | None]:
    def run(state: OrgState, entry: _Entry, args: dict[str, Any]) -> Problem | None:
        email: str = args["email"]
        domain = entry.raw.get("domain")
        if domain is None and email.lower() != entry.root.lower():
            return "error.user.must_match_email", f"The email {email} must match the user {entry.root}"
        if kind != "federatedID" and domain is not None:
            return "error.command.domain.must_be_used_with_nonemail_username", "Only Federated IDs have non-email usernames"
        if kind != ADOBE_ID and not args.get("firstname"):
            return "error.user.firstname_missing", "firstname is required"
        if kind != ADOBE_ID and not args.get("lastname"):
            return "error.user.lastname_missing", "lastname is required"
        if kind == "federatedID" and not args.get("country"):
            return "error.user.command.missing.arguments", "country is required for a Federated ID"
        username = entry.root if domain is not None else email
        user_domain = domain if domain is not None else email.rpartition("@")[2]
        existing = state.find_by_email(email, kind)
        if existing is None and kind != ADOBE_ID:
            existing = state.find_user(username, user_domain)
        if existing is not None and existing["type"] != kind:
            return "error.user.type_mismatch", f"User {entry.root} exists as {existing['type']}, not {kind}"
        if existing is None and kind != ADOBE_ID and state.find_by_email(email, "enterpriseID" if kind == "federatedID" else "federatedID"):
            return "error.user.type_mismatch", f"User {email} exists with another identity type"
        if existing is not None:
            option = args.get("option")
            if option is None:
                return "error.user.already_exists", f"User already exists: {entry.root}"
            entry.user = existing
            if option == "updateIfAlreadyExists" and kind != ADOBE_ID and not entry.dry_run:
                state.update_user(existing, {key: args[key] for key in ("firstname", "lastname") if args.get(key)})
            return None
        if not entry.dry_run:
            user = {"email": email, "username": username, "domain": user_domain, "type": kind}
            user |= {key: args[key] for key in ("firstname", "lastname", "country") if args.get(key)}
            entry.user = state.add_user(user)
        return None

    return run


def _run_update(state: OrgState, entry: _Entry, args: dict[str, str]) -> Problem | None:
    user = entry.user
    if user is None:
        return _missing_user(entry)
    if user["type"] == ADOBE_ID:
        return "error.update.adobeid.no", "Adobe IDs cannot be updated"
    changes = dict(args)
    if user["type"] == "enterpriseID" and "username" in changes and changes["username"].lower() != changes.get("email", user["email"]).lower():
        return "error.update.username.no", "An Enterprise ID's username is its email"
    if "email" in changes:
        if changes["email"].lower() == user["email"].lower():
            del changes["email"]  # UMAPI does not change the case of an email
        elif state.email_taken(changes["email"], user):
            return "error.user.email.name_in_use", f"Email already in use: {changes['email']}"
        elif "username" not in changes and user["username"].lower() == user["email"].lower():
            changes["username"] = changes["email"]
    if "username" in changes and state.username_taken(changes["username"], user.get("domain", ""), user):
        return "error.user.name_in_use", f"Username already in use: {changes['username']}"
    if not entry.dry_run:
        state.update_user(user, changes)
    return None


def _named_groups(state: OrgState, args: dict[str, list[str]]) -> tuple[list[Group], Problem | None]:
    groups: list[Group] = []
    for names in args.values():
        for name in names:
            if name.lower() in PROTECTED_GROUPS:
                return [], ("error.group.invalid_name", f"Group {name} cannot be assigned or removed through the API")
            group = state.groups.get(name.lower())
            if group is None:
                return [], ("error.group.not_found", f"Group {name} was not found")
            groups.append(group)
    return groups, None


def _run_add(state: OrgState, entry: _Entry, args: dict[str, list[str]]) -> Problem | None:
    groups, problem = _named_groups(state, args)
    if problem is not None:
        return problem
    return _change_membership(entry, groups, state.join)


def _run_remove(state: OrgState, entry: _Entry, args: dict[str, list[str]] | str) -> Problem | None:
    if args == "all":
        groups = [] if entry.user is None else [
            state.groups[name.lower()] for name in entry.user["groups"]
            if name.lower() in state.groups and name.lower() != "_org_admin"
        ]
    else:
        groups, problem = _named_groups(state, args)  # type: ignore[arg-type]
        if problem is not None:
            return problem
    return _change_membership(entry, groups, state.leave)


def _change_membership(entry: _Entry, groups: list[Group], change: Callable[[dict[str, Any], Group], None]) -> Problem | None:
    """Joins or leaves ``groups``; in test mode only checks that the user exists."""
    if entry.user is None:
        return _no_member(entry)
    if not entry.dry_run:
        for group in groups:
            change(entry.user, group)
    return None


def _run_remove_from_org(state: OrgState, entry: _Entry, args: dict[str, Any]) -> Problem | None:
    """Always succeeds, even for a user who is not in the org."""
    if entry.user is not None and not entry.dry_run:
        state.remove_user(entry.user)
        entry.user = None
    return None


_USER_STEP_RUNNERS: dict[str, Callable[[OrgState, _Entry, Any], Problem | None]] = {
    **{name: _run_create(kind) for name, kind in CREATE_STEPS.items()},
    "update": _run_update,
    "add": _run_add,
    "remove": _run_remove,
    "removeFromOrg": _run_remove_from_org,
    "resetPassword": lambda state, entry, args: None if entry.user is not None else _missing_user(entry),
}


# --- user-group steps -----------------------------------------------------------------------------


def _check_create_group(args: Any, config: SandboxConfig) -> Problem | None:
    if not isinstance(args, dict):
        return "error.command.create.object_expected", "createUserGroup takes an object"
    unknown = set(args) - {"name", "description", "option"}
    if unknown:
        return "error.command.create.key.unknown", f"Unknown key in createUserGroup: {sorted(unknown)[0]}"
    if "option" in args and args["option"] not in CREATE_OPTIONS:
        return "error.option.illegal", f"Illegal option: {args['option']}"
    if "description" in args:
        return check_string("description", args["description"])
    return check_group_name(args["name"]) if "name" in args else None


def _check_update_group(args: Any, config: SandboxConfig) -> Problem | None:
    if not isinstance(args, dict) or not args:
        return "error.usergroup.command.missing.arguments", "updateUserGroup takes name and/or description"
    unknown = set(args) - {"name", "description"}
    if unknown:
        return "error.command.illegal_entry", f"Unknown key in updateUserGroup: {sorted(unknown)[0]}"
    if "description" in args and (problem := check_string("description", args["description"])):
        return problem
    return check_group_name(args["name"]) if "name" in args else None


def _usergroup(entry: _Entry) -> tuple[Group | None, Problem | None]:
    group = entry.group
    if group is not None and group.type == "USER_GROUP":
        return group, None
    return None, None if entry.dry_run else ("error.usergroup.not_found", f"User group {entry.root} was not found")


def _run_create_group(state: OrgState, entry: _Entry, args: dict[str, str]) -> Problem | None:
    name = args.get("name", entry.root)
    if (problem := check_group_name(name)) is not None:
        return problem
    existing = state.groups.get(name.lower())
    if existing is not None:
        if args.get("option") is None or existing.type != "USER_GROUP":
            return "error.usergroup.already_exists", f"User group already exists: {name}"
        if args["option"] == "updateIfAlreadyExists" and "description" in args and not entry.dry_run:
            existing.info["description"] = args["description"]
        entry.group = existing
        return None
    if not entry.dry_run:
        info = {"groupName": name, "type": "USER_GROUP", "adminGroupName": f"_admin_{name}"}
        entry.group = state.add_group(info | ({"description": args["description"]} if "description" in args else {}))
    return None


def _run_update_group(state: OrgState, entry: _Entry, args: dict[str, str]) -> Problem | None:
    group, problem = _usergroup(entry)
    if group is None:
        return problem
    new_name = args.get("name")
    if new_name is not None and new_name.lower() != group.name.lower() and new_name.lower() in state.groups:
        return "error.usergroup.already_exists", f"User group already exists: {new_name}"
    if not entry.dry_run:
        if "description" in args:
            group.info["description"] = args["description"]
        if new_name is not None:
            state.rename_group(group, new_name)
    return None


def _run_delete_group(state: OrgState, entry: _Entry, args: dict[str, Any]) -> Problem | None:
    group, problem = _usergroup(entry)
    if group is None:
        return problem
    if not entry.dry_run:
        state.remove_group(group)
        entry.group = None
    return None


def _group_members(state: OrgState, args: dict[str, list[str]]) -> tuple[list[dict[str, Any]], list[Group], Problem | None]:
    users, profiles = [], []
    for email in args.get("user", []):
        user = state.find_user(email)
        if user is None:
            return [], [], ("error.usergroup.user_list.invalid", f"User not found: {email}")
        users.append(user)
    for name in args.get("productConfiguration", []):
        profile = state.groups.get(name.lower())
        if profile is None or profile.type != "PRODUCT_PROFILE":
            return [], [], ("error.command.product.not_found", f"Product profile {name} was not found")
        profiles.append(profile)
    return users, profiles, None


def _run_group_membership(adding: bool) -> Callable[[OrgState, _Entry, dict[str, list[str]]], Problem | None]:
    """An ``add`` or ``remove`` step of a user-group entry, as UMAPI's usergroupActionCommands page
    describes it: a step changes all its members or none (one unknown user fails the whole step); a
    read-only group (``isReadOnly``: shared from another org) refuses user memberships but takes
    profiles; a group over ``member_ceiling`` members refuses ``add``. The read-only and ceiling
    checks hold in test mode too (they need no user to exist)."""
    def run(state: OrgState, entry: _Entry, args: dict[str, list[str]]) -> Problem | None:
        users, profiles, problem = _group_members(state, args)
        if problem is not None:
            return problem
        group, problem = _usergroup(entry)
        if group is None:
            return problem
        if args.get("user") and group.info.get("isReadOnly"):
            verb = "added to" if adding else "removed from"
            return (f"error.usergroup.readonly.{'add' if adding else 'remove'}_user_not_allowed",
                    f"User cannot be {verb} group as owned by another org and readonly: {group.name}")
        if adding and len(group.members) > entry.member_ceiling:
            return ("error.usergroup.exceeds_maximum_member_count",
                    f"User group {group.name} has more than {entry.member_ceiling} members")
        if entry.dry_run:
            return None
        for user in users:
            (state.join if adding else state.leave)(user, group)
        for profile in profiles:
            if adding and profile.name not in group.profiles:
                group.profiles.append(profile.name)
            elif not adding and profile.name in group.profiles:
                group.profiles.remove(profile.name)
        return None

    return run


_GROUP_STEP_CHECKS: dict[str, StepCheck] = {
    "createUserGroup": _check_create_group,
    "updateUserGroup": _check_update_group,
    "deleteUserGroup": _check_empty_object,
    "add": partial(_check_membership, list_keys=GROUP_LIST_KEYS, allow_all=False),
    "remove": partial(_check_membership, list_keys=GROUP_LIST_KEYS, allow_all=False),
}

_GROUP_STEP_RUNNERS: dict[str, Callable[[OrgState, _Entry, Any], Problem | None]] = {
    "createUserGroup": _run_create_group,
    "updateUserGroup": _run_update_group,
    "deleteUserGroup": _run_delete_group,
    "add": _run_group_membership(adding=True),
    "remove": _run_group_membership(adding=False),
}
