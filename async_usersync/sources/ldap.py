"""The LDAP directory source: users streamed page by page through bonsai.

How a selection is read (User Sync's queries, without its full-directory lists):
- ``all``: one paged search of ``all_users_filter``.
- ``mapped`` / ``group``: each group's DN is found with ``group_filter_format``, then its members
  with ``(&<group_member_filter_format><all_users_filter>)``; no full scan.
- ``two_steps_lookup``: the group's member attribute is read (with Active Directory range
  retrieval past 1,500 values, and recursion into member groups when ``nested_group``), then
  each member entry is read once.

A user in several selected groups is yielded once, with all of them. To stream and still know
every group at the first sighting, a selection of several groups starts with a DN-only pass
(attribute ``1.1``) per group: that keeps one DN and its group names per member in memory, far
less than the users themselves, then the full entries stream and repeats are skipped.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing, asynccontextmanager
from typing import AsyncGenerator, AsyncIterator, Callable, Iterable

import bonsai
from bonsai import LDAPSearchScope

from async_usersync.config.settings import SASL_MECHANISMS, LdapSettings, TwoStepsLookup, UserSelection
from async_usersync.errors import ReadError
from async_usersync.records import DirectoryRecord, DirectoryUser, IdentityType, UnreadableDirectoryUser
from async_usersync.sources.base import LOG, EmailCheck, MissingGroupHandler, build_user
from async_usersync.sources.ldap_connection import (
    ConnectionPlan, ConnectionPool, LdapConnection, PagedSearch, stream_pages,
)
from async_usersync.sources.ldap_values import (
    AttributeTemplate, EntryValues, Value, escape_filter_value, dn_key, first_rdn_value, is_ad_partition, is_under,
    ranged_values, referred_dn,
)

__all__ = ["LdapSource"]

LOOKUP_CHUNK = 50
"""Member entries read per worker call in two-step lookups."""

Membership = dict[str, set[str]]
"""dn_key -> names of the selected groups the entry belongs to."""

_unverified_tls_used = False
"""libldap keeps its TLS context process-wide: once a connection skipped certificate checks,
later ones in the same process skip them too, whatever they ask. So we refuse them."""


def user_templates(settings: LdapSettings) -> dict[str, AttributeTemplate]:
    """The ``user_*_format`` keys that are set -> their value formats (User Sync's templates)."""
    formats = {
        "user_email_format": settings.user_email_format, "user_username_format": settings.user_username_format,
        "user_domain_format": settings.user_domain_format, "user_given_name_format": settings.user_given_name_format,
        "user_surname_format": settings.user_surname_format,
        "user_country_code_format": settings.user_country_code_format,
        "user_identity_type_format": settings.user_identity_type_format,
    }
    return {key: AttributeTemplate(text) for key, text in formats.items() if text is not None}


class LdapSource:
    """Reads users from an LDAP server or Active Directory."""

    def __init__(self, settings: LdapSettings, default_identity_type: IdentityType, *,
                 extra_attributes: Iterable[str] = (), pool_size: int = 4) -> None:
        """``extra_attributes`` are read into ``source_attributes`` too (User Sync's extended
        attributes); ``pool_size`` bounds the connections open at once."""
        self.settings = settings
        self.identity_type = settings.user_identity_type or default_identity_type
        self.pool_size = pool_size
        templates = user_templates(settings)
        names: dict[str, str] = {}
        for template in templates.values():
            names.update((name.lower(), name) for name in template.attribute_names)
        names.update((name.lower(), name) for name in extra_attributes)
        if settings.dynamic_group_member_attribute:
            names[settings.dynamic_group_member_attribute.lower()] = settings.dynamic_group_member_attribute
        self.attribute_names = list(names.values())
        """What every user search requests: only what the formats and hooks need."""
        self._spelling = names
        """Lower-cased name -> the spelling a user's values (and source_attributes) use."""
        self._key_of_returned: dict[str, str] = {"dn": ""}
        """The server's spelling of an attribute -> ours ("" for attributes we did not ask for)."""
        keyed = {key: template.keyed_by(names) for key, template in templates.items()}
        self._email_format = keyed["user_email_format"]
        self._username_format = keyed.get("user_username_format")
        self._domain_format = keyed.get("user_domain_format")
        self._given_name_format = keyed["user_given_name_format"]
        self._surname_format = keyed["user_surname_format"]
        self._country_format = keyed["user_country_code_format"]
        self._identity_type_format = keyed.get("user_identity_type_format")
        self._identity_type_text = settings.user_identity_type_format or ""
        self._email_check = EmailCheck(f"user_email_format '{settings.user_email_format}' in the LDAP connector file")
        """The current read's watch on entries without an email (``users`` starts each read afresh)."""
        self._gaps: list[str] = []
        """Why the read is incomplete: entries that could not even be identified (appended from
        the connections' worker threads)."""
        self._dynamic_group_key = (names[settings.dynamic_group_member_attribute.lower()]
                                   if settings.dynamic_group_member_attribute else None)

    async def users(self, selection: UserSelection, on_missing_group: MissingGroupHandler | None = None
                    ) -> AsyncGenerator[DirectoryRecord, None]:
        """``DirectorySource.users`` over LDAP: ``--users all`` pages through the user filter, ``mapped``
        and ``group`` read the named groups' members (or use ``two_steps_lookup``). Raises ReadError when
        the server cannot be reached or refuses, when ``base_dn`` is missing, or (after the users) when a
        referral or an unidentifiable entry means users were missed."""
        self._gaps.clear()
        email_check = self._email_check
        email_check.skipped = False
        built = 0
        async with self._pool() as pool:
            await self._check_base_dn(pool)
            groups = await self._resolve_groups(pool, selection.groups)
            if on_missing_group is not None:
                for name in selection.groups:
                    if name not in groups:
                        on_missing_group(name)
            if self.settings.two_steps_lookup is not None:
                pages = self._two_steps_users(pool, selection, groups, self.settings.two_steps_lookup)
            elif selection.kind == "all":
                pages = self._all_users(pool, groups)
            else:
                pages = self._group_members(pool, groups)
            async with aclosing(pages) as stream:
                async for page in stream:
                    built += len(page)
                    for user in page:
                        yield user
            self._check_complete(pool.plan.references)
        email_check.raise_if_every_entry_skipped(built)

    async def first_page(self) -> list[DirectoryRecord]:
        """Connects and binds, checks ``base_dn`` and reads the first page of ``all_users_filter``
        (``search_page_size`` entries at most): a probe of the connection, not a read of the
        directory. Raises ReadError as ``users`` does."""
        async with self._pool() as pool:
            await self._check_base_dn(pool)
            async with aclosing(self._stream(pool, self.settings.all_users_filter, None)) as stream:
                async for page in stream:
                    return page
        return []

    def _check_complete(self, references: set[str]) -> None:
        """Logs every referral and search continuation reference with its URL, and raises
        ReadError when the read missed users: a reference pointing under base_dn (unless
        ``ignore_referrals``), or an entry that could not be identified. Active Directory's
        references to its DomainDnsZones, ForestDnsZones and Configuration partitions, which it
        returns for searches from the domain root, are expected and only logged."""
        base_dn = self.settings.base_dn
        missed = []
        for url in sorted(references):
            referred = referred_dn(url)
            if is_ad_partition(referred):
                LOG.info("Ignoring Active Directory's reference to its partition %s", url)
            elif referred and not is_under(referred, base_dn):
                LOG.warning("The LDAP server returned a reference to %s, outside base_dn '%s': not followed", url, base_dn)
            elif self.settings.ignore_referrals:
                LOG.warning("The LDAP server returned a reference to %s, under base_dn '%s': the entries there "
                            "were not read (ignore_referrals: true)", url, base_dn)
            else:
                LOG.error("The LDAP server returned a reference to %s, under base_dn '%s': the entries there "
                          "were not read", url, base_dn)
                missed.append(url)
        if missed:
            raise ReadError(f"the directory read is incomplete: {len(missed)} referral(s) under base_dn '{base_dn}' "
                            f"were not followed ({', '.join(missed)}), so their users look gone; read them through a "
                            "base_dn on the server they point to, or set ignore_referrals: true in connector-ldap.yml "
                            "if they hold no users to sync")
        if self._gaps:
            raise ReadError(f"the directory read is incomplete: {len(self._gaps)} entr{'y' if len(self._gaps) == 1 else 'ies'} "
                            f"could not be identified ({'; '.join(self._gaps[:3])}{'; ...' if len(self._gaps) > 3 else ''})")

    # Users, a page (a list) at a time: one step through these generators per page, not per user.

    async def _all_users(self, pool: ConnectionPool, groups: dict[str, str]) -> AsyncGenerator[list[DirectoryRecord], None]:
        membership = await self._membership(pool, groups)
        labels_of = membership.get if membership else None
        async with aclosing(self._stream(pool, self.settings.all_users_filter, labels_of)) as stream:
            async for page in stream:
                yield page

    async def _group_members(self, pool: ConnectionPool, groups: dict[str, str]) -> AsyncGenerator[list[DirectoryRecord], None]:
        membership = await self._membership(pool, groups) if len(groups) > 1 else {}
        seen: set[str] = set()
        for name, group_dn in groups.items():
            def labels(key: str, name: str = name) -> set[str]:
                return membership.get(key) or {name}
            async with aclosing(self._stream(pool, self.member_filter(group_dn), labels, seen)) as stream:
                async for page in stream:
                    yield page

    async def _two_steps_users(self, pool: ConnectionPool, selection: UserSelection, groups: dict[str, str],
                               lookup: TwoStepsLookup) -> AsyncGenerator[list[DirectoryRecord], None]:
        members = await self._two_step_members(pool, groups, lookup)
        if selection.kind == "all":
            labels_of = {key: labels for key, (_, labels) in members.items()}
            async with aclosing(self._stream(pool, self.settings.all_users_filter, labels_of.get)) as stream:
                async for page in stream:
                    yield page
        else:
            async with aclosing(self._read_members(pool, members)) as stream:
                async for page in stream:
                    yield page

    # Connections.

    @asynccontextmanager
    async def _pool(self) -> AsyncIterator[ConnectionPool]:
        settings = self.settings
        self._guard_tls_verification()
        plan = ConnectionPlan(make_client=self._make_client, url=settings.host,
                              bind_name=settings.username or "anonymous",
                              trust=settings.trust if settings.uses_tls else None,
                              connect_timeout=settings.connect_timeout, operation_timeout=settings.search_timeout,
                              string_encoding=settings.string_encoding)
        pool = ConnectionPool(plan, self.pool_size)
        try:
            yield pool
        finally:
            await pool.close()

    def _guard_tls_verification(self) -> None:
        global _unverified_tls_used
        if not self.settings.uses_tls:
            return
        if not self.settings.tls_verify:
            self.settings.trust.warn_if_unverified(f"the LDAP server at {self.settings.host}")
            _unverified_tls_used = True
        elif _unverified_tls_used:
            raise ReadError("certificate verification was turned off (tls_verify: false) for an earlier LDAP "
                            "connection of this process, and libldap would keep it off: start a new process")

    def _make_client(self) -> bonsai.LDAPClient:
        settings = self.settings
        client = bonsai.LDAPClient(settings.host, tls=settings.uses_start_tls)
        if settings.authentication_method != "anonymous":
            client.set_credentials(SASL_MECHANISMS[settings.authentication_method],
                                   user=settings.username, password=settings.password)
        client.set_cert_policy("demand" if settings.tls_verify else "never")
        if settings.ca_cert_file is not None:
            client.set_ca_cert(str(settings.ca_cert_file))
        client.set_auto_page_acquire(False)
        client.set_ignore_referrals(False)  # a referral under base_dn means users we did not read
        # Raw bytes, decoded with string_encoding: bonsai would turn "0123" into 123 and "TRUE" into True.
        client.set_raw_attributes(self.attribute_names)
        return client

    async def _check_base_dn(self, pool: ConnectionPool) -> None:
        """A plain search under a missing base returns nothing rather than an error, so the base
        is checked first: a wrong base_dn must not read as an empty directory."""
        base_dn = self.settings.base_dn
        if not base_dn:
            return
        async with pool.connection() as connection:
            found = await connection.call(connection.search, base_dn, LDAPSearchScope.BASE, "(objectClass=*)", ["1.1"])
        if not found:
            raise ReadError(f"base_dn '{base_dn}' does not exist on the LDAP server at {self.settings.host}")

    # Groups.

    async def _resolve_groups(self, pool: ConnectionPool, names: tuple[str, ...]) -> dict[str, str]:
        """Group name -> DN, in the order given. A group that is not found is left out with a warning
        (``users`` then reports it to ``on_missing_group``)."""
        async def resolve(name: str) -> tuple[str, str | None]:
            group_filter = self.settings.group_filter_format.format(group=escape_filter_value(name))
            async with pool.connection() as connection:
                found = await connection.call(connection.search, self.settings.base_dn, LDAPSearchScope.SUBTREE,
                                              group_filter, ["1.1"])
            if len(found) > 1:
                raise ReadError(f"more than one group matches the name '{name}' "
                                f"({', '.join(dn for dn, _ in found)}); make group_filter_format more specific")
            if not found:
                LOG.warning("No group found for: %s", name)
                return name, None
            return name, found[0][0]

        resolved = await asyncio.gather(*(resolve(name) for name in dict.fromkeys(names)))
        return {name: dn for name, dn in resolved if dn is not None}

    def member_filter(self, group_dn: str) -> str:
        """The search for a group's members: its member filter (DN escaped) ANDed with all_users_filter."""
        membership_test = self.settings.group_member_filter_format.format(group_dn=escape_filter_value(group_dn))
        return f"(&{membership_test}{self.settings.all_users_filter})"

    async def _membership(self, pool: ConnectionPool, groups: dict[str, str]) -> Membership:
        """The DN-only pass: which selected groups each member is in."""
        membership: Membership = {}

        async def collect(name: str, group_dn: str) -> None:
            search = PagedSearch(self.settings.base_dn, LDAPSearchScope.SUBTREE, self.member_filter(group_dn),
                                 ["1.1"], self.settings.search_page_size)

            def to_keys(page: list[bonsai.LDAPEntry]) -> list[str]:
                return [dn_key(str(entry.dn)) for entry in page]

            async with pool.connection() as connection, aclosing(stream_pages(connection, search, to_keys)) as stream:
                async for keys in stream:
                    for key in keys:
                        membership.setdefault(key, set()).add(name)

        await asyncio.gather(*(collect(name, dn) for name, dn in groups.items()))
        return membership

    async def _two_step_members(self, pool: ConnectionPool, groups: dict[str, str],
                                lookup: TwoStepsLookup) -> dict[str, tuple[str, set[str]]]:
        """dn_key -> (member DN, selected group names), read from the groups' member attribute (a
        selected group without any value of it gets a warning). Member DNs outside base_dn are
        ignored, as in User Sync."""
        members: dict[str, tuple[str, set[str]]] = {}
        for name, group_dn in groups.items():
            visited = {dn_key(group_dn)}
            pending = [group_dn]
            async with pool.connection() as connection:
                while pending:
                    group = pending.pop()
                    values = await connection.call(self._member_values, connection, group, lookup.member_attribute)
                    if not values and group == group_dn:  # an empty group, or a misspelt attribute name
                        LOG.warning("The group %s (%s) has no '%s' values (two_steps_lookup."
                                    "group_member_attribute_name of the LDAP connector): it is read as a group "
                                    "without members", name, group_dn, lookup.member_attribute)
                    inside = [dn for dn in values if isinstance(dn, str) and is_under(dn, self.settings.base_dn)]
                    nested = set(await connection.call(self._groups_among, connection, inside, lookup.member_attribute)
                                 ) if lookup.nested else set()
                    for dn in inside:
                        key = dn_key(dn)
                        if dn in nested:
                            if key not in visited:
                                visited.add(key)
                                pending.append(dn)
                            continue
                        members.setdefault(key, (dn, set()))[1].add(name)
        return members

    @staticmethod
    def _member_values(connection: LdapConnection, group_dn: str, attribute: str) -> list[str | bytes]:
        """All values of a group's member attribute, following range retrieval (runs on the worker)."""
        values: list[str | bytes] = []
        request: str | None = attribute
        while request is not None:
            found = connection.search(group_dn, LDAPSearchScope.BASE, "(objectClass=*)", [request])
            if not found:
                break
            page, request = ranged_values(attribute, found[0][1])
            values.extend(page)
        return values

    @staticmethod
    def _groups_among(connection: LdapConnection, dns: list[str], attribute: str) -> list[str]:
        """The DNs that carry the member attribute, i.e. nested groups (runs on the worker)."""
        return [dn for dn in dns if connection.search(dn, LDAPSearchScope.BASE, f"({attribute}=*)", ["1.1"])]

    # Entries to users.

    async def _stream(self, pool: ConnectionPool, filter_text: str, labels_of: Callable[[str], set[str] | None] | None,
                      seen: set[str] | None = None) -> AsyncGenerator[list[DirectoryRecord], None]:
        """Streams one paged user search, page by page; ``labels_of(dn_key)`` gives the selected groups (None:
        there are none), ``seen`` the DNs already yielded by an earlier search."""
        def to_users(page: list[bonsai.LDAPEntry]) -> list[DirectoryRecord]:
            users = []
            for entry in page:
                dn = str(entry.dn)
                labels: set[str] = NO_LABELS
                if labels_of is not None:
                    key = dn_key(dn)
                    if seen is not None:
                        if key in seen:
                            continue
                        seen.add(key)
                    labels = labels_of(key) or labels
                user = self.to_user(dn, self.values_of(entry), labels)
                if user is not None:
                    users.append(user)
            return users

        search = PagedSearch(self.settings.base_dn, LDAPSearchScope.SUBTREE, filter_text, self.attribute_names,
                             self.settings.search_page_size)
        async with pool.connection() as connection, aclosing(stream_pages(connection, search, to_users)) as stream:
            async for users in stream:
                yield users

    async def _read_members(self, pool: ConnectionPool, members: dict[str, tuple[str, set[str]]]
                            ) -> AsyncGenerator[list[DirectoryRecord], None]:
        """Reads each two-step member entry once, a chunk per worker call, chunks in parallel."""
        wanted = list(members.values())
        users_filter = self.settings.all_users_filter

        def read_chunk(connection: LdapConnection, chunk: list[tuple[str, set[str]]]) -> list[DirectoryRecord]:
            users = []
            for dn, labels in chunk:
                for entry in connection.search_entries(dn, LDAPSearchScope.BASE, users_filter, self.attribute_names):
                    user = self.to_user(str(entry.dn), self.values_of(entry), labels)
                    if user is not None:
                        users.append(user)
            return users

        async def read(chunk: list[tuple[str, set[str]]]) -> list[DirectoryRecord]:
            async with pool.connection() as connection:
                return await connection.call(read_chunk, connection, chunk)

        tasks = [asyncio.ensure_future(read(wanted[start:start + LOOKUP_CHUNK]))
                 for start in range(0, len(wanted), LOOKUP_CHUNK)]
        try:
            for finished in asyncio.as_completed(tasks):
                yield await finished
        finally:
            for task in tasks:
                task.cancel()

    def values_of(self, entry: bonsai.LDAPEntry) -> dict[str, Value | tuple[Value, ...]]:
        """The requested attributes of an entry, decoded with string_encoding (bytes where that
        fails), under our spelling of each name. Read straight from bonsai's entry (a dict):
        its own accessors are case-insensitive and slow."""
        encoding = self.settings.string_encoding
        key_of = self._key_of_returned
        values: dict[str, Value | tuple[Value, ...]] = {}
        entry_values: dict[str, list[bytes]] = entry
        for name, raw in dict.items(entry_values):
            key = key_of.get(name)
            if key is None:
                key = key_of[name] = self._spelling.get(name.lower(), "")
            if not key or not raw:
                continue
            if len(raw) == 1:
                try:
                    values[key] = raw[0].decode(encoding)
                except UnicodeDecodeError:
                    values[key] = raw[0]
            else:
                values[key] = tuple(_decoded(value, encoding) for value in raw)
        return values

    def to_user(self, dn: str, values: EntryValues, labels: set[str]) -> DirectoryUser | UnreadableDirectoryUser | None:
        """Applies the user formats to one entry's values (which become its source_attributes).
        A value that does not decode makes the entry an UnreadableDirectoryUser naming the DN and
        the attribute; when it is the email, username or domain, even that cannot be built, so the
        entry is recorded as a gap in the read (``ReadError`` at its end) and None is returned."""
        where = f"with DN '{dn}'"
        encoding = self.settings.string_encoding
        try:
            email = self._email_format.render(values)
            username = self._username_format.render(values) if self._username_format else None
            domain = self._domain_format.render(values) if self._domain_format else None
        except UnicodeError as error:
            self._gaps.append(f"the entry {where} cannot be identified: {error} with string_encoding {encoding}")
            LOG.error("The entry %s cannot be identified: %s with string_encoding %s", where, error, encoding)
            return None
        problem: str | None = None
        firstname = lastname = country = identity_text = None
        try:
            firstname = self._given_name_format.render(values)
            lastname = self._surname_format.render(values)
            country = self._country_format.render(values)
            identity_text = self._identity_type_format.render(values) if self._identity_type_format else None
        except UnicodeError as error:
            problem = f"{error} with string_encoding {encoding}"
        groups = labels
        if self._dynamic_group_key is not None:
            found = values.get(self._dynamic_group_key, ())
            groups = set(labels)
            groups.update(first_rdn_value(group_dn) for group_dn in (found if isinstance(found, tuple) else (found,))
                          if isinstance(group_dn, str))
        return build_user(
            where, identity_text=identity_text, identity_field=f"user_identity_type_format '{self._identity_type_text}'",
            default_identity_type=self.identity_type, email=email, username=username, domain=domain,
            firstname=firstname, lastname=lastname, country=country,
            groups=frozenset(groups) if groups else NO_GROUPS, source_attributes=values, origin=dn, problem=problem,
            email_check=self._email_check,
        )


NO_LABELS: set[str] = set()
"""The labels of a user read with no selected groups (never modified)."""
NO_GROUPS: frozenset[str] = frozenset()
"""Shared by every user in no group: an empty frozenset is a new object of 216 bytes each time."""


def _decoded(value: bytes, encoding: str) -> Value:
    try:
        return value.decode(encoding)
    except UnicodeDecodeError:
        return value
