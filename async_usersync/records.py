"""The small typed records that flow through the pipeline: sources -> engine -> client.

They are frozen and slotted because a large org holds a million of them at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal, Mapping


class IdentityType(str, Enum):
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


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class CreateUser:
    """The create step of a command: addAdobeID, createEnterpriseID or createFederatedID."""

    identity_type: IdentityType
    email: str
    firstname: str | None = None
    lastname: str | None = None
    country: str | None = None
    on_conflict: Literal["ignoreIfAlreadyExists", "updateIfAlreadyExists"] | None = "ignoreIfAlreadyExists"


@dataclass(frozen=True, slots=True)
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

    @property
    def is_empty(self) -> bool:
        return not (self.create or self.update or self.remove_groups or self.add_groups or self.remove_from_org)


@dataclass(frozen=True, slots=True)
class CommandError:
    """One failed step of a command, as UMAPI reported it (or as the client concluded)."""

    step: str
    """The step's name (``createFederatedID``, ``add``, ...) or ``request`` for a batch that failed whole."""
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class CommandResult:
    command: UserCommand
    errors: tuple[CommandError, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors
