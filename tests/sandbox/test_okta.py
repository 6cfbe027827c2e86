"""The fake Okta org: started as ``async-usersync okta-sandbox``, Okta's auth, paging, rate headers and 429s."""

from __future__ import annotations

import signal
import ssl
import subprocess
import sys
import time

import aiohttp
import pytest

from async_usersync.sandbox.okta import OktaSandboxConfig, OktaSandboxServer


async def test_the_command_serves_a_seeded_org_with_the_printed_token_and_certificate() -> None:
    process = subprocess.Popen([sys.executable, "-m", "async_usersync", "okta-sandbox", "--port", "0", "--users", "5",
                                "--groups", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        listening, ca_cert, token = (process.stdout.readline().split() for _ in range(3))
        assert listening[:3] == ["okta-sandbox", "listening", "on"] and ca_cert[1] == "ca-cert" and token[1] == "api-token"
        context = ssl.create_default_context(cafile=ca_cert[2])
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{listening[3]}/api/v1/groups?q=okta", ssl=context,
                                   headers={"Authorization": f"SSWS {token[2]}"}) as response:
                assert response.status == 200
                assert [group["profile"]["name"] for group in await response.json()] == ["Okta Group 0", "Okta Group 1"]
            async with session.get(f"{listening[3]}/api/v1/users", ssl=context,
                                   headers={"Authorization": "SSWS wrong"}) as response:
                assert response.status == 401 and (await response.json())["errorCode"] == "E0000011"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def okta_config() -> OktaSandboxConfig:
    return OktaSandboxConfig(port=0, users=7, groups=1, rate_limits={"groups": 3, "users": 600})


async def test_members_are_paged_with_link_headers_and_the_limit_is_told_then_enforced(okta: OktaSandboxServer) -> None:
    context = ssl.create_default_context(cafile=str(okta.ca_cert))
    headers = {"Authorization": f"SSWS {okta.api_token}"}
    url: str | None = f"{okta.base_url}/api/v1/groups/{okta.directory.group_id('Okta Group 0')}/users?limit=3"
    seen, remaining = [], []
    async with aiohttp.ClientSession() as session:
        while url is not None:
            async with session.get(url, ssl=context, headers=headers) as response:
                if response.status == 429:
                    assert (await response.json())["errorCode"] == "E0000047"
                    assert float(response.headers["X-Rate-Limit-Reset"]) >= time.time()
                    break
                seen += [user["profile"]["login"] for user in await response.json()]
                remaining.append(response.headers["X-Rate-Limit-Remaining"])
                next_link = response.links.get("next")
                url = str(next_link["url"]) if next_link else None
    assert seen == [f"user{index}@okta.example" for index in range(7)]  # three pages: 3 + 3 + 1
    assert remaining == ["2", "1", "0"]
    assert okta.stats("groups").most_in_window == 3
