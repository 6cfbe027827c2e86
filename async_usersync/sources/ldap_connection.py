"""bonsai connections driven from worker threads, behind a small pool.

Why not bonsai's asyncio adapter: measured on bonsai 1.5.5 (benchmarks/ldap_read.py), it burns
a full core while it waits for a slow server (it polls the socket for writability), its connect
blocks the event loop, and two operations on one connection lose each other's replies. Why not
its blocking connection either: a paged search whose timeout expires crashes the process
(segmentation fault, found by tests/sources/test_ldap_failures.py).

So each connection is bonsai's non-blocking connection, waited on with select() from a worker
thread (the GIL is released while it sleeps), with our own deadline. Connects run on the worker
after a probe from the event loop (TCP, and on ldaps:// the TLS handshake, which bonsai runs
holding the GIL). Each connection owns one daemon worker thread, so its operations run one at a
time, in order, closing it can never race an operation still in flight, and a thread stuck on a
dead server cannot hold up the process's exit.
"""

from __future__ import annotations

import asyncio
import os
import select
import time
import queue
import ssl
import threading
from concurrent.futures import Future
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncGenerator, AsyncIterator, Callable, Iterable, TypeVar
from urllib.parse import urlsplit

import bonsai
from bonsai import LDAPReference, LDAPSearchScope
from bonsai._bonsai import ldapconnection
from bonsai.ldapconnection import BaseLDAPConnection

from async_usersync.errors import ReadError
from async_usersync.sources.ldap_values import Attributes
from async_usersync.tls import TlsTrust

T = TypeVar("T")
Entry = tuple[str, Attributes]
"""A read entry: its DN and its attributes (lower-cased names)."""


FALLBACK_POLL_SECONDS = 0.05
"""Longest sleep between two checks, for replies TLS has already buffered (the socket stays quiet)."""
BURST_SECONDS = 0.001
"""After the socket wakes us, keep collecting without sleeping for this long: bonsai takes one
message (one entry) per check, and a sleep per entry would hand the GIL over a thousand times a page."""


class OperationTimeout(Exception):
    """The server did not complete an operation in time."""


class ThreadWaitConnection(BaseLDAPConnection):
    """bonsai's non-blocking connection, waited on by the calling (worker) thread."""

    def __init__(self, client: bonsai.LDAPClient) -> None:
        super().__init__(client, is_async=True)

    def _evaluate(self, msg_id: int, timeout: float | None = None) -> object:
        deadline = None if timeout is None else time.monotonic() + timeout
        burst_until = 0.0
        while True:
            result = ldapconnection.get_result(self, msg_id)
            if result is not None:
                return result
            now = time.monotonic()
            if now < burst_until:
                continue
            wait = FALLBACK_POLL_SECONDS if deadline is None else min(FALLBACK_POLL_SECONDS, deadline - now)
            if wait <= 0:
                raise OperationTimeout()
            descriptor = self.fileno()
            if descriptor < 0:
                time.sleep(wait)
            elif select.select([descriptor], [], [], wait)[0]:
                burst_until = time.monotonic() + BURST_SECONDS

    def get_result(self, msg_id: int, timeout: float | None = None) -> object:
        """bonsai's result for ``msg_id``, waited for on this thread (``timeout`` in seconds, None: no
        limit). Raises ``OperationTimeout`` when it passes."""
        return self._evaluate(msg_id, timeout)


@dataclass(frozen=True)
class ConnectionPlan:
    """Everything needed to open and use connections to one server."""

    make_client: Callable[[], bonsai.LDAPClient]
    url: str
    bind_name: str
    trust: TlsTrust | None
    """How the certificate is checked when the connection is encrypted (ldaps:// or StartTLS), else
    None; it words the remedy when TLS fails."""
    connect_timeout: float
    operation_timeout: float
    string_encoding: str
    references: set[str] = field(default_factory=set)
    """The URLs of every referral and search continuation reference the searches returned
    (the client must not ignore them); filled from the worker threads, judged by the source."""


class DaemonWorker:
    """One daemon thread that runs calls in the order given. Unlike ThreadPoolExecutor, whose
    threads the interpreter joins at exit, a call stuck in libldap on a dead server cannot keep
    the process from exiting."""

    def __init__(self) -> None:
        self._calls: queue.SimpleQueue[tuple[Future[object], Callable[..., object], tuple[object, ...]] | None] = (
            queue.SimpleQueue())
        threading.Thread(target=self._run, name="ldap-worker", daemon=True).start()

    def submit(self, work: Callable[..., T], *args: object) -> Future[T]:
        """Queues ``work(*args)`` for the thread; the future holds its result or exception."""
        future: Future[T] = Future()
        self._calls.put((future, work, args))  # type: ignore[arg-type]
        return future

    def stop(self) -> None:
        """Ends the thread after the calls already given."""
        self._calls.put(None)

    def _run(self) -> None:
        while (call := self._calls.get()) is not None:
            future, work, args = call
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(work(*args))
            except BaseException as error:  # handed to the awaiting task
                future.set_exception(error)


class LdapConnection:
    """One bonsai connection; every call runs on its own worker thread."""

    def __init__(self, plan: ConnectionPlan) -> None:
        self.plan = plan
        self._worker = DaemonWorker()
        self._connection: ThreadWaitConnection | None = None
        self._lowered_names: dict[str, str] = {}
        self.healthy = True

    @property
    def raw(self) -> ThreadWaitConnection:
        """The bonsai connection; only for code running on this connection's thread."""
        assert self._connection is not None, "connection not open"
        return self._connection

    async def call(self, work: Callable[..., T], *args: object) -> T:
        """Runs ``work(*args)`` on this connection's thread; LDAP errors become ReadError."""
        try:
            return await asyncio.wrap_future(self._worker.submit(self._guarded, work, args))
        except BaseException:
            self.healthy = False
            raise

    def _guarded(self, work: Callable[..., T], args: tuple[object, ...]) -> T:
        try:
            return work(*args)
        except (bonsai.LDAPError, OperationTimeout) as error:
            raise describe_error(error, self.plan) from None

    async def open(self) -> None:
        """Connects and binds on the worker thread. Raises ReadError when that fails or takes longer
        than ``connect_timeout`` seconds."""
        await self.call(self._open_blocking)

    def _open_blocking(self) -> None:
        try:
            self._connection = ThreadWaitConnection(self.plan.make_client()).open(timeout=self.plan.connect_timeout)
        except OperationTimeout:
            raise ReadError(f"the LDAP server at {self.plan.url} did not complete the connection and bind "
                            f"within {self.plan.connect_timeout:g} s") from None

    def discard(self) -> None:
        """Closes the connection after whatever is still running on its thread."""
        self.healthy = False
        self._worker.submit(self._close_blocking)
        self._worker.stop()

    def _close_blocking(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    # Operations, each run on the worker thread.

    def search(self, base: str, scope: LDAPSearchScope, filter_text: str, attributes: list[str]) -> list[Entry]:
        """An unpaged search (group lookups, single entries), decoded. Not for large results."""
        return self.decode_all(self.search_entries(base, scope, filter_text, attributes))

    def search_entries(self, base: str, scope: LDAPSearchScope, filter_text: str,
                       attributes: list[str]) -> list[bonsai.LDAPEntry]:
        """An unpaged search, as bonsai's entries."""
        return entries_only(self.raw.search(base, scope, filter_text, attributes, timeout=self.plan.operation_timeout),
                            self.plan)

    def decode_all(self, entries: list[bonsai.LDAPEntry]) -> list[Entry]:
        """(DN, lower-cased name -> values) per entry; values that do not decode stay bytes."""
        encoding = self.plan.string_encoding
        lowered = self._lowered_names
        decoded: list[Entry] = []
        for entry in entries:
            attributes: dict[str, list[str | bytes]] = {}
            entry_values: dict[str, list[Any]] = entry
            for name, values in dict.items(entry_values):  # the plain dict view: LDAPEntry.items() is slow
                if name == "dn":
                    continue
                key = lowered.get(name) or lowered.setdefault(name, name.lower())
                try:
                    attributes[key] = [value.decode(encoding) for value in values]
                except (UnicodeDecodeError, AttributeError):
                    attributes[key] = [_decode(value, encoding) for value in values]
            decoded.append((str(entry.dn), attributes))
        return decoded


def _decode(value: object, encoding: str) -> str | bytes:
    if isinstance(value, bytes):
        try:
            return value.decode(encoding)
        except UnicodeDecodeError:
            return value
    return str(value)


class PagedSearch:
    """A paged search run on one connection's thread, one page per call.

    Requests the next page as soon as bonsai has built the current one, so the server prepares
    page N+1 while we take out and convert page N. With ``page_size`` 0 the search is unpaged (one page).
    """

    def __init__(self, base: str, scope: LDAPSearchScope, filter_text: str, attributes: list[str], page_size: int) -> None:
        self.query = (base, scope, filter_text, attributes)
        self.page_size = page_size
        self._pending_message: int | None = None
        self._started = False

    def next_page(self, owner: LdapConnection) -> list[bonsai.LDAPEntry] | None:
        """The next page of entries, or None at the end. Runs on ``owner``'s thread."""
        connection, timeout = owner.raw, owner.plan.operation_timeout
        if not self._started:
            self._started = True
            if self.page_size <= 0:
                return entries_only(connection.search(*self.query, timeout=timeout), owner.plan)
            result = connection.paged_search(*self.query, timeout=timeout, page_size=self.page_size)
        elif self._pending_message is None:
            return None
        else:
            result = connection.get_result(self._pending_message, timeout)
        self._pending_message = result.acquire_next_page() if self.page_size > 0 else None
        return entries_only(result, owner.plan)  # bonsai pops each entry off the front of its list: cheap at 1,000, O(n²) beyond


def entries_only(results: Iterable[bonsai.LDAPEntry | LDAPReference], plan: ConnectionPlan) -> list[bonsai.LDAPEntry]:
    """A search's entries. bonsai hands the search continuation references among them: their URLs
    are added to ``plan.references`` instead."""
    entries: list[bonsai.LDAPEntry] = []
    for item in results:
        if isinstance(item, LDAPReference):
            plan.references.update(str(url) for url in item.references)
        else:
            entries.append(item)
    return entries


async def stream_pages(connection: LdapConnection, search: PagedSearch,
                       convert: Callable[[list[bonsai.LDAPEntry]], list[T]]) -> AsyncGenerator[list[T], None]:
    """Yields pages as they arrive, always fetching one page ahead of the consumer. ``convert``
    runs on the worker thread too, so the event loop only hands finished records on."""
    def next_converted() -> list[T] | None:
        page = search.next_page(connection)
        return None if page is None else convert(page)

    pending = asyncio.ensure_future(connection.call(next_converted))
    try:
        while True:
            page = await pending
            if page is None:
                return
            pending = asyncio.ensure_future(connection.call(next_converted))
            yield page
    finally:
        if not pending.done():
            # Left early: the search is unfinished on the server, so the connection is spent.
            pending.cancel()
            connection.healthy = False


class ConnectionPool:
    """At most ``size`` connections; each serves one operation at a time.

    A connection that saw any error, a timeout or an abandoned search is closed, not reused.
    """

    def __init__(self, plan: ConnectionPlan, size: int) -> None:
        self.plan = plan
        self._idle: list[LdapConnection] = []
        self._slots = asyncio.Semaphore(size)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[LdapConnection]:
        """An open connection for one operation, waited for while ``size`` are in use; returned to the
        pool after, or closed if it is no longer healthy. Opening raises ReadError when the server cannot
        be reached (TCP, and the TLS handshake on ldaps://) or refuses the bind."""
        async with self._slots:
            connection = self._idle.pop() if self._idle else await self._open()
            try:
                yield connection
            finally:
                if connection.healthy:
                    self._idle.append(connection)
                else:
                    connection.discard()

    async def _open(self) -> LdapConnection:
        await self._probe()
        connection = LdapConnection(self.plan)
        try:
            # The bind has its own timeout inside libldap; this bounds the whole open from the loop's side.
            await asyncio.wait_for(connection.open(), self.plan.connect_timeout + 5)
        except asyncio.TimeoutError:
            connection.discard()
            raise ReadError(f"the LDAP server at {self.plan.url} did not complete the connection "
                            f"within {self.plan.connect_timeout:g} s") from None
        except BaseException:
            connection.discard()
            raise
        return connection

    async def _probe(self) -> None:
        """A connect from the loop before bonsai's: an unreachable server fails fast with a clear
        message, and on ldaps:// the TLS handshake must complete too, because bonsai holds the
        GIL through its own handshake, so a server that accepts TCP and then stalls would freeze
        the whole process. (Liveness only: libldap verifies the certificate itself.)"""
        parts = urlsplit(self.plan.url)
        secure = parts.scheme.lower() == "ldaps"
        port = parts.port or (636 if secure else 389)
        handshake = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT) if secure else None
        if handshake is not None:
            handshake.check_hostname = False
            handshake.verify_mode = ssl.CERT_NONE
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, port, ssl=handshake),
                                               self.plan.connect_timeout)
        except (OSError, asyncio.TimeoutError) as error:
            if isinstance(error, asyncio.TimeoutError):
                reason = "no TLS handshake within" if secure else "no connection within"
                reason = f"{reason} {self.plan.connect_timeout:g} s"
            else:
                reason = os.strerror(error.errno) if error.errno else str(error)
            raise ReadError(f"cannot reach the LDAP server at {self.plan.url}: {reason}") from None
        writer.close()

    async def close(self) -> None:
        """Closes the idle connections (a connection in use is closed when it comes back unhealthy)."""
        while self._idle:
            self._idle.pop().discard()


def describe_error(error: bonsai.LDAPError | OperationTimeout, plan: ConnectionPlan) -> ReadError:
    """A message a person can act on. bonsai reports TLS failures as 'Can't contact LDAP server'
    even though the TCP probe just succeeded, so those are named for what they are."""
    if isinstance(error, bonsai.AuthenticationError):
        return ReadError(f"the LDAP server at {plan.url} refused the credentials of '{plan.bind_name}' ({error})")
    if isinstance(error, (bonsai.TimeoutError, OperationTimeout)):
        return ReadError(f"the LDAP server at {plan.url} did not answer within {plan.operation_timeout:g} s; "
                         "the read was stopped so that no user is taken for departed")
    if isinstance(error, bonsai.NoSuchObjectError):
        return ReadError(f"the LDAP server at {plan.url} has no entry at the searched base ({error}); check base_dn")
    if isinstance(error, bonsai.ConnectionError):
        if plan.trust is not None:
            return ReadError(f"TLS with the LDAP server at {plan.url} failed ({error}); most often its certificate is "
                             f"not trusted or does not match the host name: {plan.trust.remedy()}")
        return ReadError(f"the connection to the LDAP server at {plan.url} failed ({error})")
    return ReadError(f"the LDAP server at {plan.url} returned an error: {error}")
