"""Small builders for the engine tests: users, rules, and a planner run in a chosen order."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

from async_usersync.engine import AdditionalGroupRule, GroupMapping, SyncPlanner, SyncRules
from async_usersync.records import AdobeUser, DirectoryUser, IdentityType, UserCommand

FED = IdentityType.FEDERATED_ID
ENT = IdentityType.ENTERPRISE_ID
ADOBE = IdentityType.ADOBE_ID

MAPPING = GroupMapping.from_pairs(
    [("Engineering", ["Eng Profile", "All Staff"]), ("Sales", ["Sales Profile", "All Staff"])],
    [AdditionalGroupRule(re.compile("ACL-(.+)", re.IGNORECASE), r"ACL-Grp-\1")],
)


def directory_user(email: str, groups: Iterable[str] = (), *, username: str | None = None, domain: str | None = None,
                   identity_type: IdentityType = FED, firstname: str | None = "Ann", lastname: str | None = "Lee",
                   country: str | None = "US", origin: str = "") -> DirectoryUser:
    return DirectoryUser(identity_type=identity_type, username=username or email, domain=domain or email.split("@")[-1],
                         email=email, firstname=firstname, lastname=lastname, country=country, groups=frozenset(groups),
                         origin=origin)


def adobe_user(email: str, groups: Iterable[str] = (), *, username: str | None = None, domain: str | None = None,
               identity_type: IdentityType = FED, firstname: str | None = "Ann", lastname: str | None = "Lee",
               country: str | None = "US") -> AdobeUser:
    return AdobeUser(identity_type=identity_type, username=username or email, domain=domain or email.split("@")[-1],
                     email=email, firstname=firstname, lastname=lastname, country=country, groups=frozenset(groups))


def rules(**options: object) -> SyncRules:
    options.setdefault("mapping", MAPPING)
    return SyncRules(**options)  # type: ignore[arg-type]


@dataclass
class Run:
    planner: SyncPlanner
    streamed: list[UserCommand] = field(default_factory=list)
    """Commands yielded before ``finish()``."""
    final: list[UserCommand] = field(default_factory=list)
    """Commands yielded by ``finish()``."""

    @property
    def commands(self) -> list[UserCommand]:
        return self.streamed + self.final

    def by_user(self) -> dict[str, UserCommand]:
        return {command.user: command for command in self.commands}


def run(sync_rules: SyncRules, directory: Iterable[DirectoryUser], adobe: Iterable[AdobeUser],
        directory_first: bool = True) -> Run:
    """Feeds one side completely, then the other, then finishes."""
    planner = SyncPlanner(sync_rules)
    result = Run(planner)
    sides = [(directory, planner.add_directory_user, planner.directory_done),
             (adobe, planner.add_adobe_user, planner.adobe_done)]
    for users, add, done in sides if directory_first else reversed(sides):
        for user in users:
            result.streamed += add(user)
        result.streamed += done()
    result.final = planner.finish()
    return result
