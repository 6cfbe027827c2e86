"""GET users, users in a group, one user, and groups: shapes, paging and its headers."""

from __future__ import annotations

import pytest

from async_usersync.sandbox import SandboxConfig, SandboxServer
from tests.support.sandbox import SandboxCaller


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(port=0, users=45, groups=5, user_page_size=20, group_page_size=2)


async def test_users_are_paged_from_zero_with_string_headers(caller: SandboxCaller, sandbox: SandboxServer) -> None:
    seen = []
    for page in range(3):
        answer = await caller.call("GET", f"/users/{{org}}/{page}")
        assert answer.status == 200 and answer.body["result"] == "success"
        assert answer.headers["X-Total-Count"] == "45"
        assert answer.headers["X-Page-Count"] == "3"
        assert answer.headers["X-Current-Page"] == str(page)
        assert answer.headers["X-Page-Size"] == "20"
        assert answer.body["lastPage"] is (page == 2)
        seen += answer.body["users"]
    assert [user["email"] for user in seen] == [user["email"] for user in sandbox.state.users.values()]
    assert len(seen[:20]) == 20 and len(seen[40:]) == 5


async def test_page_past_the_end_is_the_last_page(caller: SandboxCaller) -> None:
    last = await caller.call("GET", "/users/{org}/2")
    beyond = await caller.call("GET", "/users/{org}/99")
    assert beyond.body == last.body
    assert beyond.headers["X-Current-Page"] == "2" and beyond.body["lastPage"] is True


async def test_empty_org_still_reports_a_page_size(sandbox_factory, sandbox_http) -> None:
    server = await sandbox_factory(users=0)
    answer = await SandboxCaller(sandbox_http, server).call("GET", "/users/{org}/0")
    assert answer.body == {"lastPage": True, "result": "success", "users": []}
    assert answer.headers["X-Page-Size"] == "2000" and answer.headers["X-Page-Count"] == "1"


async def test_user_objects_leave_out_empty_fields(caller: SandboxCaller, sandbox: SandboxServer) -> None:
    await caller.call("POST", "/action/{org}", [{"user": "bare@example.net", "useAdobeID": True, "do": [{"addAdobeID": {"email": "bare@example.net"}}]}])
    answer = await caller.call("GET", "/organizations/{org}/users/bare@example.net", )
    assert set(answer.body["user"]) == {"id", "email", "status", "username", "domain", "type", "groups"}
    assert answer.body["user"]["type"] == "adobeID"


async def test_domain_filter(caller: SandboxCaller, sandbox: SandboxServer) -> None:
    answer = await caller.call("GET", "/users/{org}/0?domain=EXAMPLE.org")
    expected = [user["email"] for user in sandbox.state.users.values() if user["domain"] == "example.org"]
    assert expected and [user["email"] for user in answer.body["users"]] == expected[:20]


async def test_direct_only_false_adds_profiles_reached_through_user_groups(caller: SandboxCaller, sandbox: SandboxServer) -> None:
    user = next(u for u in sandbox.state.users.values() if "Acrobat Pro Profile 002" not in u["groups"])
    setup = await caller.call("POST", "/action/{org}", [
        {"usergroup": "Designers", "do": [{"createUserGroup": {"option": "ignoreIfAlreadyExists"}},
                                          {"add": {"user": [user["email"]], "productConfiguration": ["Acrobat Pro Profile 002"]}}]},
    ])
    assert setup.body["result"] == "success"
    direct = await caller.call("GET", "/users/{org}/0/Designers")
    assert "Acrobat Pro Profile 002" not in direct.body["users"][0]["groups"]
    for spelling in ("False", "false", "FALSE"):
        listed = await caller.call("GET", f"/users/{{org}}/0/Designers?directOnly={spelling}")
        assert listed.body["users"][0]["groups"][-1] == "Acrobat Pro Profile 002"


async def test_users_in_a_group(caller: SandboxCaller, sandbox: SandboxServer) -> None:
    group = sandbox.state.groups["sandbox group 001"]
    answer = await caller.call("GET", "/users/{org}/0/sandbox%20group%20001")
    assert answer.status == 200 and answer.body["groupName"] == "sandbox group 001"
    assert [user["id"] for user in answer.body["users"]] == list(group.members)[:20]
    assert answer.headers["X-Total-Count"] == str(len(group.members))
    excluded = await caller.call("GET", "/users/{org}/0/Sandbox%20Group%20001?excludeGroups=true")
    assert all("groups" not in user for user in excluded.body["users"])
    inactive = await caller.call("GET", "/users/{org}/0/Acrobat%20Pro%20Profile%20002?status=inactive")
    assert inactive.body["users"] == []


async def test_unknown_group_is_404_but_admin_group_of_a_known_one_is_empty(caller: SandboxCaller) -> None:
    missing = await caller.call("GET", "/users/{org}/0/No%20Such%20Group")
    assert missing.status == 404
    assert missing.body == {"lastPage": False, "result": "error.group.not_found", "message": "Not found: Group No Such Group"}
    admins = await caller.call("GET", "/users/{org}/0/_admin_Sandbox%20Group%20001")
    assert admins.status == 200 and admins.body["users"] == []


async def test_get_one_user_case_insensitively_and_by_username(caller: SandboxCaller, sandbox: SandboxServer) -> None:
    user = next(u for u in sandbox.state.users.values() if u["type"] == "federatedID" and u["username"] != u["email"])
    by_email = await caller.call("GET", f"/organizations/{{org}}/users/{user['email'].upper()}")
    by_username = await caller.call("GET", f"/organizations/{{org}}/users/{user['username']}?domain={user['domain']}")
    assert by_email.body == by_username.body == {"result": "success", "user": user}
    missing = await caller.call("GET", "/organizations/{org}/users/nobody@example.com")
    assert missing.status == 404
    assert missing.body == {"result": "error.user.not_found", "message": "User not found nobody@example.com"}


async def test_groups_are_paged_with_type_specific_fields(caller: SandboxCaller, sandbox: SandboxServer) -> None:
    groups = []
    for page in range(3):
        answer = await caller.call("GET", f"/groups/{{org}}/{page}")
        assert answer.headers["X-Page-Size"] == "2" and answer.headers["X-Page-Count"] == "3"
        assert answer.body["lastPage"] is (page == 2)
        groups += answer.body["groups"]
    assert [group["groupName"] for group in groups] == [group.name for group in sandbox.state.groups.values()]
    profile = next(group for group in groups if group["type"] == "PRODUCT_PROFILE")
    user_group = next(group for group in groups if group["type"] == "USER_GROUP")
    assert isinstance(profile["licenseQuota"], str) and profile["productName"]
    assert "licenseQuota" not in user_group and "productName" not in user_group
    assert all(isinstance(group["groupId"], int) and isinstance(group["memberCount"], int) for group in groups)


async def test_page_must_be_a_number(caller: SandboxCaller) -> None:
    assert (await caller.call("GET", "/users/{org}/first")).status == 404
