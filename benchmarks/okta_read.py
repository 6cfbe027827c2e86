"""How close the Okta source reads 100,000 users to the floor Okta's rate limit sets.

Okta documents its management limits per minute (developer.okta.com/docs/reference/rl-global-mgmt,
"Management rate limits"): /api/v1/groups and everything under it except /api/v1/groups/{id}
(so the group lookup and /api/v1/groups/{id}/users, the members read) is 500 requests a minute on
Workforce Identity orgs (600 on One App and Enterprise); /api/v1/users is 600. The source reads a
group's members 200 a page (Okta recommends 200 at most), so 100,000 users in one mapped group take
1 lookup + 500 pages = 501 requests, and the floor is 501 / (500 / 60 s) = 60.1 s at the real limit.

The fake Okta org (``async-usersync okta-sandbox``, its own process, so that its CPU is not the
reader's) holds the users in one group and enforces that limit in fixed windows with Okta's
headers; ``--time-scale S`` divides its windows and the client's ``rate_window`` by S. Two reads
side by side in one run: at the limit (the figure), and with throttling off on both sides (what the
reader costs without a limit: the ceiling). "ratio" is elapsed / floor.

Run: .venv/bin/python benchmarks/okta_read.py [--users 100000] [--time-scale 1] [--page-size 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from async_usersync.config.connector_okta import okta_settings  # noqa: E402
from async_usersync.config.section import ConfigSection  # noqa: E402
from async_usersync.config.settings import UserSelection  # noqa: E402
from async_usersync.records import IdentityType  # noqa: E402
from async_usersync.sources.okta import OktaSource  # noqa: E402

LIMIT = 500
"""Requests a minute for /api/v1/groups and below (Okta, Workforce Identity)."""


def start_server(users: int, time_scale: float, throttle: bool) -> tuple[subprocess.Popen[str], str, str, str]:
    command = [sys.executable, "-m", "async_usersync", "okta-sandbox", "--port", "0", "--users", str(users),
               "--groups", "1", "--time-scale", str(time_scale), "--throttle" if throttle else "--no-throttle"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert process.stdout is not None
    url = process.stdout.readline().split()[3]
    ca_cert = process.stdout.readline().split()[2]
    token = process.stdout.readline().split()[2]
    return process, url, ca_cert, token


async def server_stats(url: str, ca_cert: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/_sandbox/stats", ssl=ssl.create_default_context(cafile=ca_cert)) as response:
            stats: dict[str, Any] = (await response.json())["families"]["groups"]
            return stats


async def read(users: int, time_scale: float, page_size: int, throttle: bool) -> dict[str, Any]:
    process, url, ca_cert, token = start_server(users, time_scale, throttle)
    try:
        host = url.removeprefix("https://")
        settings = okta_settings(ConfigSection({
            "host": host, "api_token": token, "ca_file": ca_cert, "page_size": page_size,
            "rate_window": 60 / time_scale, "rate_limit": LIMIT if throttle else 1_000_000}, Path("connector-okta.yml")))
        source = OktaSource(settings, IdentityType.FEDERATED_ID)
        started = time.monotonic()
        count = 0
        async for _ in source.users(UserSelection("mapped", ("Okta Group 0",))):
            count += 1
        elapsed = time.monotonic() - started
        stats = await server_stats(url, ca_cert)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    requests = stats["ok"]
    floor = requests / (LIMIT / (60 / time_scale))
    return {"throttled on both sides": throttle, "users": count, "requests": requests, "429s": stats["throttled"],
            "most in one window": stats["most_in_window"], "elapsed s": round(elapsed, 2),
            "floor s": round(floor, 2) if throttle else None,
            "ratio": round(elapsed / floor, 3) if throttle else None, "users/s": round(count / elapsed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--time-scale", type=float, default=1.0)
    parser.add_argument("--page-size", type=int, default=200)
    options = parser.parse_args()
    print(f"{options.users:,} users in one group, {options.page_size} a page, Okta's limit {LIMIT}/min "
          f"(time scale {options.time_scale:g}: windows of {60 / options.time_scale:g} s)")
    for throttle in (True, False):
        print(json.dumps(asyncio.run(read(options.users, options.time_scale, options.page_size, throttle))))


if __name__ == "__main__":
    main()
