"""The Okta source against the fake Okta org: groups, paging, filters, templates, limits and failures."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from async_usersync.config.connector_okta import read_connector_okta
from async_usersync.config.settings import UserSelection
from async_usersync.errors import ReadError
from async_usersync.records import IdentityType, UnreadableDirectoryUser
from async_usersync.sandbox.faults import parse_fault_plan
from async_usersync.sandbox.okta import OKTA_FAULT_FAMILIES, OktaDirectory, OktaSandboxConfig, OktaSandboxServer
from async_usersync.sources.okta import OktaSource
from tests.sources.helpers import collect


@pytest.fixture
def okta_directory() -> OktaDirectory:
    """ann and ben in Sales, ben and cid in Engineering, dee (suspended) in Sales, 450 more in Big."""
    directory = OktaDirectory()
    ann = directory.add_user("ann@example.org", "Ann", "Lee", countryCode="us", department="Sales")
    ben = directory.add_user("ben@example.org", "Ben", "Ode", countryCode="FR", department="R&D")
    cid = directory.add_user("cid@example.org", "Cid", "Rao", department="R&D")
    dee = directory.add_user("dee@example.org", "Dee", "Ma", status="SUSPENDED")
    directory.add_group("Sales", [ann, ben, dee])
    directory.add_group("Sales EU", [cid])
    directory.add_group("Engineering", [ben, cid])
    directory.add_group("Big", [directory.add_user(f"big{index}@example.org") for index in range(450)])
    return directory


def source(tmp_path: Path, connector: Callable[..., dict[str, Any]], **keys: Any) -> OktaSource:
    file = tmp_path / "connector-okta.yml"
    file.write_text(yaml.safe_dump(connector(**keys)), encoding="utf8")
    return OktaSource(read_connector_okta(file)[0], IdentityType.FEDERATED_ID)


def group(*names: str) -> UserSelection:
    return UserSelection("group", names)


async def test_members_of_several_groups_come_once_with_all_their_groups_and_the_default_filter(
        tmp_path: Path, okta: OktaSandboxServer, okta_connector: Callable[..., dict[str, Any]]) -> None:
    users = await collect(source(tmp_path, okta_connector).users(group("Sales", "Engineering")))
    assert {email: sorted(user.groups) for email, user in users.items()} == {
        "ann@example.org": ["Sales"], "ben@example.org": ["Engineering", "Sales"], "cid@example.org": ["Engineering"]}
    ann = users["ann@example.org"]
    assert (ann.firstname, ann.lastname, ann.country, ann.identity_type, ann.username) == (
        "Ann", "Lee", "US", IdentityType.FEDERATED_ID, "ann@example.org")


async def test_members_are_paged_through_link_headers(tmp_path: Path, okta: OktaSandboxServer,
                                                      okta_connector: Callable[..., dict[str, Any]]) -> None:
    users = await collect(source(tmp_path, okta_connector, page_size=100).users(group("Big")))
    assert len(users) == 450
    assert okta.stats("groups").ok == 1 + 5  # the lookup, then five pages of 100


async def test_filter_grammar_and_templates(tmp_path: Path, okta: OktaSandboxServer,
                                            okta_connector: Callable[..., dict[str, Any]]) -> None:
    keys = {"all_users_filter": 'user.status in ["ACTIVE", "SUSPENDED"] and not user.profile.department == "R&D"',
            "user_username_format": "{firstName}.{lastName}", "user_domain_format": "corp.example.org",
            "user_identity_type": "enterpriseID"}
    users = await collect(source(tmp_path, okta_connector, **keys).users(group("Sales")))
    assert sorted(users) == ["ann@example.org", "dee@example.org"]
    assert (users["ann@example.org"].username, users["ann@example.org"].domain,
            users["ann@example.org"].identity_type) == ("Ann.Lee", "corp.example.org", IdentityType.ENTERPRISE_ID)


async def test_group_is_matched_by_exact_name_and_a_missing_one_is_reported(
        tmp_path: Path, okta: OktaSandboxServer, okta_connector: Callable[..., dict[str, Any]], caplog) -> None:
    caplog.set_level(logging.WARNING, "async_usersync.sources")
    missing: list[str] = []
    users = await collect(source(tmp_path, okta_connector).users(group("sales", "Sales EU"), missing.append))
    assert missing == ["sales"]  # "Sales" and "Sales EU" start with it, neither is it
    assert sorted(users) == ["cid@example.org"]
    assert "No group found for: sales" in caplog.text


async def test_a_value_that_is_not_single_makes_the_user_unreadable(
        tmp_path: Path, okta: OktaSandboxServer, okta_connector: Callable[..., dict[str, Any]]) -> None:
    okta.directory.users[okta.directory.members[okta.directory.group_id("Sales")][0]]["profile"]["countryCode"] = ["US"]
    users = await collect(source(tmp_path, okta_connector).users(group("Sales")))
    unreadable = [user for user in users.values() if isinstance(user, UnreadableDirectoryUser)]
    assert [user.email for user in unreadable] == ["ann@example.org"]
    assert "user_country_code_format" in unreadable[0].problem


async def test_a_wrong_token_is_a_read_error_naming_the_key(
        tmp_path: Path, okta: OktaSandboxServer, okta_connector: Callable[..., dict[str, Any]]) -> None:
    with pytest.raises(ReadError) as caught:
        await collect(source(tmp_path, okta_connector, api_token="wrong-token-0000000000").users(group("Sales")))
    message = str(caught.value)
    assert "refused the API token (401: E0000011 Invalid token provided)" in message
    assert f"api_token in {tmp_path / 'connector-okta.yml'}" in message
    assert "wrong-token" not in message


async def test_a_page_that_fails_fails_the_read(tmp_path: Path, okta: OktaSandboxServer,
                                                okta_connector: Callable[..., dict[str, Any]]) -> None:
    okta.sandbox.config.faults = parse_fault_plan("members:500=1", OKTA_FAULT_FAMILIES)
    with pytest.raises(ReadError, match=r"answered /api/v1/groups/\w+/users with 500: E0000009"):
        await collect(source(tmp_path, okta_connector).users(group("Sales")))


@pytest.fixture
def okta_config() -> OktaSandboxConfig:
    """Okta's limit for /api/v1/groups, in windows of 0.5 s."""
    return OktaSandboxConfig(port=0, time_scale=120, rate_limits={"groups": 4, "users": 600})


async def test_the_rate_limit_is_kept_from_okta_headers(
        tmp_path: Path, okta: OktaSandboxServer, okta_connector: Callable[..., dict[str, Any]]) -> None:
    # The client starts at 40 a window; Okta's headers hold it to 4.
    users = await collect(source(tmp_path, okta_connector, page_size=50, rate_limit=40).users(group("Big")))
    assert len(users) == 450
    # X-Rate-Limit-Remaining: 0 paused the client until the reset: it never met a 429.
    assert (okta.stats("groups").requests, okta.stats("groups").throttled) == (1 + 9, 0)


async def test_a_429_storm_past_max_outage_fails_the_read(tmp_path: Path, okta: OktaSandboxServer,
                                                          okta_connector: Callable[..., dict[str, Any]]) -> None:
    okta.sandbox.config.faults = parse_fault_plan("members:429=1@0.2", OKTA_FAULT_FAMILIES)
    with pytest.raises(ReadError, match=r"accepted no request for \d+ s \(max_outage 1 s\).*rate limited \(429"):
        await collect(source(tmp_path, okta_connector, max_outage=1).users(group("Sales")))


async def test_503s_and_dropped_connections_are_retried(tmp_path: Path, okta: OktaSandboxServer,
                                                         okta_connector: Callable[..., dict[str, Any]]) -> None:
    okta.sandbox.config.faults = parse_fault_plan("members:503=0.3,reset=0.2;groups:503=0.3", OKTA_FAULT_FAMILIES)
    users = await collect(source(tmp_path, okta_connector, page_size=50, retries=8).users(group("Big")))
    assert len(users) == 450
    stats = okta.stats("groups")
    assert stats.server_errors > 0 and stats.requests - stats.ok - stats.throttled - stats.server_errors > 0  # resets


async def test_the_identity_type_format_is_read_per_user(tmp_path: Path, okta: OktaSandboxServer,
                                                         okta_connector: Callable[..., dict[str, Any]]) -> None:
    profiles = {okta.directory.users[user_id]["profile"]["login"]: okta.directory.users[user_id]["profile"]
                for user_id in okta.directory.members[okta.directory.group_id("Engineering")]}
    profiles["ben@example.org"]["adobeType"] = "enterpriseID"
    profiles["cid@example.org"]["adobeType"] = "wizardID"
    users = await collect(source(tmp_path, okta_connector, user_identity_type_format="{adobeType}")
                          .users(group("Engineering")))
    assert users["ben@example.org"].identity_type is IdentityType.ENTERPRISE_ID
    assert isinstance(users["cid@example.org"], UnreadableDirectoryUser)
    assert "user_identity_type_format" in users["cid@example.org"].problem
