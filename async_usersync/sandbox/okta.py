"""A fake Okta org for tests, benchmarks and the demo: the parts of Okta's Users and Groups APIs the
Okta source reads, with Okta's API-token auth, paging, rate-limit headers, 429s and injected faults.

In-process: ``async with run_okta_sandbox(OktaSandboxConfig(port=0)) as okta:`` then ``okta.host``
(``127.0.0.1:PORT``, connector-okta.yml's ``host``), ``okta.ca_cert``, ``okta.api_token`` and
``okta.directory`` (users, groups, memberships; change it freely between runs). As a process:
``async-usersync okta-sandbox``.

Served (every ``/api/v1`` request needs ``Authorization: SSWS <api_token>``, else 401 E0000011):

- ``GET /api/v1/groups?q=TEXT&limit=N``: the groups whose name starts with TEXT (any case), as
  Okta's ``q`` finds them; not paged, as Okta does not page a query.
- ``GET /api/v1/groups/{id}/users?limit=N&after=CURSOR``: a group's members, ``limit`` a page
  (default 200, at most ``max_page_size``), the next page in ``Link: <...>; rel="next"``; 404
  E0000007 for an unknown group.
- ``GET /api/v1/users?limit=N&after=CURSOR``: every user, paged the same way.
- ``GET /_sandbox/stats`` (requests, 200s, 429s, 5xx and the most requests accepted in any one
  window, per family), ``GET /_sandbox/state`` (the directory), ``PUT /_sandbox/config``
  (``{"faults": SPEC}``).

Rate limits as Okta documents them for Workforce Identity orgs (developer.okta.com, "Management rate
limits"): 500 requests a minute for ``/api/v1/groups`` and everything under it but
``/api/v1/groups/{id}`` (family ``groups``), 600 for ``/api/v1/users`` (family ``users``). Okta
counts in fixed one-minute windows; each answer carries ``X-Rate-Limit-Limit``, ``-Remaining`` and
``-Reset`` (the window's end, epoch seconds: whole seconds as Okta sends them, to the millisecond
under ``time_scale``, which divides the window), and a request over the limit gets a 429 (E0000047).
Faults use the UMAPI sandbox's plan (``faults.parse_fault_plan``) over the families ``groups`` (the
group lookup), ``members`` and ``users``; an injected 429 resets ``@SECONDS`` later.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

import orjson
from aiohttp import web

from async_usersync.sandbox.faults import STATUS_KINDS, FaultPlan, parse_fault_plan
from async_usersync.sandbox.server import serve_app

OKTA_FAULT_FAMILIES = ("groups", "members", "users")
"""Fault families: the group lookup, a group's members, the users list."""
OKTA_RATE_LIMITS = {"groups": 500, "users": 600}
"""Requests a minute per rate family (Okta's documented Workforce Identity limits)."""
DEFAULT_TOKEN = "okta-sandbox-api-token-0123456789"


@dataclass
class OktaSandboxConfig:
    """How the fake Okta org serves. ``rate_limits`` are requests per minute (divided by ``time_scale``'s
    shorter window); ``users``/``groups`` seed the directory (user i in group i % groups)."""
    host: str = "127.0.0.1"
    port: int = 0
    tls: bool = True
    api_token: str = DEFAULT_TOKEN
    users: int = 20
    groups: int = 4
    seed: int = 0
    time_scale: float = 1.0
    throttle: bool = True
    rate_limits: dict[str, int] = field(default_factory=lambda: dict(OKTA_RATE_LIMITS))
    default_page_size: int = 200
    max_page_size: int = 1000
    faults: FaultPlan = field(default_factory=FaultPlan)

    @property
    def window(self) -> float:
        """Seconds of one rate-limit window: 60 / ``time_scale``."""
        return 60.0 / self.time_scale


@dataclass
class OktaDirectory:
    """The fake org's users (Okta's JSON shape, by id), groups (by id) and memberships (ordered ids)."""
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)

    def add_user(self, login: str, first_name: str = "Test", last_name: str = "User", *, status: str = "ACTIVE",
                 email: str | None = None, **profile: Any) -> str:
        """Adds a user (``email`` defaults to ``login``; more profile fields as keywords); returns its id."""
        user_id = f"00u{len(self.users):017d}"
        self.users[user_id] = {
            "id": user_id, "status": status, "created": "2024-01-01T00:00:00.000Z",
            "lastUpdated": "2024-01-01T00:00:00.000Z", "type": {"id": "oty000000000000000000"},
            "profile": {"login": login, "email": email if email is not None else login, "firstName": first_name,
                        "lastName": last_name, **profile},
        }
        return user_id

    def add_group(self, name: str, members: list[str] = []) -> str:
        """Adds an OKTA_GROUP named ``name`` holding ``members`` (user ids); returns its id."""
        group_id = f"00g{len(self.groups):017d}"
        self.groups[group_id] = {"id": group_id, "type": "OKTA_GROUP", "profile": {"name": name, "description": None}}
        self.members[group_id] = list(members)
        return group_id

    def group_id(self, name: str) -> str:
        """The id of the group named ``name``; KeyError when there is none."""
        for group_id, group in self.groups.items():
            if group["profile"]["name"] == name:
                return group_id
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        """Groups with their members' logins, and the users."""
        return {"groups": [{**group, "members": [self.users[member]["profile"]["login"] for member in self.members[gid]]}
                           for gid, group in self.groups.items()],
                "users": list(self.users.values())}


def seeded_directory(users: int, groups: int, seed: int) -> OktaDirectory:
    """``users`` active users ``user{i}@okta.example`` spread over ``groups`` groups ``Okta Group {g}``."""
    rng = random.Random(seed)
    directory = OktaDirectory()
    group_ids = [directory.add_group(f"Okta Group {index}") for index in range(groups)]
    for index in range(users):
        user_id = directory.add_user(f"user{index}@okta.example", f"First{index}", f"Last{rng.randrange(10_000)}",
                                     countryCode="US")
        if group_ids:
            directory.members[group_ids[index % len(group_ids)]].append(user_id)
    return directory


@dataclass
class _Family:
    """One rate family's fixed window and counters."""
    limit: int
    window_end: float = 0.0
    """``time.monotonic()`` end of the current window."""
    used: int = 0
    requests: int = 0
    ok: int = 0
    throttled: int = 0
    server_errors: int = 0
    most_in_window: int = 0


def _error(status: int, code: str, summary: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps({"errorCode": code, "errorSummary": summary, "errorLink": code,
                                           "errorId": "oaeFakeOkta", "errorCauses": []}),
                        status=status, headers=headers, content_type="application/json")


class OktaSandbox:
    """The fake org's handlers, rate windows, fault dice and directory."""

    def __init__(self, config: OktaSandboxConfig, directory: OktaDirectory | None = None) -> None:
        self.config = config
        self.directory = directory if directory is not None else seeded_directory(config.users, config.groups,
                                                                                   config.seed)
        self.random = random.Random(config.seed)
        self.families = {name: _Family(limit) for name, limit in config.rate_limits.items()}

    def build_app(self) -> web.Application:
        """The aiohttp application serving the routes of the module docstring."""
        app = web.Application()
        app.router.add_get("/api/v1/groups", self._gated("groups", "groups", self.list_groups))
        app.router.add_get("/api/v1/groups/{id}/users", self._gated("groups", "members", self.group_members))
        app.router.add_get("/api/v1/users", self._gated("users", "users", self.list_users))
        app.router.add_get("/_sandbox/stats", self.get_stats)
        app.router.add_get("/_sandbox/state", self.get_state)
        app.router.add_put("/_sandbox/config", self.put_config)
        return app

    def _gated(self, rate_family: str, fault_family: str, handler: Callable[[web.Request], Awaitable[web.Response]]
               ) -> Callable[[web.Request], Awaitable[web.Response]]:
        """Auth (401), the rate window (429), an injected fault, then ``handler``; the rate-limit headers
        on every answer (none when ``throttle`` is off)."""
        async def gate(request: web.Request) -> web.Response:
            family = self.families[rate_family]
            family.requests += 1
            if request.headers.get("Authorization") != f"SSWS {self.config.api_token}":
                return _error(401, "E0000011", "Invalid token provided")
            now = time.monotonic()
            if now >= family.window_end:
                family.window_end, family.used = now + self.config.window, 0
            headers = {"X-Rate-Limit-Limit": str(family.limit)}
            if not self.config.throttle:  # no limit: none is told either
                headers = {}
            elif family.used >= family.limit:
                family.throttled += 1
                headers |= {"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": self._epoch(family.window_end - now)}
                return _error(429, "E0000047", "API call exceeded rate limit due to too many requests.", headers)
            family.used += 1
            family.most_in_window = max(family.most_in_window, family.used)
            if self.config.throttle:
                headers |= {"X-Rate-Limit-Remaining": str(max(0, family.limit - family.used)),
                            "X-Rate-Limit-Reset": self._epoch(family.window_end - now)}
            fault = self.config.faults.draw(fault_family, self.random) if self.config.faults.families else None
            if fault is not None and fault.kind == "slow":
                await asyncio.sleep(fault.delay)
            elif fault is not None and fault.kind == "429":
                family.throttled += 1
                return _error(429, "E0000047", "API call exceeded rate limit due to too many requests.",
                              headers | {"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": self._epoch(fault.delay)})
            elif fault is not None and fault.kind in STATUS_KINDS:
                family.server_errors += 1
                return _error(int(fault.kind), "E0000009", "Internal Server Error", headers)
            elif fault is not None:  # reset or lost: the connection drops
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=502)
            response = await handler(request)
            response.headers.update(headers)
            if response.status == 200:
                family.ok += 1
            return response
        return gate

    def _epoch(self, seconds_ahead: float) -> str:
        """Okta's ``X-Rate-Limit-Reset``: the epoch time ``seconds_ahead`` from now (whole seconds,
        rounded up, unless time is scaled)."""
        moment = time.time() + max(0.0, seconds_ahead)
        return str(math.ceil(moment)) if self.config.time_scale == 1.0 else f"{moment:.3f}"

    def _page_size(self, request: web.Request) -> int:
        try:
            size = int(request.query.get("limit", self.config.default_page_size))
        except ValueError:
            size = self.config.default_page_size
        return max(1, min(size, self.config.max_page_size))

    def _paged(self, request: web.Request, ids: list[str]) -> web.Response:
        """One page of the users ``ids`` after ``after`` (a user id), with the Link header to the next."""
        size = self._page_size(request)
        after = request.query.get("after")
        start = 0
        if after:
            try:
                start = ids.index(after) + 1
            except ValueError:
                return _error(400, "E0000031", "Invalid search criteria: after")
        page = ids[start:start + size]
        links = [f'<{request.url.with_query({"limit": str(size)})}>; rel="self"']
        if start + size < len(ids):
            links.append(f'<{request.url.with_query({"after": page[-1], "limit": str(size)})}>; rel="next"')
        body = orjson.dumps([self.directory.users[user_id] for user_id in page])
        return web.Response(body=body, content_type="application/json", headers={"Link": ", ".join(links)})

    async def list_groups(self, request: web.Request) -> web.Response:
        """GET /api/v1/groups?q=: groups whose name starts with ``q``, ignoring case."""
        query = request.query.get("q", "").casefold()
        found = [group for group in self.directory.groups.values()
                 if group["profile"]["name"].casefold().startswith(query)]
        return web.Response(body=orjson.dumps(found[:self._page_size(request)] if "limit" in request.query else found),
                            content_type="application/json")

    async def group_members(self, request: web.Request) -> web.Response:
        """GET /api/v1/groups/{id}/users: a page of the group's members."""
        group_id = request.match_info["id"]
        if group_id not in self.directory.members:
            return _error(404, "E0000007", f"Not found: Resource not found: {group_id} (UserGroup)")
        return self._paged(request, self.directory.members[group_id])

    async def list_users(self, request: web.Request) -> web.Response:
        """GET /api/v1/users: a page of every user."""
        return self._paged(request, list(self.directory.users))

    async def get_stats(self, request: web.Request) -> web.Response:
        """GET /_sandbox/stats: counters per rate family."""
        return web.json_response({"families": {name: {
            "limit": family.limit, "requests": family.requests, "ok": family.ok, "throttled": family.throttled,
            "server_errors": family.server_errors, "most_in_window": family.most_in_window,
        } for name, family in self.families.items()}, "window_seconds": self.config.window})

    async def get_state(self, request: web.Request) -> web.Response:
        """GET /_sandbox/state: the directory."""
        return web.Response(body=orjson.dumps(self.directory.to_json()), content_type="application/json")

    async def put_config(self, request: web.Request) -> web.Response:
        """PUT /_sandbox/config ``{"faults": SPEC}``: replaces the fault plan; 400 naming a bad part."""
        try:
            body = orjson.loads(await request.read())
            if not isinstance(body, dict) or set(body) - {"faults"}:
                raise ValueError("expected {\"faults\": SPEC}")
            self.config.faults = parse_fault_plan(body.get("faults"), OKTA_FAULT_FAMILIES)
        except (ValueError, orjson.JSONDecodeError) as problem:
            return _error(400, "E0000001", str(problem))
        return web.json_response({"faults": self.config.faults.describe()})


@dataclass
class OktaSandboxServer:
    """A running fake Okta org (``run_okta_sandbox`` makes one)."""
    sandbox: OktaSandbox
    address: str
    port: int
    ca_cert: Path | None

    @property
    def host(self) -> str:
        """``127.0.0.1:PORT``, as connector-okta.yml's ``host`` takes it."""
        return f"{self.address}:{self.port}"

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT`` (``http`` without TLS)."""
        return f"{'https' if self.ca_cert else 'http'}://{self.host}"

    @property
    def api_token(self) -> str:
        """The API token it accepts (a test value, never a real secret)."""
        return self.sandbox.config.api_token

    @property
    def directory(self) -> OktaDirectory:
        """The users, groups and memberships it serves."""
        return self.sandbox.directory

    def stats(self, family: str) -> _Family:
        """The counters of rate family ``groups`` or ``users``."""
        return self.sandbox.families[family]


@contextlib.asynccontextmanager
async def run_okta_sandbox(config: OktaSandboxConfig, directory: OktaDirectory | None = None
                           ) -> AsyncIterator[OktaSandboxServer]:
    """Serves the fake Okta org while the context is open (``directory``, or one seeded from the
    config), with a self-signed certificate in a scratch folder. Raises OSError when the port cannot
    be bound."""
    sandbox = OktaSandbox(config, directory)
    async with serve_app(sandbox.build_app(), config.host, config.port, config.tls, "usersync-okta-") as (
            runner, _, ca_cert):
        yield OktaSandboxServer(sandbox, config.host, runner.addresses[0][1], ca_cert)
