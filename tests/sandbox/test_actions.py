"""POST /action: the steps, the create options, the response counts, and test mode."""

from __future__ import annotations

from typing import Any

from async_usersync.sandbox import SandboxServer
from tests.support.sandbox import SandboxCaller

GROUP = "Sandbox Group 001"
PROFILE = "Acrobat Pro Profile 002"


def federated(email: str, *steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    create = {"createFederatedID": {"email": email, "firstname": "Fed", "lastname": "User", "country": "US"}}
    return {"user": email, **extra, "do": [create, *steps]}


async def act(caller: SandboxCaller, entries: list[dict[str, Any]], test_only: bool = False) -> dict[str, Any]:
    answer = await caller.call("POST", "/action/{org}" + ("?testOnly=true" if test_only else ""), entries)
    assert answer.status == 200, answer.body
    return answer.body


async def test_creates_each_identity_type_with_groups(caller: SandboxCaller, sandbox: SandboxServer) -> None:
    body = await act(caller, [
        federated("fed@example.com", {"add": {"group": [GROUP, PROFILE.upper()]}}),
        {"user": "ent@example.org", "do": [{"createEnterpriseID": {"email": "ent@example.org", "firstname": "E", "lastname": "U"}}]},
        {"user": "adobe@example.net", "useAdobeID": True, "do": [{"addAdobeID": {"email": "adobe@example.net", "country": "DE"}}]},
        {"user": "fuser", "domain": "example.com", "do": [
            {"createFederatedID": {"email": "f.user@example.com", "firstname": "F", "lastname": "U", "country": "FR"}}]},
    ])
    assert body == {"completed": 4, "notCompleted": 0, "completedInTestMode": 0, "result": "success"}
    state = sandbox.state
    fed = state.find_user("FED@example.com")
    assert fed is not None and fed["type"] == "federatedID" and fed["groups"] == [GROUP, PROFILE]
    assert fed["id"] in state.groups[GROUP.lower()].members
    assert state.find_user("ent@example.org")["type"] == "enterpriseID"
    assert state.find_user("adobe@example.net", use_adobe_id=True)["country"] == "DE"
    by_username = state.find_user("FUSER", "example.com")
    assert by_username is not None and by_username["email"] == "f.user@example.com" and by_username["username"] == "fuser"


async def test_create_options(caller: SandboxCaller, sandbox: SandboxServer) -> None:
    await act(caller, [federated("dup@example.com")])
    plain = await act(caller, [federated("DUP@example.com")])
    assert plain["result"] == "error" and plain["errors"][0]["errorCode"] == "error.user.already_exists"
    ignore = federated("dup@example.com", {"add": {"group": [GROUP]}})
    ignore["do"][0]["createFederatedID"] |= {"option": "ignoreIfAlreadyExists", "firstname": "Ignored"}
    update = federated("dup@example.com")
    update["do"][0]["createFederatedID"] |= {"option": "updateIfAlreadyExists", "lastname": "Updated"}
    assert (await act(caller, [ignore, update]))["result"] == "success"
    user = sandbox.state.find_user("dup@example.com")
    assert (user["firstname"], user["lastname"], user["groups"]) == ("Fed", "Updated", [GROUP])


async def test_update_changes_only_listed_fields_and_email_carries_username(caller: SandboxCaller, sandbox: SandboxServer) -> None:
    await act(caller, [federated("old@example.com")])
    body = await act(caller, [{"user": "old@example.com", "do": [{"update": {"email": "new@example.com", "firstname": "New"}}]}])
    assert body["result"] == "success"
    user = sandbox.state.find_user("new@example.com")
    assert (user["email"], user["username"], user["firstname"], user["lastname"]) == ("new@example.com", "new@example.com", "New", "User")
    assert sandbox.state.find_user("old@example.com") is None


async def test_add_remove_lists_and_all(caller: SandboxCaller, sandbox: SandboxServer) -> None:
    await act(caller, [federated("member@example.com", {"add": {"group": [GROUP, PROFILE, "Sandbox Group 003"]}})])
    await act(caller, [{"user": "member@example.com", "do": [{"remove": {"group": [PROFILE]}}]}])
    assert sandbox.state.find_user("member@example.com")["groups"] == [GROUP, "Sandbox Group 003"]
    await act(caller, [{"user": "member@example.com", "do": [{"remove": "all"}]}])
    assert sandbox.state.find_user("member@example.com")["groups"] == []
    assert all(g.name != GROUP or sandbox.state.find_user("member@example.com")["id"] not in g.members for g in sandbox.state.groups.values())


async def test_remove_from_org_always_succeeds(caller: SandboxCaller, sandbox: SandboxServer) -> None:
    await act(caller, [federated("leaver@example.com", {"add": {"group": [GROUP]}})])
    body = await act(caller, [
        {"user": "leaver@example.com", "do": [{"removeFromOrg": {"deleteAccount": True}}]},
        {"user": "never-there@example.com", "do": [{"removeFromOrg": {}}]},
    ])
    assert body["result"] == "success" and body["completed"] == 2
    assert sandbox.state.find_user("leaver@example.com") is None
    assert all(member in sandbox.state.users for member in sandbox.state.groups[GROUP.lower()].members)


async def test_a_failed_step_is_reported_and_the_entry_goes_on_with_its_later_steps(caller: SandboxCaller, sandbox: SandboxServer) -> None:
    """As UMAPI does (User Sync's issue 462): each failed step is reported, the others land."""
    body = await act(caller, [
        federated("partial@example.com", {"add": {"group": ["No Such Group"]}}, {"update": {"firstname": "Later"}},
                  {"add": {"group": [GROUP]}}, requestID="r-1"),
        federated("fine@example.com"),
    ])
    assert body["result"] == "partial" and (body["completed"], body["notCompleted"]) == (1, 1)
    assert body["errors"] == [{"index": 0, "step": 1, "requestID": "r-1", "user": "partial@example.com",
                               "errorCode": "error.group.not_found", "message": "Group No Such Group was not found"}]
    user = sandbox.state.find_user("partial@example.com")
    assert (user["firstname"], user["groups"]) == ("Later", [GROUP])


async def test_after_a_failed_create_each_later_step_fails_on_the_missing_user(caller: SandboxCaller, sandbox: SandboxServer) -> None:
    """Issue 462 of User Sync: the create fails, then its add step fails with error.user.not_found."""
    no_country = {"createFederatedID": {"email": "new@example.com", "firstname": "N", "lastname": "U"}}
    body = await act(caller, [{"user": "new@example.com", "requestID": "r-2",
                               "do": [no_country, {"add": {"group": [GROUP]}}, {"update": {"firstname": "X"}}]}])
    assert (body["result"], body["completed"], body["notCompleted"]) == ("error", 0, 1)
    assert [(error["step"], error["errorCode"], error["message"]) for error in body["errors"]] == [
        (0, "error.user.command.missing.arguments", "country is required for a Federated ID"),
        (1, "error.user.not_found", "No valid users were found in the request"),
        (2, "error.user.nonexistent", "User Id does not exist: new@example.com"),
    ]
    assert all(error["requestID"] == "r-2" and error["index"] == 0 for error in body["errors"])
    assert sandbox.state.find_user("new@example.com") is None


async def test_steps_on_a_missing_user_fail(caller: SandboxCaller) -> None:
    body = await act(caller, [{"user": "ghost@example.com", "do": [{"add": {"group": [GROUP]}}]}])
    assert body["errors"][0]["errorCode"] == "error.user.not_found"


async def test_user_group_commands(caller: SandboxCaller, sandbox: SandboxServer) -> None:
    await act(caller, [federated("g1@example.com")])
    body = await act(caller, [{"usergroup": "Team A", "do": [
        {"createUserGroup": {"description": "first", "option": "ignoreIfAlreadyExists"}},
        {"add": {"user": ["g1@example.com"], "productConfiguration": [PROFILE]}},
    ]}])
    assert body["result"] == "success"
    assert sandbox.state.find_user("g1@example.com")["groups"] == ["Team A"]
    body = await act(caller, [{"usergroup": "team a", "do": [{"updateUserGroup": {"name": "Team B", "description": "renamed"}}]}])
    assert body["result"] == "success"
    assert sandbox.state.find_user("g1@example.com")["groups"] == ["Team B"]
    assert sandbox.state.groups["team b"].info["description"] == "renamed"
    again = await act(caller, [{"usergroup": "Team B", "do": [{"createUserGroup": {}}]}])
    assert again["errors"][0]["errorCode"] == "error.usergroup.already_exists"
    body = await act(caller, [{"usergroup": "Team B", "do": [{"deleteUserGroup": {}}]}])
    assert body["result"] == "success" and "team b" not in sandbox.state.groups
    assert sandbox.state.find_user("g1@example.com")["groups"] == []


async def test_test_mode_changes_nothing_and_treats_missing_users_as_success(caller: SandboxCaller, sandbox: SandboxServer) -> None:
    before = sandbox.state.to_json()
    body = await act(caller, [
        federated("trial@example.com", {"add": {"group": [GROUP]}}),
        {"user": "ghost@example.com", "do": [{"update": {"firstname": "X"}}, {"removeFromOrg": {}}]},
        {"user": "bad@example.com", "do": [{"add": {"group": ["No Such Group"]}}]},
    ], test_only=True)
    assert (body["completed"], body["completedInTestMode"], body["notCompleted"], body["result"]) == (0, 2, 1, "partial")
    assert body["errors"][0]["errorCode"] == "error.group.not_found"
    assert sandbox.state.to_json() == before
    assert sandbox.sandbox.stats.families["action"].commands_applied == 0


async def test_user_group_steps_refuse_read_only_groups_and_the_member_ceiling(caller: SandboxCaller,
                                                                               sandbox: SandboxServer) -> None:
    """UMAPI's usergroupActionCommands page: a shared (``isReadOnly``) group takes no user membership
    change but takes profiles; ``add`` is refused on a group over 200,000 members (here lowered)."""
    await act(caller, [federated("ro1@example.com"), federated("ro2@example.com")])
    sandbox.state.add_group({"groupName": "Shared", "type": "USER_GROUP", "isReadOnly": True})
    listed = {group.name: group.listed() for group in sandbox.state.group_list()}
    assert listed["Shared"]["isReadOnly"] is True  # the group listing tells the client
    body = await act(caller, [
        {"usergroup": "Shared", "do": [{"add": {"user": ["ro1@example.com"]}}, {"remove": {"user": ["ro2@example.com"]}},
                                       {"add": {"productConfiguration": [PROFILE]}}]},
    ])
    assert [(error["step"], error["errorCode"]) for error in body["errors"]] == [
        (0, "error.usergroup.readonly.add_user_not_allowed"), (1, "error.usergroup.readonly.remove_user_not_allowed")]
    assert sandbox.state.groups["shared"].members == {} and sandbox.state.groups["shared"].profiles == [PROFILE]
    sandbox.config.max_group_members_for_add = 1
    body = await act(caller, [{"usergroup": "Team C", "do": [
        {"createUserGroup": {}}, {"add": {"user": ["ro1@example.com", "ro2@example.com"]}},
        {"add": {"user": ["ro2@example.com"]}}, {"remove": {"user": ["ro1@example.com"]}}]}])
    assert [(error["step"], error["errorCode"]) for error in body["errors"]] == [
        (2, "error.usergroup.exceeds_maximum_member_count")]
    assert sandbox.state.find_user("ro2@example.com")["groups"] == ["Team C"]
    assert sandbox.state.find_user("ro1@example.com")["groups"] == []

