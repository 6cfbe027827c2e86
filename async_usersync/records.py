"""The small typed records that flow through the pipeline: sources -> engine -> client.

They are frozen and slotted because a large org holds a million of them at once. The records
made a million times per run (directory users, Adobe users, commands) have a hand-written
``__init__`` that stores through the slots' own setters: a frozen dataclass's generated one goes
through ``object.__setattr__`` for every field, which costs about twice as much.
``tests/test_records.py`` checks each hand-written signature against the fields.

``DirectoryUser`` and ``UnreadableDirectoryUser`` are final: the planner tells them apart with
``type(user) is ...`` (faster than ``isinstance`` on a million users), which the type checker then
narrows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from enum import Enum
from typing import Any, Callable, Literal, Mapping, final


class IdentityType(str, Enum):
    """UMAPI's identity types, by their API names (``adobeID``, ``enterpriseID``, ``federatedID``)."""
    ADOBE_ID = "adobeID"
    ENTERPRISE_ID = "enterpriseID"
    FEDERATED_ID = "federatedID"

    @classmethod
    def parse(cls, text: str) -> "IdentityType":
        """Accepts User Sync's spellings: 'federatedID', 'federated_id', 'FederatedID', 'federated'."""
        wanted = text.strip().lower().replace("_", "").removesuffix("id")
        for member in cls:
            if member.value.lower().removesuffix("id") == wanted:
                return member
        raise ValueError(f"unknown identity type {text!r} (expected adobeID, enterpriseID or federatedID)")


def _slot_setters(record_class: type) -> tuple[Callable[[Any, Any], None], ...]:
    """The setters of a slotted record's fields, in field order; they store without the frozen check."""
    return tuple(record_class.__dict__[record_field.name].__set__ for record_field in fields(record_class))


@final
@dataclass(frozen=True, slots=True, init=False)
class DirectoryUser:
    """One person as the directory (LDAP or CSV) describes them."""

    identity_type: IdentityType
    username: str
    domain: str | None
    email: str
    firstname: str | None
    lastname: str | None
    country: str | None
    groups: frozenset[str]
    """Directory groups the user is selected through or directly belongs to (names, not DNs)."""
    source_attributes: Mapping[str, Any] = field(default_factory=dict)
    """The entry's raw attributes by name (LDAP attributes, or CSV columns), as read: the extension
    hook (User Sync's ``after_mapping_hook``) reads them, through ``pipeline.extension``."""
    origin: str = ""
    """Which entry this is, for messages: its DN, or ``line N of FILE``."""
    adobe_groups: frozenset[str] | None = None
    """The Adobe groups the extension hook chose for this user (its ``target_groups``, as the config
    spells them); the planner then takes them instead of mapping ``groups`` through
    ``directory_users.groups`` (``additional_groups`` still apply). None: no hook ran."""

    def __init__(self, identity_type: IdentityType, username: str, domain: str | None, email: str, firstname: str | None,
                 lastname: str | None, country: str | None, groups: frozenset[str],
                 source_attributes: Mapping[str, Any] | None = None, origin: str = "",
                 adobe_groups: frozenset[str] | None = None) -> None:
        """``source_attributes=None`` stands for a new empty dict (the field's default)."""
        (set_identity_type, set_username, set_domain, set_email, set_firstname, set_lastname, set_country, set_groups,
         set_source_attributes, set_origin, set_adobe_groups) = _DIRECTORY_USER_SETTERS
        set_identity_type(self, identity_type)
        set_username(self, username)
        set_domain(self, domain)
        set_email(self, email)
        set_firstname(self, firstname)
        set_lastname(self, lastname)
        set_country(self, country)
        set_groups(self, groups)
        set_source_attributes(self, {} if source_attributes is None else source_attributes)
        set_origin(self, origin)
        set_adobe_groups(self, adobe_groups)


_DIRECTORY_USER_SETTERS = _slot_setters(DirectoryUser)


@final
@dataclass(frozen=True, slots=True)
class UnreadableDirectoryUser:
    """A person the directory returned whose record could not be built: an attribute did not
    decode, or a value (such as the identity type) is unusable. Only what identifies the person
    is kept, so the engine can recognise their Adobe account: it gets no change this run and is
    never taken for Adobe-only. Sources yield it in the same stream as ``DirectoryUser``."""

    where: str
    """Which entry: ``with DN '...'`` or ``at line N of FILE``."""
    problem: str
    """What could not be read, naming the attribute or column."""
    email: str
    username: str
    """The email when the directory gives no separate username (as for ``DirectoryUser``)."""
    domain: str | None


@dataclass(frozen=True, slots=True, init=False)
class AdobeUser:
    """One user of the Adobe org, as UMAPI lists it."""

    identity_type: IdentityType
    username: str
    domain: str | None
    email: str
    firstname: str | None
    lastname: str | None
    country: str | None
    groups: frozenset[str]

    def __init__(self, identity_type: IdentityType, username: str, domain: str | None, email: str, firstname: str | None,
                 lastname: str | None, country: str | None, groups: frozenset[str]) -> None:
        (set_identity_type, set_username, set_domain, set_email, set_firstname, set_lastname, set_country,
         set_groups) = _ADOBE_USER_SETTERS
        set_identity_type(self, identity_type)
        set_username(self, username)
        set_domain(self, domain)
        set_email(self, email)
        set_firstname(self, firstname)
        set_lastname(self, lastname)
        set_country(self, country)
        set_groups(self, groups)


_ADOBE_USER_SETTERS = _slot_setters(AdobeUser)


@dataclass(frozen=True, slots=True)
class CreateUser:
    """The create step of a command: addAdobeID, createEnterpriseID or createFederatedID."""

    identity_type: IdentityType
    email: str
    firstname: str | None = None
    lastname: str | None = None
    country: str | None = None
    on_conflict: Literal["ignoreIfAlreadyExists", "updateIfAlreadyExists"] | None = "ignoreIfAlreadyExists"


@dataclass(frozen=True, slots=True, init=False)
class UserCommand:
    """Everything to do to one Adobe user, in the order UMAPI runs it.

    Steps are sent as: create, update, remove groups, add groups, removeFromOrg. The client
    turns one command into one action entry (or several, when the API's limits require).
    """

    user: str
    """The entry's root: the email, or the username for a non-email Federated ID."""
    domain: str | None = None
    """Set only when ``user`` is a non-email username."""
    use_adobe_id: bool = False
    create: CreateUser | None = None
    update: Mapping[str, str] = field(default_factory=dict)
    """Changed attributes among email, firstname, lastname, username."""
    remove_groups: tuple[str, ...] | Literal["all"] = ()
    add_groups: tuple[str, ...] = ()
    remove_from_org: bool = False
    delete_account: bool = False
    key: str = ""
    """User Sync's user key (``idtype,username,domain,email``), for logs and error reports."""
    before: AdobeUser | None = field(default=None, compare=False)
    """The Adobe user as read when the command was planned (None: a create, or not known), for the
    run's journal and ``undo``; the planner hands on the record it already holds, so this costs one
    reference. Not compared: two commands with the same steps are equal."""

    def __init__(self, user: str, domain: str | None = None, use_adobe_id: bool = False, create: CreateUser | None = None,
                 update: Mapping[str, str] | None = None, remove_groups: tuple[str, ...] | Literal["all"] = (),
                 add_groups: tuple[str, ...] = (), remove_from_org: bool = False, delete_account: bool = False,
                 key: str = "", before: AdobeUser | None = None) -> None:
        """``update=None`` stands for a new empty dict (the field's default)."""
        (set_user, set_domain, set_use_adobe_id, set_create, set_update, set_remove_groups, set_add_groups,
         set_remove_from_org, set_delete_account, set_key, set_before) = _COMMAND_SETTERS
        set_user(self, user)
        set_domain(self, domain)
        set_use_adobe_id(self, use_adobe_id)
        set_create(self, create)
        set_update(self, {} if update is None else update)
        set_remove_groups(self, remove_groups)
        set_add_groups(self, add_groups)
        set_remove_from_org(self, remove_from_org)
        set_delete_account(self, delete_account)
        set_key(self, key)
        set_before(self, before)

    @property
    def is_empty(self) -> bool:
        """Whether the command has no step at all (nothing to send)."""
        return not (self.create or self.update or self.remove_groups or self.add_groups or self.remove_from_org)


_COMMAND_SETTERS = _slot_setters(UserCommand)


@dataclass(frozen=True, slots=True)
class CommandError:
    """One failed step of a command, as UMAPI reported it (or as the client concluded)."""

    step: str
    """The step's name (``createFederatedID``, ``add``, ...) or ``request`` for a batch that failed whole."""
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class CommandResult:
    """How one command ended: exactly one of landed (``ok``), failed (``errors``, as UMAPI gave
    them), not sent (``not_sent``: the run stopped before it went out) or unanswered
    (``unanswered``: sent, and no answer came before sending stopped, so it may have landed)."""

    command: UserCommand
    errors: tuple[CommandError, ...] = ()
    not_sent: bool = False
    unanswered: bool = False

    @property
    def ok(self) -> bool:
        """Landed."""
        return not self.errors and not self.not_sent and not self.unanswered


DirectoryRecord = DirectoryUser | UnreadableDirectoryUser
"""What a directory source yields for each person it returns."""


def command_to_json(command: UserCommand) -> dict[str, Any]:
    """A command as JSON (plan files, the journal; ``command_from_json`` reads it back)."""
    create = None
    if command.create is not None:
        create = asdict(command.create) | {"identity_type": command.create.identity_type.value}
    return {"user": command.user, "domain": command.domain, "use_adobe_id": command.use_adobe_id, "create": create,
            "update": dict(command.update), "remove_groups": command.remove_groups if command.remove_groups == "all"
            else list(command.remove_groups), "add_groups": list(command.add_groups),
            "remove_from_org": command.remove_from_org, "delete_account": command.delete_account, "key": command.key}


def command_from_json(data: Mapping[str, Any]) -> UserCommand:
    """The command ``command_to_json`` wrote; KeyError, TypeError or ValueError when it is malformed."""
    create = data["create"]
    remove_groups = data["remove_groups"]
    return UserCommand(
        user=str(data["user"]), domain=data["domain"], use_adobe_id=bool(data["use_adobe_id"]),
        create=None if create is None else CreateUser(**(create | {"identity_type": IdentityType(create["identity_type"])})),
        update={str(name): str(value) for name, value in data["update"].items()},
        remove_groups="all" if remove_groups == "all" else tuple(map(str, remove_groups)),
        add_groups=tuple(map(str, data["add_groups"])), remove_from_org=bool(data["remove_from_org"]),
        delete_account=bool(data["delete_account"]), key=str(data["key"]))
