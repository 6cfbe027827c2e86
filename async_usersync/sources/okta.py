"""The Okta directory source: the members of the selected Okta groups, over Okta's REST API.

As User Sync's Okta connector (its connector/directory_okta.py): each selected group is looked up
with ``GET /api/v1/groups?q=<group_filter_format>`` and taken only on an exact name match; its
members come from ``GET /api/v1/groups/{id}/users``, page after page through the ``Link: <...>;
rel="next"`` header, and those ``all_users_filter`` keeps become users through the ``user_*_format``
templates over the Okta profile. There is no ``--users all`` and no ``additional_groups``.

A user in several selected groups comes once, with all of them: every group but the last is read
first and its kept members held (their JSON, by Okta id), then the last group streams, each member
taking the groups held for it, and the held users no later group named come at the end.

Every request goes with ``Authorization: SSWS <api_token>`` under one adaptive bucket (the UMAPI
client's ``AdaptiveBucket``): every call here is under /api/v1/groups, which Okta limits as one.
Okta's headers steer it: ``X-Rate-Limit-Remaining: 0`` pauses until ``X-Rate-Limit-Reset`` (epoch
seconds), and a 429 pauses until then and lowers the pace. A read fails (ReadError, exit 3) on any
answer that is not a page: a refused token, a 4xx or 500, a 502/503/504 or a lost answer
``retries`` times, or no request accepted for ``max_outage`` seconds (a 429 storm).
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, AsyncIterator, Mapping
from urllib.parse import quote

import aiohttp
import orjson
from yarl import URL

from async_usersync.config.settings import OktaSettings, UserSelection, template_fields
from async_usersync.errors import ConfigError, ReadError
from async_usersync.records import DirectoryRecord, IdentityType
from async_usersync.sources.base import LOG, EmailCheck, MissingGroupHandler, build_user
from async_usersync.umapi.policy import Backoff
from async_usersync.umapi.throttle import AdaptiveBucket

OktaUser = Mapping[str, Any]
"""One user as Okta's API gives it: ``{"id", "status", "profile": {...}, ...}``."""


class OktaSource:
    """Reads users from an Okta org's groups."""

    def __init__(self, settings: OktaSettings, default_identity_type: IdentityType) -> None:
        self.settings = settings
        self.identity_type = settings.user_identity_type or default_identity_type

    async def users(self, selection: UserSelection, on_missing_group: MissingGroupHandler | None = None
                    ) -> AsyncGenerator[DirectoryRecord, None]:
        """``DirectorySource.users`` over Okta (``mapped`` or ``group``; ``all`` is refused at start).
        A selected group Okta does not have is logged ("No group found for: X", User Sync's words) and
        given to ``on_missing_group``. Raises ReadError when a request fails (see the module docstring),
        ConfigError for ``all`` or a CA bundle that cannot be loaded."""
        if selection.kind == "all":
            raise ConfigError("the okta connector has no notion of all users: give --users mapped or --users group")
        async with okta_api(self.settings) as api:
            found: list[tuple[str, str]] = []
            for name in selection.groups:
                group_id = await api.find_group(name)
                if group_id is None:
                    LOG.warning("No group found for: %s", name)
                    if on_missing_group is not None:
                        on_missing_group(name)
                else:
                    found.append((name, group_id))
            if not found:
                return
            held: dict[str, tuple[OktaUser, set[str]]] = {}
            email_check, built = EmailCheck(f"user_email_format '{self.settings.user_email_format}' in the Okta "
                                            "connector file"), 0
            for name, group_id in found[:-1]:
                async for member in self._kept_members(api, group_id):
                    held.setdefault(str(member.get("id")), (member, set()))[1].add(name)
            last_name, last_id = found[-1]
            async for member in self._kept_members(api, last_id):
                _, groups = held.pop(str(member.get("id")), (member, set()))
                user = self._to_user(member, groups | {last_name}, email_check)
                if user is not None:
                    built += 1
                    yield user
            for member, groups in held.values():
                user = self._to_user(member, groups, email_check)
                if user is not None:
                    built += 1
                    yield user
            email_check.raise_if_every_entry_skipped(built)

    async def first_page(self, groups: tuple[str, ...]) -> list[DirectoryRecord]:
        """Looks up the first of ``groups`` and builds the kept users of its first page of members: a
        probe of the token and the connection, not a read. Raises ReadError as ``users`` does, and
        when that group is not found."""
        async with okta_api(self.settings) as api:
            if not groups:
                return []
            group_id = await api.find_group(groups[0])
            if group_id is None:
                raise ReadError(f"Okta at {self.settings.host} has no group named {groups[0]!r} "
                                f"(looked up with group_filter_format)")
            users: list[DirectoryRecord] = []
            async for member in self._kept_members(api, group_id, first_page_only=True):
                user = self._to_user(member, {groups[0]})
                if user is not None:
                    users.append(user)
            return users

    async def _kept_members(self, api: OktaApi, group_id: str, first_page_only: bool = False
                            ) -> AsyncIterator[OktaUser]:
        """The group's members that ``all_users_filter`` keeps, page by page (only the first page
        with ``first_page_only``)."""
        keep = self.settings.all_users_filter.matches
        async for page in api.pages(f"/api/v1/groups/{quote(group_id, safe='')}/users?limit={self.settings.page_size}"):
            for member in page:
                if isinstance(member, Mapping) and keep(member):
                    yield member
            if first_page_only:
                return

    def _to_user(self, member: OktaUser, groups: set[str], email_check: EmailCheck | None = None) -> DirectoryRecord | None:
        """User Sync's rules (``build_user``) over the values the ``user_*_format`` templates give; a
        member without a valid email is None, noted in ``email_check``."""
        settings = self.settings
        profile = member.get("profile")
        profile = profile if isinstance(profile, Mapping) else {}
        user_id = str(member.get("id"))
        problems: list[str] = []

        def value(template: str | None, key: str) -> str | None:
            if template is None:
                return None
            try:
                return render(template, profile)
            except ValueError as error:
                problems.append(f"{key}: {error}")
                return None

        return build_user(
            f"Okta user {profile.get('login') or user_id} (id {user_id})",
            identity_text=value(settings.user_identity_type_format, "user_identity_type_format"),
            identity_field="user_identity_type_format", default_identity_type=self.identity_type,
            email=value(settings.user_email_format, "user_email_format"),
            username=value(settings.user_username_format, "user_username_format"),
            domain=value(settings.user_domain_format, "user_domain_format"),
            firstname=value(settings.user_given_name_format, "user_given_name_format"),
            lastname=value(settings.user_surname_format, "user_surname_format"),
            country=value(settings.user_country_code_format, "user_country_code_format"),
            groups=frozenset(groups), source_attributes={**profile, "id": user_id}, origin=f"Okta user id {user_id}",
            problem=problems[0] if problems else None, email_check=email_check,
        )


def render(template: str, profile: Mapping[str, Any]) -> str | None:
    """A ``user_*_format`` over an Okta profile: None when a named field is unset or empty (as User
    Sync's formatter). Raises ValueError for a field that holds a list or an object."""
    values: dict[str, str] = {}
    for name in template_fields(template):
        found = profile.get(name)
        if found is None or found == "":
            return None
        if isinstance(found, (list, dict)):
            raise ValueError(f"profile field '{name}' holds {type(found).__name__}, not a single value")
        values[name] = str(found)
    return template.format(**values)


@asynccontextmanager
async def okta_api(settings: OktaSettings) -> AsyncIterator[OktaApi]:
    """An ``OktaApi`` over one aiohttp session, closed at the end. Raises ConfigError for a CA bundle
    that cannot be loaded."""
    context = settings.trust.ssl_context(f"Okta at {settings.host}")
    timeout = aiohttp.ClientTimeout(total=settings.timeout)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context, limit=8), timeout=timeout) as session:
        yield OktaApi(settings, session)


class OktaApi:
    """GETs against one Okta org, paced by an ``AdaptiveBucket`` and steered by Okta's rate-limit headers."""

    def __init__(self, settings: OktaSettings, session: aiohttp.ClientSession) -> None:
        self.settings = settings
        self.session = session
        self.bucket = AdaptiveBucket(settings.rate_limit, settings.rate_window)
        self.backoff = Backoff(base=1.0, jitter=0.5, ceiling=30.0)
        self.origin = URL(settings.host).origin()
        self._headers = {"Authorization": f"SSWS {settings.api_token}", "Accept": "application/json",
                         "User-Agent": "async-usersync"}
        self._last_accepted = time.monotonic()

    async def find_group(self, name: str) -> str | None:
        """The id of the Okta group named exactly ``name`` among those ``group_filter_format`` finds, or None."""
        query = self.settings.group_filter_format.format(group=name.strip())
        async for page in self.pages(f"/api/v1/groups?q={quote(query, safe='')}"):
            for group in page:
                profile = group.get("profile") if isinstance(group, Mapping) else None
                if isinstance(profile, Mapping) and profile.get("name") == name.strip():
                    return str(group.get("id"))
        return None

    async def pages(self, path: str) -> AsyncIterator[list[Any]]:
        """Each page (a JSON list) from ``path`` on, following ``Link: rel="next"``. Raises ReadError
        for an answer that is not a list, or a next link to another host (the token would go there)."""
        url: URL | None = self.origin.join(URL(path))
        while url is not None:
            body, next_url = await self._get(url)
            if not isinstance(body, list):
                raise ReadError(f"Okta at {self.settings.host} answered {url.path} with something other than a list")
            yield body
            if next_url is not None and next_url.origin() != self.origin:
                raise ReadError(f"Okta at {self.settings.host} gave a next page on another host ({next_url.origin()}); "
                                "the read stops rather than send the API token there")
            url = next_url

    async def _get(self, url: URL) -> tuple[Any, URL | None]:
        """One page: its JSON and the next page's URL. Retries 429s (paced by Okta's reset time) and
        502/503/504 or lost answers (``retries`` attempts), within ``max_outage`` seconds of the last
        accepted request."""
        settings = self.settings
        failures = 0
        while True:
            await self.bucket.acquire()
            try:
                async with self.session.get(url, headers=self._headers, allow_redirects=False) as response:
                    status, headers = response.status, response.headers
                    raw = await response.read()
                    next_link = response.links.get("next")
            except aiohttp.ClientConnectorCertificateError as error:
                raise ReadError(settings.trust.untrusted(f"Okta at {settings.host}", str(error.certificate_error))) from None
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                failures += 1
                problem = f"no answer ({type(error).__name__}: {error})" if str(error) else f"no answer ({type(error).__name__})"
                self._retry_or_fail(url, problem, failures)
                continue
            finally:
                self.bucket.done()
            reset = _reset_seconds(headers.get("X-Rate-Limit-Reset"))
            if status == 200:
                self._accepted()
                if headers.get("X-Rate-Limit-Remaining") == "0" and reset is not None:
                    self.bucket.pause(min(reset, settings.rate_window))
                try:
                    body = orjson.loads(raw)
                except orjson.JSONDecodeError:
                    raise ReadError(f"Okta at {settings.host} answered {url.path} with a body that is not JSON") from None
                next_url = next_link.get("url") if next_link is not None else None
                return body, URL(str(next_url)) if next_url is not None else None
            summary = _error_summary(raw)
            if status == 429:
                wait = reset if reset is not None else self.backoff(1)
                self._check_outage(url, f"rate limited (429{summary}) ", wait)
                self.bucket.throttled(wait)
                continue
            if status in (401, 403):
                raise ReadError(f"Okta at {settings.host} refused the API token ({status}{summary}): check "
                                f"{settings.token_key}; the token must belong to an Okta admin allowed to read "
                                "groups and users")
            if status in (502, 503, 504):
                failures += 1
                self._retry_or_fail(url, f"answer {status}{summary}", failures)
                continue
            raise ReadError(f"Okta at {settings.host} answered {url.path} with {status}{summary}")

    def _accepted(self) -> None:
        self._last_accepted = time.monotonic()
        self.bucket.accepted()

    def _retry_or_fail(self, url: URL, problem: str, failures: int) -> None:
        """After a failed attempt: pause the bucket for a backoff, or raise ReadError after ``retries``."""
        if failures >= self.settings.retries:
            raise ReadError(f"Okta at {self.settings.host}: {url.path} failed {failures} times, last with {problem}")
        wait = self.backoff(failures)
        self._check_outage(url, problem, wait)
        self.bucket.outage(wait)

    def _check_outage(self, url: URL, problem: str, wait: float) -> None:
        """Raises ReadError when waiting ``wait`` more seconds would pass ``max_outage`` without an accepted request."""
        quiet = time.monotonic() + wait - self._last_accepted
        if quiet > self.settings.max_outage:
            raise ReadError(f"Okta at {self.settings.host} accepted no request for {quiet:.0f} s (max_outage "
                            f"{self.settings.max_outage:g} s); the last, {url.path}, was {problem.strip()}")
        LOG.debug("Okta %s: %s; retrying in %.1f s", url.path, problem.strip(), wait)


def _reset_seconds(header: str | None) -> float | None:
    """Seconds until Okta's ``X-Rate-Limit-Reset`` (an epoch time in seconds), at least 0; None when absent."""
    if not header:
        return None
    try:
        return max(0.0, float(header) - time.time())
    except ValueError:
        return None


def _error_summary(raw: bytes) -> str:
    """``: E0000011 Invalid token provided`` from an Okta error body, or '' when it has none."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return ""
    if not isinstance(body, Mapping):
        return ""
    parts = [str(body[key]) for key in ("errorCode", "errorSummary") if body.get(key)]
    return f": {' '.join(parts)}" if parts else ""
