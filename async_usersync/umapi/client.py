"""The async UMAPI client: paged reads handed on as they arrive, and the action sink for writes."""

from __future__ import annotations

import asyncio
import math
import platform
import sys
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Iterable
from urllib.parse import quote

import aiohttp

from async_usersync import __version__
from async_usersync.config.settings import UmapiSettings
from async_usersync.records import AdobeUser, CommandError, CommandResult
from async_usersync.umapi.convert import adobe_user
from async_usersync.umapi.errors import UmapiError, answer_error
from async_usersync.umapi.sink import MAX_ENTRIES, ActionSink
from async_usersync.tls import TlsTrust
from async_usersync.umapi.transport import Reply, Transport
from async_usersync.umapi.wire import AiohttpWire, Wire

YIELD_EVERY = 250
"""Users handed on between two turns of the event loop while a page is converted: a 2,000-user
page would otherwise hold the loop long enough to delay the answers, and so the throttle's clock."""
SYNC_START = "umapi-sync-start"
SYNC_END = "umapi-sync-end"


@dataclass(frozen=True, slots=True)
class GroupResult:
    """The outcome of creating one user group."""

    name: str
    errors: tuple[CommandError, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the group was created (no error)."""
        return not self.errors


@dataclass(slots=True)
class _Page:
    number: int
    items: list[dict[str, Any]]
    last: bool
    page_count: int | None


class UmapiClient:
    """Owns one HTTP session; use as ``async with UmapiClient(settings) as client:``."""

    def __init__(self, settings: UmapiSettings, *, test_mode: bool = False, user_agent: str | None = None,
                 wire: Wire | None = None, sync_signals: bool = True) -> None:
        """``wire`` replaces the aiohttp session (tests put a scripted fake server there).
        ``sync_signals=False`` leaves out the ``Pragma`` sync signals: an org read as a directory
        (the ``adobe_console`` source) is not being synced."""
        self.settings = settings
        self.sync_signals = sync_signals
        self._wire = wire
        self.test_mode = test_mode
        self.user_agent = " ".join(filter(None, (
            user_agent, f"async-usersync/{__version__}", f"aiohttp/{aiohttp.__version__}",
            f"Python/{platform.python_version()}", f"({sys.platform})")))
        self._session: aiohttp.ClientSession | None = None
        self._transport: Transport | None = None
        self._started = False
        self.skipped_users = 0
        """Users of a type this tool cannot manage, left out of ``users()``."""

    async def __aenter__(self) -> "UmapiClient":
        if self._wire is not None:
            self._transport = Transport(self.settings, self._wire)
            return self
        # server.ca_file first, then REQUESTS_CA_BUNDLE / SSL_CERT_FILE, then the system's store.
        trust = TlsTrust.resolve(self.settings.ssl_verify, self.settings.ca_file, keys=self.settings.tls_keys)
        connector = aiohttp.TCPConnector(ssl=trust.ssl_context("UMAPI and Adobe IMS"),
                                         limit=self.settings.max_in_flight)
        self._session = aiohttp.ClientSession(
            # As User Sync's timeout: on connecting and on each wait for data, not on the queue for a connection.
            connector=connector, timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.settings.timeout,
                                                               sock_read=self.settings.timeout),
            headers={"User-Agent": self.user_agent})
        self._transport = Transport(self.settings, AiohttpWire(self._session, self.settings.timeout, trust))
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        if self._transport is not None:
            await self._transport.close()
        if self._session is not None:
            await self._session.close()

    @property
    def transport(self) -> Transport:
        """Throttles and request counters, for reports and benchmarks."""
        if self._transport is None:
            raise RuntimeError("use the client inside 'async with'")
        return self._transport

    def throttle_report(self) -> dict[str, dict[str, Any]]:
        """Per API family (``action``, ``users``, ``groups``): 429s received (``throttled``), seconds
        paused (``paused_seconds``), requests attempted and retried; for the summary JSON and metrics."""
        transport = self.transport
        return {family: {"throttled": bucket.stats.throttled, "paused_seconds": round(bucket.stats.paused_seconds, 3),
                         "attempts": transport.counters[family].attempts, "retries": transport.counters[family].retries}
                for family, bucket in transport.throttles.items()}

    async def users(self, group: str | None = None, *,
                    on_skipped: Callable[[dict[str, Any]], None] | None = None) -> AsyncIterator[AdobeUser]:
        """All users of the org, or the users of ``group``, in the order their pages arrive. A user
        object that makes no record (a type we cannot manage, no email or username) is counted in
        ``skipped_users`` and given to ``on_skipped`` as UMAPI sent it."""
        suffix = f"/{quote(group, safe='')}" if group else ""
        async for page in self._pages("users", lambda number: f"users/{self.settings.org_id}/{number}{suffix}",
                                      {"directOnly": "true"}, "users", group):
            for position, item in enumerate(page, 1):
                user = adobe_user(item)
                if user is None:
                    self.skipped_users += 1
                    if on_skipped is not None:
                        on_skipped(item)
                else:
                    yield user
                if position % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # let answers to the other page requests in meanwhile

    async def first_page(self) -> list[AdobeUser]:
        """Page 0 of the org's users, without the sync signals: a probe of the connection, not a
        sync (``async-usersync check``). Raises UmapiError as ``users`` does."""
        page = await self._page("users", 0, f"users/{self.settings.org_id}/0", {"directOnly": "true"}, "users",
                                None, None)
        return [user for user in map(adobe_user, page.items) if user is not None]

    async def user(self, name: str, domain: str | None = None) -> AdobeUser | None:
        """One user of the org by email, or by a non-email username with its ``domain`` (UMAPI's
        ``GET organizations/{org}/users/{user}``, one request of the ``users`` family). None when
        UMAPI has no such user (404) or it is of a type this tool cannot manage. Raises UmapiError
        (a ReadError) for any other answer."""
        reply = await self.transport.call("users", "GET", f"organizations/{self.settings.org_id}/users/{quote(name, safe='@')}",
                                          params={"domain": domain} if domain else None)
        body = reply.body
        if reply.status == 404:
            return None
        if reply.status != 200 or not isinstance(body, dict) or body.get("result") != "success" \
                or not isinstance(body.get("user"), dict):
            raise answer_error(reply.status, body, "GET", reply.path, reply.request_id, "the answer holds no user")
        return adobe_user(body["user"])

    async def groups(self) -> AsyncIterator[dict[str, Any]]:
        """The org's user groups, product profiles and admin groups, as UMAPI describes them."""
        async for page in self._pages("groups", lambda number: f"groups/{self.settings.org_id}/{number}",
                                      None, "groups", None):
            for item in page:
                yield item

    async def create_user_groups(self, names: Iterable[str]) -> list[GroupResult]:
        """Creates user groups (``ignoreIfAlreadyExists``), ten a request, for ``auto_create``."""
        names = list(dict.fromkeys(names))
        results: list[GroupResult] = []
        params = {"testOnly": "true"} if self.test_mode else None
        for start in range(0, len(names), MAX_ENTRIES):
            chunk = names[start:start + MAX_ENTRIES]
            body = [{"usergroup": name, "requestID": f"group_{start + index}",
                     "do": [{"createUserGroup": {"option": "ignoreIfAlreadyExists"}}]}
                    for index, name in enumerate(chunk)]
            try:
                reply = await self.transport.call("action", "POST", f"action/{self.settings.org_id}",
                                                  params=params, body=body, pragma=self._opening_signal())
                if reply.status != 200 or not isinstance(reply.body, dict):
                    raise answer_error(reply.status, reply.body, "POST", reply.path, reply.request_id)
            except UmapiError as error:
                failure = (CommandError("request", error.code, str(error)),)
                results.extend(GroupResult(name, failure) for name in chunk)
                continue
            failed: dict[int, list[CommandError]] = {}
            for entry in reply.body.get("errors") or []:
                index = entry.get("index") if isinstance(entry, dict) else None
                if isinstance(index, int) and 0 <= index < len(chunk):
                    failed.setdefault(index, []).append(CommandError(
                        "createUserGroup", str(entry.get("errorCode")), str(entry.get("message", ""))))
            results.extend(GroupResult(name, tuple(failed.get(index, ()))) for index, name in enumerate(chunk))
        return results

    def action_sink(self, on_result: Callable[[CommandResult], None] | None = None,
                    linger: float = 0.5) -> ActionSink:
        """The sink for user commands; use as ``async with client.action_sink(...) as sink:``. With
        ``server.user_group_entries`` (the default) it packs shared user-group changes into entries
        rooted at the group, reading the group listing once at the end of the stream."""
        return ActionSink(self.transport, test_mode=self.test_mode, on_result=on_result, linger=linger,
                          read_groups=self.groups if self.settings.user_group_entries else None)

    def _opening_signal(self) -> str | None:
        """``umapi-sync-start`` on the client's very first request, whatever it is (user-sync#813)."""
        if self._started or not self.sync_signals:
            return None
        self._started = True
        return SYNC_START

    async def _pages(self, family: str, path_of: Callable[[int], str], params: dict[str, str] | None,
                     key: str, group: str | None) -> AsyncIterator[list[dict[str, Any]]]:
        """Page 0, then every further page at once (the throttle paces them), yielded as each lands.

        A page past the end comes back as the last page again, so of the pages marked ``lastPage``
        only the lowest-numbered one counts. The full users read ends with ``umapi-sync-end`` on its
        last page; when page 0 (which carries the client's start signal) is the whole read, the end
        goes on a request for page 1, whose answer (that last page again) is not read twice. When the org grew during the read, pages are read on
        one by one until ``lastPage``; an empty page ends the read as well.
        """
        signal_end = self.sync_signals and family == "users" and group is None
        first = await self._page(family, 0, path_of(0), params, key, group, self._opening_signal())
        count = (first.page_count or 0) if first.items and not first.last else 0
        slots = asyncio.Semaphore(self.settings.max_in_flight)
        landed: asyncio.Queue[_Page | Exception] = asyncio.Queue()

        async def fetch(number: int) -> None:
            # Pages go through a queue, not the tasks' results (a finished task and asyncio.as_completed
            # keep those for the whole read). The slot is freed once the page is handed on, so pages
            # fetched faster than they are consumed (an unthrottled server) wait on the wire, not in memory.
            await slots.acquire()
            pragma = SYNC_END if signal_end and number == count - 1 else None
            try:
                landed.put_nowait(await self._page(family, number, path_of(number), params, key, group, pragma))
            except Exception as error:  # the reader raises it
                landed.put_nowait(error)

        tasks = [asyncio.create_task(fetch(number)) for number in range(1, count)]  # before page 0 is handed on
        final_page: _Page | None = None
        try:
            yield first.items
            if first.last or not first.items:
                if signal_end:  # page 0 went out with the start signal: the end needs a request of its own
                    with suppress(UmapiError):  # every user is read: a lost signal fails nothing
                        await self._page(family, 1, path_of(1), params, key, group, SYNC_END)
                return
            for _ in tasks:
                page = await landed.get()
                if isinstance(page, Exception):
                    raise page
                try:
                    if page.last:
                        if final_page is None or page.number < final_page.number:
                            final_page = page
                    elif page.items:
                        yield page.items
                finally:
                    slots.release()
        finally:
            for task in tasks:
                task.cancel()
        if final_page is not None:
            yield final_page.items
            return
        number = max(count, 1)
        while True:
            page = await self._page(family, number, path_of(number), params, key, group, None)
            if page.items:
                yield page.items
            if page.last or not page.items:
                return
            number += 1

    async def _page(self, family: str, number: int, path: str, params: dict[str, str] | None, key: str,
                    group: str | None, pragma: str | None) -> _Page:
        reply = await self.transport.call(family, "GET", path, params=params, pragma=pragma)
        body = reply.body
        if reply.status == 404 and group is not None:
            raise UmapiError(f"Adobe group '{group}' not found (reading its users)", code="error.group.not_found",
                             status=404, request_id=reply.request_id)
        # Anything but a success carrying the list is a failed read, never an empty org (issue 10):
        # a 404 from a wrong server.endpoint would otherwise queue every directory user for creation.
        if reply.status != 200 or not isinstance(body, dict) or body.get("result") != "success" \
                or not isinstance(body.get(key), list):
            raise answer_error(reply.status, body, "GET", reply.path, reply.request_id,
                               f"the answer holds no list of {key}")
        return _Page(number, body[key], bool(body.get("lastPage")), _page_count(reply))


def _page_count(reply: Reply) -> int | None:
    """X-Page-Count, or else X-Total-Count over X-Page-Size (both string headers)."""
    headers = reply.headers
    try:
        count = int(headers.get("X-Page-Count", "0"))
        if count > 0:
            return count
        total, size = int(headers.get("X-Total-Count", "0")), int(headers.get("X-Page-Size", "0"))
    except ValueError:
        return None
    return math.ceil(total / size) if total > 0 and size > 0 else None
