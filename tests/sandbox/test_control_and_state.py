"""The /_sandbox control endpoints, the state file round trip, and the command line."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import aiohttp
import orjson
import requests

from async_usersync.sandbox import SandboxConfig, SandboxServer, run_sandbox
from tests.support.sandbox import SandboxCaller, run_sandbox_process

NEW_USER = [{"user": "saved@example.com", "do": [
    {"createFederatedID": {"email": "saved@example.com", "firstname": "S", "lastname": "V", "country": "GB"}},
    {"add": {"group": ["Sandbox Group 001"]}},
]}]


async def test_state_endpoint_has_the_state_file_shape(caller: SandboxCaller, sandbox: SandboxServer) -> None:
    answer = await caller.control("GET", "state")
    assert set(answer.body) == {"org_id", "users", "groups"}
    assert answer.body["org_id"] == sandbox.org_id
    listed = await caller.call("GET", "/users/{org}/0")
    assert answer.body["users"] == listed.body["users"]
    groups = await caller.call("GET", "/groups/{org}/0")
    assert answer.body["groups"] == groups.body["groups"]


async def test_stats_count_per_family(caller: SandboxCaller) -> None:
    await caller.call("POST", "/action/{org}", NEW_USER)
    await caller.call("POST", "/action/{org}", [{"user": "x@example.com", "do": [{"add": {"group": ["Nope"]}}]}])
    await caller.call("GET", "/users/{org}/0")
    stats = (await caller.control("GET", "stats")).body
    action = stats["families"]["action"]
    assert (action["requests"], action["ok"], action["commands_applied"], action["steps_applied"]) == (2, 2, 1, 2)
    assert sum(action["accepted_per_second"]) == 2
    assert stats["families"]["users"]["requests"] == 1 and stats["families"]["ims"]["ok"] == 1


async def test_stats_count_sync_signals_per_family(caller: SandboxCaller) -> None:
    await caller.call("GET", "/users/{org}/0", headers={"Pragma": "umapi-sync-start"})
    await caller.call("GET", "/users/{org}/1", headers={"Pragma": "umapi-sync-end"})
    await caller.call("POST", "/action/{org}", NEW_USER, headers={"Pragma": "no-cache, umapi-sync-start"})
    await caller.call("POST", "/action/{org}", NEW_USER)
    families = (await caller.control("GET", "stats")).body["families"]
    signals = {name: (families[name]["sync_starts"], families[name]["sync_ends"]) for name in ("users", "action", "groups")}
    assert signals == {"users": (1, 1), "action": (1, 0), "groups": (0, 0)}


async def test_reset_restores_the_seeded_org_or_loads_a_given_one(caller: SandboxCaller, sandbox: SandboxServer) -> None:
    seeded = (await caller.control("GET", "state")).body
    await caller.call("POST", "/action/{org}", NEW_USER)
    assert (await caller.control("POST", "reset")).status == 200
    assert (await caller.control("GET", "state")).body == seeded
    assert (await caller.control("GET", "stats")).body["families"]["action"]["requests"] == 0
    small = {"org_id": "F00D@AdobeOrg", "users": [], "groups": [{"groupName": "Only", "type": "USER_GROUP", "groupId": 5, "memberCount": 0}]}
    assert (await caller.control("POST", "reset", {"state": small})).status == 200
    assert (await caller.control("GET", "state")).body == small
    assert (await caller.call("GET", "/groups/F00D@AdobeOrg/0")).body["groups"] == small["groups"]
    bad = await caller.control("POST", "reset", {"state": {"users": []}})
    assert bad.status == 400 and "org_id" in bad.body["error"]


async def test_config_changes_are_checked_by_key(caller: SandboxCaller) -> None:
    for change, named in (({"user_page_size": 0}, "user_page_size"), ({"colour": "red"}, "colour"),
                          ({"rate_limits": {"action": {"per_client": -1}}}, "rate_limits.action.per_client")):
        answer = await caller.control("PUT", "config", change)
        assert answer.status == 400 and answer.body["error"].startswith(named)
    assert (await caller.control("PUT", "config", {"user_page_size": 3})).status == 200
    page = await caller.call("GET", "/users/{org}/0")
    assert len(page.body["users"]) == 3 and page.headers["X-Page-Size"] == "3"


async def test_state_file_round_trip(tmp_path: Path, sandbox_http) -> None:
    state_file = tmp_path / "org.json"
    config = SandboxConfig(port=0, users=7, groups=3, state_file=str(state_file))
    async with run_sandbox(config) as server:
        await SandboxCaller(sandbox_http, server).call("POST", "/action/{org}", NEW_USER)
        saved = server.state.to_json()
    assert orjson.loads(state_file.read_bytes()) == saved
    assert any(user["email"] == "saved@example.com" for user in saved["users"])
    async with run_sandbox(SandboxConfig(port=0, users=99, state_file=str(state_file))) as again:
        assert again.state.to_json() == saved
        listed = await SandboxCaller(sandbox_http, again).call("GET", "/users/{org}/0")
        assert listed.body["users"] == saved["users"]


def test_cli_serves_until_sigterm_and_saves_state(tmp_path: Path) -> None:
    state_file = tmp_path / "org.json"
    with run_sandbox_process("--users", "3", "--groups", "2", "--state-file", str(state_file)) as proc:
        assert proc.base_url.startswith("https://127.0.0.1:") and proc.ca_cert is not None and proc.ca_cert.exists()
        token = requests.post(f"{proc.base_url}/ims/token/v2/", verify=str(proc.ca_cert), data={
            "grant_type": "client_credentials", "client_id": proc.client_id,
            "client_secret": proc.client_secret, "scope": "openid,AdobeID,user_management_sdk"}).json()
        assert token["token_type"] == "bearer"
    assert proc.process.returncode == 0
    assert len(json.loads(state_file.read_text())["users"]) == 3


def test_cli_without_tls_prints_one_line_and_takes_extra_clients() -> None:
    with run_sandbox_process("--no-tls", "--users", "1", "--extra-client", "second:pa:ss") as proc:
        assert proc.base_url.startswith("http://") and proc.ca_cert is None
        assert requests.get(proc.base_url + "/status").json()["state"] == "LIVE"
        token = requests.post(f"{proc.base_url}/ims/token/v3", data={
            "grant_type": "client_credentials", "client_id": "second", "client_secret": "pa:ss", "scope": "user_management_sdk"})
        assert token.status_code == 200


def test_cli_explains_a_broken_state_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"org_id": "x@AdobeOrg", "users": [{"email": 3}]}')
    result = subprocess.run([sys.executable, "-m", "async_usersync", "sandbox", "--port", "0", "--state-file", str(broken)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert f"{broken}: users[0] needs email and type" in result.stderr and "Traceback" not in result.stderr


def test_cli_explains_bad_faults() -> None:
    result = subprocess.run([sys.executable, "-m", "async_usersync", "sandbox", "--port", "0", "--faults", "users:503"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "expected KIND=SHARE" in result.stderr


async def test_an_outage_refuses_requests_then_the_same_port_serves_the_same_org_again(caller: SandboxCaller) -> None:
    before = (await caller.call("GET", "/users/{org}/0")).body["users"]
    started = await caller.control("POST", "outage", {"seconds": 0.5})
    assert started.status == 200
    await asyncio.sleep(0.2)
    try:
        await caller.call("GET", "/users/{org}/0")
        raise AssertionError("the sandbox answered during its outage")
    except aiohttp.ClientError:
        pass
    await asyncio.sleep(0.6)
    assert (await caller.call("GET", "/users/{org}/0")).body["users"] == before
    assert (await caller.control("POST", "outage", {"seconds": -1})).status == 400


async def test_an_action_body_over_one_megabyte_is_refused_whole(caller: SandboxCaller) -> None:
    entries = [{"user": f"big{number}@example.com", "do": [{"createEnterpriseID": {
        "email": f"big{number}@example.com", "firstname": "Big", "lastname": "L" * (1_100_000 if number == 3 else 5)}}]}
        for number in range(10)]
    answer = await caller.call("POST", "/action/{org}", entries)
    assert answer.status == 413 and answer.body["result"] == "error.request.too_large"
    assert not any(user["email"].startswith("big") for user in caller.server.state.user_list())
