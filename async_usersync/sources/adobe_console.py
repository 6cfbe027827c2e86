"""The ``adobe_console`` directory source: another Admin Console org, read through the project's own
UMAPI client with that org's credential, token and throttle (connector-adobe-console.yml).

As User Sync's ``directory_adobe_console.py`` (v2) has it: the org's groups are read first (a selected
group the org does not have is a missing group); then its users, those of another type than
``identity_type_filter`` left out; a user's directory groups are the selected groups it holds there
(names compared ignoring case, carried as the config spells them). ``--users all`` takes every user,
``mapped``/``group`` only those holding a selected group. ``additional_groups`` rules are matched
against every group the user holds in the source org. Each user's type, username, domain, names and
country are the ones the source org lists. A user the source org lists with a type we cannot manage
(UMAPI's ``unknown``) comes as an ``UnreadableDirectoryUser``: its account in the target org is left
as it is.

Users stream page by page as they arrive. Any request that fails (a page, the groups, the token) is
a failed read: a ReadError naming the org and the connector file, so nothing read so far is taken
for the whole directory.
"""

from __future__ import annotations

from typing import Any, AsyncGenerator

from async_usersync.config.settings import AdobeConsoleSettings, UserSelection
from async_usersync.errors import ReadError
from async_usersync.records import AdobeUser, DirectoryRecord, IdentityType
from async_usersync.sources.base import LOG, MissingGroupHandler, build_user
from async_usersync.umapi.client import UmapiClient
from async_usersync.umapi.errors import UmapiError


class AdobeConsoleSource:
    """Users and user groups of another Admin Console org, as a directory."""

    def __init__(self, settings: AdobeConsoleSettings, *, held_groups: bool = False) -> None:
        """``held_groups``: carry every group a user holds in the source org (for ``additional_groups``
        rules), besides the selected ones."""
        self.settings = settings
        self.held_groups = held_groups

    async def users(self, selection: UserSelection, on_missing_group: MissingGroupHandler | None = None
                    ) -> AsyncGenerator[DirectoryRecord, None]:
        """The selected users of the source org (see the module's rules), each once, as pages land.
        A selected group the org lacks is logged ("No group found for: X") and given to
        ``on_missing_group`` before any user. Raises ReadError when any request fails."""
        async with self._client() as client:
            try:
                org_groups = {group.get("groupName", "").lower() async for group in client.groups()}
                wanted: dict[str, list[str]] = {}
                for name in selection.groups:
                    if name.lower() in org_groups:
                        wanted.setdefault(name.lower(), []).append(name)
                        continue
                    LOG.warning("No group found for: %s", name)
                    if on_missing_group is not None:
                        on_missing_group(name)
                skipped: list[dict[str, Any]] = []
                async for adobe_user in client.users(on_skipped=skipped.append):
                    for unreadable in self._unreadable(skipped):
                        yield unreadable
                    user = self._selected_user(adobe_user, wanted, selection.kind == "all")
                    if user is not None:
                        yield user
                for unreadable in self._unreadable(skipped):
                    yield unreadable
            except UmapiError as error:
                raise self._read_error(error) from None

    async def first_page(self) -> list[DirectoryRecord]:
        """Page 0 of the source org's users (the type filter applied, no group read): a probe of the
        connection (``async-usersync check``). Raises ReadError as ``users`` does."""
        async with self._client() as client:
            try:
                page = await client.first_page()
            except UmapiError as error:
                raise self._read_error(error) from None
        return [user for user in (self._selected_user(adobe_user, {}, True) for adobe_user in page) if user is not None]

    def _client(self) -> UmapiClient:
        """The source org's own client: its token and throttle, no sync signals (it is not synced)."""
        return UmapiClient(self.settings.umapi, sync_signals=False)

    def _read_error(self, error: UmapiError) -> ReadError:
        settings = self.settings
        where = f" (integration and server in {settings.file})" if settings.file else ""
        return ReadError(f"the source Admin Console org {settings.umapi.org_id}{where} could not be read: {error}")

    def _unreadable(self, skipped: list[dict[str, Any]]) -> list[DirectoryRecord]:
        """The users of ``skipped`` (user objects the client could make no record of: an ``unknown``
        type), each as an ``UnreadableDirectoryUser`` whatever the selection and the type filter, so
        that its account in the target org is left as it is; ``skipped`` is emptied."""
        org_id = self.settings.umapi.org_id
        records = [build_user(
            f"{item.get('email')} of the source org {org_id}", identity_text=None, identity_field="type",
            default_identity_type=IdentityType.ENTERPRISE_ID, email=item.get("email"), username=item.get("username"),
            domain=item.get("domain"), firstname=None, lastname=None, country=None, groups=frozenset(),
            source_attributes=item, problem=f"its identity type {item.get('type')!r} is not one a sync can manage")
            for item in skipped]
        skipped.clear()
        return [record for record in records if record is not None]

    def _selected_user(self, user: AdobeUser, wanted: dict[str, list[str]], every_user: bool) -> DirectoryRecord | None:
        """The directory user for one user of the source org; None when its type is filtered out or
        (unless ``every_user``) it holds none of the ``wanted`` groups (folded name -> config names)."""
        wanted_type = self.settings.identity_type_filter
        if wanted_type is not None and user.identity_type is not wanted_type:
            return None
        groups = {name for held in user.groups for name in wanted.get(held.lower(), ())}
        if not groups and not every_user:
            return None
        if self.held_groups:
            groups.update(user.groups)
        return build_user(
            f"{user.email} of the source org {self.settings.umapi.org_id}", identity_text=None,
            identity_field="type", default_identity_type=user.identity_type, email=user.email,
            username=user.username, domain=user.domain, firstname=user.firstname, lastname=user.lastname,
            country=user.country, groups=frozenset(groups), origin=f"{user.email} in org {self.settings.umapi.org_id}",
            source_attributes={"email": user.email, "username": user.username, "domain": user.domain,
                               "type": user.identity_type.value, "firstname": user.firstname,
                               "lastname": user.lastname, "country": user.country},
        )
