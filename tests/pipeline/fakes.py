"""In-memory stand-ins at the pipeline's seams, for fast tests of ``pipeline.stages``: a directory
source (``sources.base.DirectorySource``) and an Adobe org client (``pipeline.stages.OrgClient``).
Both record what the stages asked of them; the org client's sink lands every command."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Iterable, Sequence

from async_usersync.errors import UsersyncError
from async_usersync.records import AdobeUser, CommandResult, DirectoryRecord, UserCommand
from async_usersync.sources.base import MissingGroupHandler, UserSelection
from async_usersync.umapi import ActionTotals, GroupResult


@dataclass
class MemorySource:
    """Yields ``users`` in order; raises ``error`` after ``fail_after`` of them (all of them when
    None); tells ``on_missing_group`` each name of ``missing_groups`` before the first user."""

    users_to_read: Sequence[DirectoryRecord]
    error: UsersyncError | None = None
    fail_after: int | None = None
    missing_groups: Sequence[str] = ()
    selections: list[UserSelection] = field(default_factory=list)

    async def users(self, selection: UserSelection, on_missing_group: MissingGroupHandler | None = None
                    ) -> AsyncIterator[DirectoryRecord]:
        self.selections.append(selection)
        for name in self.missing_groups:
            if on_missing_group is not None:
                on_missing_group(name)
        stop = len(self.users_to_read) if self.fail_after is None else self.fail_after
        for user in self.users_to_read[:stop]:
            await asyncio.sleep(0)
            yield user
        if self.error is not None:
            raise self.error


class RecordingSink:
    """Lands every command it is given, at once, and keeps them in ``sent``."""

    def __init__(self, on_result: Callable[[CommandResult], None] | None) -> None:
        self.on_result = on_result
        self.totals = ActionTotals()
        self.sent: list[UserCommand] = []

    async def __aenter__(self) -> RecordingSink:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        return None

    async def send(self, command: UserCommand) -> None:
        self.sent.append(command)
        self.totals.sent += 1
        self.totals.completed += 1
        if self.on_result is not None:
            self.on_result(CommandResult(command))


@dataclass
class FakeOrgClient:
    """An Adobe org held in memory: ``users()`` yields ``adobe_users`` (raising ``error`` after
    ``fail_after`` of them when given), ``groups()`` yields ``group_names``, group creation succeeds."""

    adobe_users: Sequence[AdobeUser] = ()
    error: UsersyncError | None = None
    fail_after: int | None = None
    group_names: Sequence[str] = ()
    sink: RecordingSink | None = None
    groups_created: list[str] = field(default_factory=list)

    def __call__(self, settings: object, *, test_mode: bool = False) -> FakeOrgClient:
        """Stands in for the client's class in ``run_stages(client_type=...)``."""
        return self

    async def __aenter__(self) -> FakeOrgClient:
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        return None

    async def users(self, group: str | None = None) -> AsyncIterator[AdobeUser]:
        stop = len(self.adobe_users) if self.fail_after is None else self.fail_after
        for user in self.adobe_users[:stop]:
            await asyncio.sleep(0)
            if group is None or group in user.groups:
                yield user
        if self.error is not None:
            raise self.error

    async def groups(self) -> AsyncIterator[dict[str, Any]]:
        for name in self.group_names:
            yield {"groupName": name}

    async def create_user_groups(self, names: Iterable[str]) -> list[GroupResult]:
        names = list(names)
        self.groups_created += names
        return [GroupResult(name) for name in names]

    def action_sink(self, on_result: Callable[[CommandResult], None] | None = None) -> RecordingSink:
        self.sink = RecordingSink(on_result)
        return self.sink

    def throttle_report(self) -> dict[str, dict[str, Any]]:
        return {}

    @property
    def sent(self) -> list[UserCommand]:
        """Every command the stages sent, in order."""
        return [] if self.sink is None else self.sink.sent
