"""Every family of validation error: request, entry, step shape, create, update, lists, removeFromOrg, groups."""

from __future__ import annotations

from typing import Any

import pytest

from async_usersync.sandbox import SandboxServer
from tests.support.sandbox import SandboxCaller

CREATE = {"createFederatedID": {"email": "v@example.com", "firstname": "V", "lastname": "U", "country": "US"}}
ELEVEN = [f"Group {n}" for n in range(11)]


def entry(*steps: Any, user: str = "v@example.com", **extra: Any) -> dict[str, Any]:
    return {"user": user, **extra, "do": list(steps)}


@pytest.mark.parametrize(
    ("body", "result"),
    [
        ({"user": "v@example.com"}, "error.command.malformed"),
        ([], "error.command.malformed"),
        ([entry(CREATE)] * 11, "error.command.malformed"),
    ],
    ids=["not-an-array", "empty", "eleven-entries"],
)
async def test_malformed_requests_are_400(caller: SandboxCaller, body: Any, result: str) -> None:
    answer = await caller.call("POST", "/action/{org}", body)
    assert answer.status == 400
    assert answer.body["result"] == result and answer.body["message"]


async def test_invalid_json_is_400(caller: SandboxCaller) -> None:
    answer = await caller.call("POST", "/action/{org}", headers={"Content-Type": "application/json"})
    assert answer.status == 400 and answer.body["result"] == "error.command.malformed"


CASES: list[tuple[str, Any, int, str]] = [
    # entry shape
    ("entry-not-object", "just a string", 0, "error.command.illegal_entry"),
    ("entry-unknown-key", {**entry(CREATE), "colour": "red"}, 0, "error.command.illegal_entry"),
    ("no-root", {"do": [CREATE]}, 0, "error.command.user_usergroup.missing"),
    ("both-roots", {**entry(CREATE), "usergroup": "G"}, 0, "error.command.user_usergroup.missing"),
    ("do-missing", {"user": "v@example.com"}, 0, "error.command.steps.malformed"),
    ("too-many-steps", entry(*[{"add": {"group": ["Sandbox Group 001"]}}] * 11), 0, "error.command.add_remove.list_too_long"),
    ("domain-with-email", entry(CREATE, domain="example.com"), 0, "error.command.domain.must_be_used_with_nonemail_username"),
    ("domain-missing", entry(CREATE, user="vuser"), 0, "error.command.domain.missing"),
    ("domain-not-string", entry(CREATE, user="vuser", domain=5), 0, "error.command.domain.string_expected"),
    ("use-adobe-id-not-bool", entry(CREATE, useAdobeID="yes"), 0, "error.command.boolean_expected"),
    # step shape
    ("step-two-keys", entry({"add": {"group": ["X"]}, "remove": "all"}), 0, "error.command.steps.malformed"),
    ("step-unknown", entry({"promote": {}}), 0, "error.command.step.unknown"),
    ("create-not-first", entry({"update": {"firstname": "A"}}, CREATE), 1, "error.command.create.not_first"),
    ("create-twice", entry(CREATE, CREATE), 1, "error.command.create.more_than_one"),
    ("remove-from-org-not-last", entry({"removeFromOrg": {}}, {"update": {"firstname": "A"}}), 0, "error.command.removefromorg.not_last"),
    # create
    ("create-not-object", entry({"createFederatedID": "v@example.com"}), 0, "error.command.create.object_expected"),
    ("create-unknown-key", entry({"createFederatedID": {**CREATE["createFederatedID"], "age": "9"}}), 0, "error.command.create.key.unknown"),
    ("create-bad-email", entry({"createEnterpriseID": {"email": "not-an-email", "firstname": "A", "lastname": "B"}}, user="v@example.com"), 0, "error.user.email.invalid"),
    ("create-long-email", entry({"createEnterpriseID": {"email": "x" * 50 + "@example.com", "firstname": "A", "lastname": "B"}}, user="x" * 50 + "@example.com"), 0, "error.user.email.invalid"),
    ("create-email-mismatch", entry({"createEnterpriseID": {"email": "other@example.com", "firstname": "A", "lastname": "B"}}), 0, "error.user.must_match_email"),
    ("create-no-firstname", entry({"createEnterpriseID": {"email": "v@example.com", "lastname": "B"}}), 0, "error.user.firstname_missing"),
    ("create-no-lastname", entry({"createEnterpriseID": {"email": "v@example.com", "firstname": "A"}}), 0, "error.user.lastname_missing"),
    ("create-federated-no-country", entry({"createFederatedID": {"email": "v@example.com", "firstname": "A", "lastname": "B"}}), 0, "error.user.command.missing.arguments"),
    ("create-country-lowercase", entry({"createFederatedID": {**CREATE["createFederatedID"], "country": "us"}}), 0, "error.country.invalid"),
    ("create-country-too-long", entry({"createFederatedID": {**CREATE["createFederatedID"], "country": "USA"}}), 0, "error.command.string.too_long"),
    ("create-name-too-long", entry({"createFederatedID": {**CREATE["createFederatedID"], "firstname": "A" * 251}}), 0, "error.command.string.too_long"),
    ("create-name-not-string", entry({"createFederatedID": {**CREATE["createFederatedID"], "firstname": 7}}), 0, "error.command.create.string_expected"),
    ("create-bad-option", entry({"createFederatedID": {**CREATE["createFederatedID"], "option": "replace"}}), 0, "error.option.illegal"),
    # update
    ("update-empty", entry(CREATE, {"update": {}}), 1, "error.user.command.missing.arguments"),
    ("update-country", entry(CREATE, {"update": {"country": "DE"}}), 1, "error.update.country.no_update"),
    ("update-unknown-field", entry(CREATE, {"update": {"title": "Dr"}}), 1, "error.command.update.option.no"),
    ("update-bad-email", entry(CREATE, {"update": {"email": "nope"}}), 1, "error.user.email.invalid"),
    # add / remove lists
    ("add-not-object", entry(CREATE, {"add": ["Sandbox Group 001"]}), 1, "error.command.add_remove.list"),
    ("add-all", entry(CREATE, {"add": "all"}), 1, "error.command.add_remove.list"),
    ("add-empty-object", entry(CREATE, {"add": {}}), 1, "error.command.add_remove.missing_list"),
    ("add-unknown-key", entry(CREATE, {"add": {"team": ["A"]}}), 1, "error.command.add_remove.key.unknown"),
    ("add-not-array", entry(CREATE, {"add": {"group": "Sandbox Group 001"}}), 1, "error.command.add_remove.list_not_array"),
    ("add-eleven-names", entry(CREATE, {"add": {"group": ELEVEN}}), 1, "error.command.add_remove.list_too_long"),
    ("remove-eleven-names", entry(CREATE, {"remove": {"group": ELEVEN}}), 1, "error.command.add_remove.list_too_long"),
    ("add-duplicate", entry(CREATE, {"add": {"group": ["A", "a"]}}), 1, "error.command.add_remove.duplicate.group_list"),
    ("add-long-name", entry(CREATE, {"add": {"group": ["G" * 256]}}), 1, "error.command.add_remove.group_or_product_name_too_long"),
    ("add-unknown-group", entry(CREATE, {"add": {"group": ["No Such Group"]}}), 1, "error.group.not_found"),
    ("add-org-admin", entry(CREATE, {"add": {"group": ["_org_admin"]}}), 1, "error.group.invalid_name"),
    # removeFromOrg
    ("remove-from-org-not-object", entry({"removeFromOrg": True}), 0, "error.command.create.object_expected"),
    ("delete-account-not-bool", entry({"removeFromOrg": {"deleteAccount": "yes"}}), 0, "error.command.boolean_expected"),
    # user groups
    ("group-bad-name", {"usergroup": "_hidden", "do": [{"createUserGroup": {}}]}, 0, "error.group.invalid_name"),
    ("group-not-found", {"usergroup": "Nobody's", "do": [{"updateUserGroup": {"description": "x"}}]}, 0, "error.usergroup.not_found"),
    ("group-profile-root", {"usergroup": "Acrobat Pro Profile 002", "do": [{"deleteUserGroup": {}}]}, 0, "error.usergroup.not_found"),
    ("group-delete-args", {"usergroup": "Sandbox Group 001", "do": [{"deleteUserGroup": {"force": True}}]}, 0, "error.command.object_not_empty"),
    ("group-unknown-user", {"usergroup": "Sandbox Group 001", "do": [{"add": {"user": ["nobody@example.com"]}}]}, 0, "error.usergroup.user_list.invalid"),
    ("group-unknown-profile", {"usergroup": "Sandbox Group 001", "do": [{"add": {"productConfiguration": ["Nope"]}}]}, 0, "error.command.product.not_found"),
    ("group-domain", {"usergroup": "Sandbox Group 001", "domain": "example.com", "do": [{"deleteUserGroup": {}}]}, 0, "error.command.illegal_entry"),
    # semantic user errors
    ("update-adobe-id", {"user": "a@example.net", "useAdobeID": True, "do": [{"addAdobeID": {"email": "a@example.net"}}, {"update": {"firstname": "A"}}]}, 1, "error.update.adobeid.no"),
]


@pytest.mark.parametrize(("entry_body", "step", "code"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
async def test_each_rule_reports_its_code_on_its_step(caller: SandboxCaller, sandbox: SandboxServer, entry_body: Any, step: int, code: str) -> None:
    before_users = len(sandbox.state.users)
    answer = await caller.call("POST", "/action/{org}", [entry_body])
    assert answer.status == 200
    assert answer.body["result"] == "error" and answer.body["notCompleted"] == 1
    [error] = answer.body["errors"]
    assert (error["index"], error["step"], error["errorCode"]) == (0, step, code)
    assert error["message"]
    if code != "error.update.adobeid.no" and step == 0:
        assert len(sandbox.state.users) == before_users


async def test_entry_with_a_shape_error_runs_no_step(caller: SandboxCaller, sandbox: SandboxServer) -> None:
    answer = await caller.call("POST", "/action/{org}", [entry(CREATE, {"add": {"group": ELEVEN}})])
    assert answer.body["errors"][0]["step"] == 1
    assert sandbox.state.find_user("v@example.com") is None


async def test_limits_are_configurable(sandbox_factory, sandbox_http) -> None:
    server = await sandbox_factory(max_names_per_list=20, max_entries_per_request=2)
    caller = SandboxCaller(sandbox_http, server)
    groups = [group.name for group in server.state.groups.values()][:6] + [f"Missing {n}" for n in range(14)]
    twenty = await caller.call("POST", "/action/{org}", [entry(CREATE, {"add": {"group": groups}})])
    assert twenty.body["errors"][0]["errorCode"] == "error.group.not_found"  # the length passed
    three = await caller.call("POST", "/action/{org}", [entry(CREATE)] * 3)
    assert three.status == 400


async def test_deprecated_product_list_warns(caller: SandboxCaller, sandbox: SandboxServer) -> None:
    answer = await caller.call("POST", "/action/{org}", [entry(CREATE, {"add": {"product": ["Acrobat Pro Profile 002"]}})])
    assert answer.body["result"] == "success"
    assert answer.body["warnings"][0]["warningCode"] == "warning.command.deprecated"
    assert sandbox.state.find_user("v@example.com")["groups"] == ["Acrobat Pro Profile 002"]
