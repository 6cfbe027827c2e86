"""IMS token grant and the Bearer / X-Api-Key gate in front of every UMAPI endpoint."""

from __future__ import annotations

import pytest

from async_usersync.sandbox import SandboxServer
from tests.support.sandbox import SandboxCaller


@pytest.mark.parametrize("path", ["/ims/token/v2", "/ims/token/v2/", "/ims/token/v3", "/ims/token/v3/"])
async def test_token_is_granted_on_every_token_path(sandbox: SandboxServer, sandbox_http, path: str) -> None:
    answer = await SandboxCaller(sandbox_http, sandbox).fetch_token(path)
    assert answer.status == 200
    assert answer.body["token_type"] == "bearer"
    assert answer.body["expires_in"] == 86399
    assert answer.body["access_token"].startswith("ey")


async def test_token_parameters_may_come_in_the_query_string(sandbox: SandboxServer, sandbox_http) -> None:
    caller = SandboxCaller(sandbox_http, sandbox)
    query = (f"?grant_type=client_credentials&client_id={sandbox.client_id}"
             f"&client_secret={sandbox.client_secret}&scope=openid,AdobeID,user_management_sdk")
    answer = await caller.raw("POST", sandbox.base_url + "/ims/token/v3" + query)
    assert answer.status == 200 and answer.body["access_token"]


@pytest.mark.parametrize(
    ("params", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "someone-else"}, 400, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"scope": "openid,AdobeID"}, 400, "invalid_scope"),
    ],
)
async def test_bad_credentials_get_an_oauth_error(sandbox: SandboxServer, sandbox_http, params, status, error) -> None:
    answer = await SandboxCaller(sandbox_http, sandbox).fetch_token(**params)
    assert answer.status == status
    assert answer.body["error"] == error and answer.body["error_description"]


async def test_token_lifetime_is_configurable_and_expired_tokens_are_refused(sandbox_factory, sandbox_http) -> None:
    server = await sandbox_factory(token_lifetime=1)
    caller = SandboxCaller(sandbox_http, server)
    assert (await caller.fetch_token()).body["expires_in"] == 1
    assert (await caller.call("GET", "/groups/{org}/0")).status == 200
    import asyncio

    await asyncio.sleep(1.2)
    refused = await caller.call("GET", "/groups/{org}/0")
    assert refused.status == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


async def test_missing_or_bad_bearer_token_is_401_with_empty_body(sandbox: SandboxServer, sandbox_http) -> None:
    caller = SandboxCaller(sandbox_http, sandbox)
    no_token = await caller.raw("GET", f"{sandbox.url}/users/{sandbox.org_id}/0", headers={"X-Api-Key": sandbox.client_id})
    caller.token = "eyNotIssued"
    bad_token = await caller.call("GET", "/users/{org}/0")
    for answer in (no_token, bad_token):
        assert answer.status == 401
        assert answer.body == b""
        assert answer.headers["WWW-Authenticate"].startswith('Bearer realm="JIL"')


async def test_missing_or_foreign_api_key_is_403(sandbox: SandboxServer, sandbox_http) -> None:
    caller = SandboxCaller(sandbox_http, sandbox)
    await caller.call("GET", "/groups/{org}/0")
    missing = await caller.raw("GET", f"{sandbox.url}/groups/{sandbox.org_id}/0",
                               headers={"Authorization": f"Bearer {caller.token}"})
    foreign = await caller.call("GET", "/groups/{org}/0", headers={"X-Api-Key": "another-client"})
    assert (missing.status, missing.body) == (403, b"")
    assert (foreign.status, foreign.body) == (403, b"")


async def test_wrong_org_id_is_refused(sandbox: SandboxServer, sandbox_http) -> None:
    answer = await SandboxCaller(sandbox_http, sandbox).call("GET", "/users/0000@AdobeOrg/0")
    assert answer.status == 400
    assert answer.body["result"] == "error.organization.invalid_id"


async def test_request_id_is_echoed_or_generated(sandbox: SandboxServer, sandbox_http) -> None:
    caller = SandboxCaller(sandbox_http, sandbox)
    echoed = await caller.call("GET", "/groups/{org}/0", headers={"X-Request-Id": "abc_123"})
    generated = await caller.call("GET", "/groups/{org}/0")
    assert echoed.headers["X-Request-Id"] == "abc_123"
    assert len(generated.headers["X-Request-Id"]) == 32
