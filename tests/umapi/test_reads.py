"""Reading users and groups from the sandbox: paging, concurrency, conversion, errors."""

from __future__ import annotations

import pytest

from async_usersync.records import IdentityType
from async_usersync.umapi import UmapiClient, UmapiError
from tests.umapi.conftest import TIME_SCALE, client_settings


async def test_every_user_arrives_once_with_small_pages_and_stats_show_one_request_per_page(sandbox_factory):
    server = await sandbox_factory(users=50, time_scale=TIME_SCALE, user_page_size=7)
    async with UmapiClient(client_settings(server)) as client:
        users = [user async for user in client.users()]
    listed = server.state.user_list()
    assert sorted(user.email for user in users) == sorted(user["email"] for user in listed)
    assert len(users) == 50
    stats = server.sandbox.stats.families["users"]
    assert stats.requests == 8  # ceil(50 / 7): no page read twice, none past the end


async def test_pages_are_handed_on_as_they_arrive_not_in_page_order(sandbox_factory):
    server = await sandbox_factory(users=60, time_scale=TIME_SCALE, user_page_size=5, seed=3)
    server.config.update({"faults": "users:slow=0.5@0.3"})
    async with UmapiClient(client_settings(server)) as client:
        emails = [user.email async for user in client.users()]
    in_page_order = [user["email"] for user in server.state.user_list()]
    assert sorted(emails) == sorted(in_page_order)
    assert emails != in_page_order  # a slow page did not hold back the pages after it


async def test_a_listing_that_grew_after_page_zero_is_read_to_its_last_page(sandbox_factory):
    """X-Page-Count said 2 pages, but lastPage is what ends the read: page 2 is fetched too."""
    server = await sandbox_factory(users=10, time_scale=TIME_SCALE, user_page_size=5)
    async with UmapiClient(client_settings(server)) as client:
        seen = []
        async for user in client.users():
            if not seen:
                for number in range(3):
                    server.state.add_user({"type": "federatedID", "email": f"late{number}@example.com",
                                           "username": f"late{number}@example.com", "domain": "example.com",
                                           "firstname": "Late", "lastname": "Comer", "country": "US", "groups": []})
            seen.append(user.email)
    assert len(seen) == len(set(seen)) == 13


async def test_users_are_converted_with_type_names_groups_and_domain(sandbox):
    listed = {user["email"]: user for user in sandbox.state.user_list()}
    async with UmapiClient(client_settings(sandbox)) as client:
        users = [user async for user in client.users()]
    for user in users:
        source = listed[user.email]
        assert user.identity_type is IdentityType(source["type"])
        assert user.username == source["username"]
        assert user.domain == source["domain"]
        assert (user.firstname, user.lastname, user.country) == (source["firstname"], source["lastname"], source["country"])
        assert user.groups == frozenset(source["groups"])


async def test_users_of_one_group_and_the_group_list(sandbox):
    async with UmapiClient(client_settings(sandbox)) as client:
        groups = [group async for group in client.groups()]
        name = groups[0]["groupName"]
        members = [user async for user in client.users(name)]
    assert {group["groupName"] for group in groups} == {group.name for group in sandbox.state.group_list()}
    expected = {user["email"] for user in sandbox.state.user_list() if name in user["groups"]}
    assert {user.email for user in members} == expected and expected


async def test_an_unknown_group_is_a_read_error_naming_it(sandbox):
    async with UmapiClient(client_settings(sandbox)) as client:
        with pytest.raises(UmapiError, match="'No Such Group' not found") as caught:
            _ = [user async for user in client.users("No Such Group")]
    assert caught.value.exit_code == 3


@pytest.mark.parametrize("page", [0, 1])
async def test_a_users_page_that_is_not_a_list_of_users_is_a_failed_read_naming_path_and_status(sandbox_factory, page):
    """A 404 (a wrong server.endpoint, a page the server lost) is not an empty org or an end of the list."""
    server = await sandbox_factory(users=10, time_scale=TIME_SCALE, user_page_size=5)
    endpoint = "/v2/usermanagement" if page else "/v2/no-such-endpoint"
    path_of_page = f"/users/{server.org_id}/{page}"
    settings = client_settings(server, endpoint=endpoint)
    async with UmapiClient(settings) as client:
        if page:  # page 1 goes to a path the server does not know
            original = client.transport._build_url

            def wrong_page_one(path, query):
                return original(path.replace("/1", "/1/nowhere/x") if path.endswith("/1") else path, query)
            client.transport._url = wrong_page_one
        with pytest.raises(UmapiError) as caught:
            _ = [user async for user in client.users()]
    assert caught.value.exit_code == 3 and caught.value.status == 404
    assert "HTTP 404" in str(caught.value) and f"{endpoint}{path_of_page}" in str(caught.value)


async def test_an_untrusted_certificate_is_refused_with_advice(sandbox, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    async with UmapiClient(client_settings(sandbox, ca_file=None)) as client:
        with pytest.raises(UmapiError, match="not trusted"):
            _ = [user async for user in client.users()]


async def test_bad_credentials_name_the_client_id_but_never_the_secret(sandbox):
    async with UmapiClient(client_settings(sandbox, client_secret="wrong-secret-123")) as client:
        with pytest.raises(UmapiError) as caught:
            _ = [user async for user in client.users()]
    assert sandbox.client_id in str(caught.value)
    assert "wrong-secret-123" not in str(caught.value)
