"""The aiohttp application: IMS, the UMAPI endpoints and the /_sandbox control endpoints.

Every UMAPI request passes one gate, in this order: X-Request-Id, Bearer token (401), X-Api-Key (403),
organization id (400), throttle (429), injected fault, then the endpoint. The gate is a plain
function wrapper rather than aiohttp middleware, to keep the hot path short.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import time
import uuid
from typing import Any, Awaitable, Callable

import orjson
from aiohttp import web

from async_usersync.sandbox.actions import RequestRejected, run_actions
from async_usersync.sandbox.config import SandboxConfig
from async_usersync.sandbox.faults import STATUS_KINDS
from async_usersync.sandbox.ims import GrantRefused, TokenStore
from async_usersync.sandbox.state import OrgState, seeded_state
from async_usersync.sandbox.stats import FamilyStats, SandboxStats
from async_usersync.sandbox.throttle import Throttle

UMAPI_PREFIX = "/v2/usermanagement"
MAX_ACTION_BODY = 1024 * 1024
"""Bytes in one action request's body (1 MB in UMAPI's 2017 docs): a larger body is refused whole
with a 413, every entry in it, as UMAPI does with one oversized value."""
Handler = Callable[[web.Request, str], Awaitable[web.Response]]


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """An ``application/json`` response with ``body`` serialised by orjson."""
    return web.Response(body=orjson.dumps(body), status=status, headers=headers, content_type="application/json")


def _flag(request: web.Request, name: str, default: bool) -> bool:
    """Booleans in query strings, case-insensitively (umapi-client sends ``True``/``False``)."""
    value = request.query.get(name)
    return default if value is None else value.strip().lower() == "true"


def _page_number(request: web.Request) -> int:
    """The 0-based page in the path (the route lets only digits through)."""
    return int(request.match_info["page"])


class Sandbox:
    """Everything one running sandbox holds: settings, org, tokens, throttle, stats, fault dice."""

    def __init__(self, config: SandboxConfig, initial_state: dict[str, Any] | None = None) -> None:
        self.config = config
        self._initial_state = initial_state
        self.tokens = TokenStore()
        self.state = self._fresh_state()
        self.throttle = Throttle(config)
        self.stats = SandboxStats(time.monotonic())
        self.random = random.Random(config.seed)
        self._request_id_prefix = uuid.uuid4().hex[:16]
        self._request_numbers = itertools.count(1)
        self.restart: Callable[[float], Awaitable[None]] | None = None
        """Takes the server down for so many seconds, then serves again (``SandboxServer.outage``)."""

    def _fresh_state(self) -> OrgState:
        if self._initial_state is not None:
            return OrgState.from_json(self._initial_state)
        config = self.config
        return seeded_state(config.org_id, config.users, config.groups, config.seed)

    def reset(self, initial_state: dict[str, Any] | None = None) -> None:
        """Back to the starting org (or to ``initial_state``), with fresh throttle, stats and dice."""
        if initial_state is not None:
            OrgState.from_json(initial_state)  # check before replacing anything
            self._initial_state = initial_state
        self.state = self._fresh_state()
        self.throttle.clear()
        self.stats = SandboxStats(time.monotonic())
        self.random = random.Random(self.config.seed)

    # --- the gate ------------------------------------------------------------------------------

    def gated(self, family: str, handler: Handler, page_zero_listing: bool = False) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """A UMAPI endpoint of ``family`` behind UMAPI's gate: a bearer token from this sandbox (else 401),
        its client id as X-Api-Key (else 403), this org (else 400), the throttle (429 with Retry-After, and
        with ``page_zero_listing`` the sync-frequency penalty), then the faults; counts it in the stats and
        echoes (or makes) its X-Request-Id."""
        async def endpoint(request: web.Request) -> web.StreamResponse:
            now = time.monotonic()
            stats = self.stats.families[family]
            stats.requests += 1
            stats.count_pragma(request.headers.get("Pragma"))
            request_id = request.headers.get("X-Request-Id") or f"{self._request_id_prefix}{next(self._request_numbers):016x}"
            response = await self._pass_gate(request, family, handler, stats, now, page_zero_listing)
            response.headers["X-Request-Id"] = request_id
            if not _dropped(request):
                stats.count_status(response.status)
            return response

        return endpoint

    async def _pass_gate(
        self, request: web.Request, family: str, handler: Handler, stats: FamilyStats, now: float, page_zero_listing: bool
    ) -> web.Response:
        authorization = request.headers.get("Authorization", "")
        scheme, _, token = authorization.partition(" ")
        client = self.tokens.client_of(token.strip(), time.time()) if scheme.lower() == "bearer" else None
        if client is None:
            return web.Response(status=401, headers={
                "WWW-Authenticate": 'Bearer realm="JIL", error="invalid_token", error_description="The access token is invalid"',
            })
        if request.headers.get("X-Api-Key") != client:
            return web.Response(status=403)
        if request.match_info["org"] != self.state.org_id:
            return json_response({"result": "error.organization.invalid_id", "message": "Bad organization Id"}, 400)
        connection = request.protocol
        verdict = self.throttle.check(family, client, now, connection)
        if verdict.inside_told_wait:
            stats.inside_retry_after += 1
        retry_after = verdict.retry_after
        if retry_after is None and page_zero_listing and request.match_info["page"] == "0":
            retry_after = self.throttle.note_page_zero(family, client, now, connection)
        if retry_after is not None:
            return too_many_requests(retry_after)
        stats.count_accepted(int(now - self.stats.started))
        return await self._answer_with_faults(request, family, stats, lambda: handler(request, client))

    # --- UMAPI endpoints -----------------------------------------------------------------------

    async def list_users(self, request: web.Request, client: str) -> web.Response:
        """GET users/{org}/{page}: one page of users (``user_page_size``), with UMAPI's paging headers;
        ``domain`` filters, ``directOnly=false`` adds the profiles reached through user groups."""
        users = self.state.user_list()
        domain = request.query.get("domain")
        if domain:
            users = [user for user in users if user.get("domain", "").lower() == domain.lower()]
        body, headers = self._page(users, _page_number(request), self.config.user_page_size, "users")
        if not _flag(request, "directOnly", True):
            body["users"] = [self._with_indirect(user) for user in body["users"]]
        return json_response(body, headers=headers)

    async def list_group_users(self, request: web.Request, client: str) -> web.Response:
        """GET users/{org}/{page}/{group}: one page of a group's members (none for an admin group of an
        existing group); 404 ``error.group.not_found`` for an unknown group, as UMAPI answers."""
        name = request.match_info["group"]
        group = self.state.groups.get(name.lower())
        if group is None and not self._is_admin_group_of_existing(name):
            return json_response({"lastPage": False, "result": "error.group.not_found", "message": f"Not found: Group {name}"}, 404)
        size = self.config.user_page_size
        status_filter = request.query.get("status", "").lower()
        member_count = 0 if group is None or status_filter == "inactive" else len(group.members)
        page, page_count = _page_bounds(_page_number(request), member_count, size)
        users = [] if group is None or member_count == 0 else self.state.members_page(group, page * size, size)
        if _flag(request, "excludeGroups", False):
            users = [{key: value for key, value in user.items() if key != "groups"} for user in users]
        elif not _flag(request, "directOnly", True):
            users = [self._with_indirect(user) for user in users]
        body = {"lastPage": page == page_count - 1, "result": "success", "groupName": name, "users": users}
        return json_response(body, headers=_paging_headers(member_count, page_count, page, size))

    async def get_user(self, request: web.Request, client: str) -> web.Response:
        """GET organizations/{org}/users/{user}: one user by email, by username with ``domain``, or as an
        Adobe ID with ``domain=adobeID``; 404 ``error.user.not_found`` when there is none."""
        user_string = request.match_info["user"]
        domain = request.query.get("domain")
        if domain and domain.lower() == "adobeid":
            user = self.state.find_by_email(user_string, "adobeID")
        elif domain and "@" not in user_string:
            user = self.state.find_user(user_string, domain)
        else:
            user = self.state.find_user(user_string)
        if user is None:
            return json_response({"result": "error.user.not_found", "message": f"User not found {user_string}"}, 404)
        return json_response({"result": "success", "user": user})

    async def list_groups(self, request: web.Request, client: str) -> web.Response:
        """GET groups/{org}/{page}: one page of groups (``group_page_size``) with their member counts."""
        groups = self.state.group_list()
        body, headers = self._page(groups, _page_number(request), self.config.group_page_size, "groups")
        body["groups"] = [group.listed() for group in body["groups"]]
        return json_response(body, headers=headers)

    async def action(self, request: web.Request, client: str) -> web.Response:
        """POST action/{org}: runs the entries (``run_actions``); 413 for a body over ``MAX_ACTION_BODY``
        bytes, 400 for one that is not JSON or is rejected whole."""
        raw = await request.read()
        if len(raw) > MAX_ACTION_BODY:  # the whole request is refused, every entry in it
            return json_response({"result": "error.request.too_large",
                                  "message": f"Request body of {len(raw)} bytes is over {MAX_ACTION_BODY}"}, 413)
        try:
            body = orjson.loads(raw)
            outcome = run_actions(self.state, body, self.config, _flag(request, "testOnly", False))
        except orjson.JSONDecodeError:
            return json_response({"result": "error.command.malformed", "message": "Request body is not valid JSON"}, 400)
        except RequestRejected as rejected:
            return json_response({"result": rejected.result, "message": rejected.message}, 400)
        stats = self.stats.families["action"]
        stats.commands_applied += outcome.entries_applied
        stats.steps_applied += outcome.steps_applied
        return json_response(outcome.body)

    def _page(self, items: list[Any], page: int, size: int, key: str) -> tuple[dict[str, Any], dict[str, str]]:
        """One page of a listing."""
        page, page_count = _page_bounds(page, len(items), size)
        body = {"lastPage": page == page_count - 1, "result": "success", key: items[page * size:(page + 1) * size]}
        return body, _paging_headers(len(items), page_count, page, size)

    def _with_indirect(self, user: dict[str, Any]) -> dict[str, Any]:
        extra = self.state.indirect_profiles(user)
        return {**user, "groups": user["groups"] + extra} if extra else user

    def _is_admin_group_of_existing(self, name: str) -> bool:
        lowered = name.lower()
        if lowered in ("_org_admin", "_support_admin", "_deployment_admin"):
            return True
        for prefix in ("_admin_", "_product_admin_", "_developer_"):
            if lowered.startswith(prefix) and lowered[len(prefix):] in self.state.groups:
                return True
        return False

    # --- IMS -----------------------------------------------------------------------------------

    async def token(self, request: web.Request) -> web.Response:
        """POST /ims/token/v2 or v3: the client_credentials grant (form or query parameters), faults
        included; a refused grant answers with its status and IMS's ``{error, error_description}``."""
        stats = self.stats.families["ims"]
        stats.requests += 1
        params = dict(request.query)
        if request.content_type == "application/x-www-form-urlencoded":
            params.update((key, str(value)) for key, value in (await request.post()).items())

        async def grant() -> web.Response:
            try:
                return json_response(self.tokens.grant(params, self.config.clients, self.config.token_lifetime, time.time()))
            except GrantRefused as refused:
                return json_response(refused.body(), refused.status)

        response = await self._answer_with_faults(request, "ims", stats, grant)
        if not _dropped(request):
            stats.count_status(response.status)
        return response

    async def _answer_with_faults(
        self, request: web.Request, family: str, stats: FamilyStats, answer: Callable[[], Awaitable[web.Response]]
    ) -> web.Response:
        """Answers, or plays the fault the dice pick: a 5xx instead of the answer, a delay before it,
        a reset before handling (``reset``), or a reset after handling (``lost``: the change is made but
        the client never hears of it, as when a proxy times out). The answer to a reset connection is
        never delivered; aiohttp notices the closed transport and moves on quietly.
        """
        fault = self.config.faults.draw(family, self.random) if self.config.faults.families else None
        if fault is None:
            return await answer()
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay)
            return await answer()
        if fault.kind == "429":
            return too_many_requests(round(fault.delay))
        if fault.kind in STATUS_KINDS:
            return json_response({"error_code": fault.kind, "message": "Injected fault"}, int(fault.kind))
        response = await answer() if fault.kind == "lost" else web.Response(status=502)
        stats.resets += 1
        if request.transport is not None:
            request.transport.abort()
        return response

    # --- control endpoints ---------------------------------------------------------------------

    async def get_state(self, request: web.Request) -> web.Response:
        """GET /_sandbox/state: the org in the state-file shape."""
        return json_response(self.state.to_json())

    async def get_stats(self, request: web.Request) -> web.Response:
        """GET /_sandbox/stats: the counters per family and the seconds since the last reset."""
        return json_response(self.stats.to_json(time.monotonic()))

    async def post_reset(self, request: web.Request) -> web.Response:
        """POST /_sandbox/reset: back to the starting org, or to ``{"state": {...}}``; 400 for any other body."""
        raw = await request.read()
        try:
            body = orjson.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict) or not set(body) <= {"state"}:
                raise ValueError('expected an empty body or {"state": {...}}')
            self.reset(body.get("state"))
        except (orjson.JSONDecodeError, ValueError) as problem:
            return json_response({"error": str(problem)}, 400)
        return json_response({"result": "success", "users": len(self.state.users), "groups": len(self.state.groups)})

    async def post_outage(self, request: web.Request) -> web.Response:
        """``{"seconds": N}``: a restart with N seconds of downtime, starting just after this answer."""
        try:
            seconds = float(orjson.loads(await request.read())["seconds"])
            if not 0 < seconds <= 3600 or self.restart is None:
                raise ValueError("seconds must be above 0 and at most 3600")
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as problem:
            return json_response({"error": f'expected {{"seconds": N}}: {problem}'}, 400)
        restart = self.restart
        asyncio.get_running_loop().call_later(0.05, lambda: asyncio.ensure_future(restart(seconds)))
        return json_response({"result": "success", "down_for": seconds})

    async def get_config(self, request: web.Request) -> web.Response:
        """GET /_sandbox/config: the settings ``describe_config`` gives."""
        return json_response(self.describe_config())

    async def put_config(self, request: web.Request) -> web.Response:
        """PUT /_sandbox/config: applies a JSON object of settings all or nothing; 400 naming the bad key."""
        try:
            changes = orjson.loads(await request.read())
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object of settings")
            self.config.update(changes)
        except (orjson.JSONDecodeError, ValueError) as problem:
            return json_response({"error": str(problem)}, 400)
        return json_response(self.describe_config())

    def describe_config(self) -> dict[str, Any]:
        """The settings that can be changed while serving, and the org id, as a JSON object."""
        config = self.config
        return {
            "org_id": self.state.org_id,
            "time_scale": config.time_scale,
            "throttle": config.throttle,
            "rate_limits": {
                family: {"per_client": limit.per_client, "global": limit.global_} for family, limit in config.rate_limits.items()
            },
            "faults": config.faults.describe(),
            "user_page_size": config.user_page_size,
            "group_page_size": config.group_page_size,
            "max_entries_per_request": config.max_entries_per_request,
            "max_steps_per_entry": config.max_steps_per_entry,
            "max_names_per_list": config.max_names_per_list,
            "max_group_members_for_add": config.max_group_members_for_add,
            "token_lifetime": config.token_lifetime,
            "sync_penalty": config.sync_penalty,
            "sync_interval": config.sync_interval,
            "sync_penalty_seconds": config.sync_penalty_seconds,
            "retry_grace": config.retry_grace,
        }

    async def status(self, request: web.Request) -> web.Response:
        """GET /status: UMAPI's liveness answer."""
        return json_response({"build": "async-usersync-sandbox", "version": "2.0", "state": "LIVE"})


def too_many_requests(retry_after: int) -> web.Response:
    """A 429 as UMAPI's gateway answers it, with ``Retry-After`` in whole seconds."""
    return json_response(
        {"error_code": "429050", "message": "Too many requests"},
        429,
        headers={"Retry-After": str(retry_after), "Server": "APIP"},
    )


def _page_bounds(requested: int, total: int, size: int) -> tuple[int, int]:
    """The page to answer and the page count; a page past the end answers with the last page, as UMAPI does."""
    page_count = max(1, math.ceil(total / size))
    return min(requested, page_count - 1), page_count


def _paging_headers(total: int, page_count: int, page: int, size: int) -> dict[str, str]:
    """UMAPI's paging headers, all strings; X-Page-Size is the server's page size, so never 0."""
    return {"X-Total-Count": str(total), "X-Page-Count": str(page_count), "X-Current-Page": str(page), "X-Page-Size": str(size)}


def _dropped(request: web.Request) -> bool:
    """The connection was reset (an injected fault), so no answer reaches the client."""
    return request.transport is None or request.transport.is_closing()


def build_app(sandbox: Sandbox) -> web.Application:
    """The aiohttp application: IMS token routes, UMAPI's v2 endpoints (gated) and the ``/_sandbox`` controls."""
    app = web.Application(client_max_size=4 * 1024 * 1024)
    for version in ("v2", "v3"):
        app.router.add_post(f"/ims/token/{version}", sandbox.token)
        app.router.add_post(f"/ims/token/{version}/", sandbox.token)
    umapi = UMAPI_PREFIX
    app.router.add_get(f"{umapi}/users/{{org}}/{{page:\\d+}}", sandbox.gated("users", sandbox.list_users, page_zero_listing=True))
    app.router.add_get(f"{umapi}/users/{{org}}/{{page:\\d+}}/{{group:.+}}", sandbox.gated("users", sandbox.list_group_users))
    app.router.add_get(f"{umapi}/organizations/{{org}}/users/{{user:.+}}", sandbox.gated("users", sandbox.get_user))
    app.router.add_get(f"{umapi}/groups/{{org}}/{{page:\\d+}}", sandbox.gated("groups", sandbox.list_groups, page_zero_listing=True))
    app.router.add_post(f"{umapi}/action/{{org}}", sandbox.gated("action", sandbox.action))
    app.router.add_get("/status", sandbox.status)
    app.router.add_get("/_sandbox/state", sandbox.get_state)
    app.router.add_get("/_sandbox/stats", sandbox.get_stats)
    app.router.add_post("/_sandbox/reset", sandbox.post_reset)
    app.router.add_post("/_sandbox/outage", sandbox.post_outage)
    app.router.add_get("/_sandbox/config", sandbox.get_config)
    app.router.add_put("/_sandbox/config", sandbox.put_config)
    return app
