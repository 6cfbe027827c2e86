"""The scale benchmark's own correctness at a small N, and the two read-memory measures it led to."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from async_usersync.sandbox import SandboxConfig, SandboxServer
from async_usersync.umapi import RateLimits, UmapiClient, UmapiSettings
from async_usersync.umapi.convert import adobe_user

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import scale  # noqa: E402


def test_small_run_plans_exactly_the_generated_changes_and_sends_nothing(tmp_path: Path) -> None:
    row = scale.measure_size(2000, tmp_path)
    summary = scale.summarize(row)
    sync = row["phases"]["sync"]
    assert sync["commands"] == {"create": 100, "remove": 100, "update": 57, "groups": row["expected_commands"]["groups"]}
    assert summary["commands_match_expected"]
    assert sync["commands_sent"] == sum(sync["commands"].values())
    assert sync["directory_users"] == sync["adobe_users"] == 2000
    for kind in ("directory_alone", "adobe_alone", "csv_alone"):
        assert row["phases"][kind]["users"] == 2000
    assert 0 < sync["engine_cpu"] < sync["cpu"]
    assert sync["peak_rss_mb"] > 10


def test_group_sets_domains_and_countries_are_shared_between_records() -> None:
    first = adobe_user({"type": "federatedID", "email": "a@example.com", "username": "a@example.com",
                        "domain": "example.com", "country": "US", "groups": ["Profile 01", "Profile 02"]})
    second = adobe_user({"type": "federatedID", "email": "b@example.com", "username": "b@example.com",
                         "domain": "".join(["example", ".com"]), "country": "".join(["U", "S"]),
                         "groups": ["Profile 01", "Profile 02"]})
    assert first is not None and second is not None
    assert first.groups is second.groups and first.groups == {"Profile 01", "Profile 02"}
    assert first.domain is second.domain and first.country is second.country
    assert first.username is first.email


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(port=0, users=60, groups=2, throttle=False, user_page_size=5)


async def test_pages_fetched_ahead_of_the_reader_are_bounded_by_max_in_flight(sandbox: SandboxServer) -> None:
    settings = UmapiSettings(org_id=sandbox.org_id, client_id=sandbox.client_id, client_secret=sandbox.client_secret,
                             host=f"{sandbox.host}:{sandbox.port}", auth_host=f"{sandbox.host}:{sandbox.port}",
                             ca_file=sandbox.ca_cert, limits=RateLimits(users=1e6), max_in_flight=2)
    requests = sandbox.sandbox.stats.families["users"]
    async with UmapiClient(settings) as client:
        users = client.users()
        read = [await anext(users) for _ in range(5)]  # page 0, handed on
        await asyncio.sleep(0.3)  # an unbounded reader would fetch all 12 pages meanwhile
        assert requests.requests == 1 + 2
        read += [user async for user in users]
    assert len({user.email for user in read}) == 60
    assert requests.requests == 12
