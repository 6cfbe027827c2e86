"""The ``adobe_console`` source (issue 19): another Admin Console org read as the directory. Real runs of
``async-usersync --connector adobe_console`` between two sandboxes, a source org and the target org
(conftest's ``starting_org()``), each checking the target's final state and the source's traffic.

The source org (its groups are directory groups; Sales and Engineering are mapped):
    alice [Sales], bob [Sales, engineering (any case)], carol [Engineering], dave [Engineering],
    gina [Sales], erin [no group], frank [Marketing, not mapped], ann [Sales, an Adobe ID]
"""

from __future__ import annotations

import json
import random
import ssl
from pathlib import Path
from typing import Any, AsyncIterator

import aiohttp
import pytest
import yaml

from async_usersync.demo.slapd import LocalSlapd
from async_usersync.sandbox import SandboxConfig, SandboxServer, run_sandbox
from tests.e2e.conftest import MAPPING, Setup, adobe_user, email, starting_org
from tests.e2e.test_check import check, line_of, steps

SOURCE_ORG_ID = "5E2C9F3A6B7D8E9F0A1B2C3D@AdobeOrg"
SOURCE_SECRET = "source-secret-7Qx"
REMOVE = ("--connector", "adobe_console", "--users", "mapped", "--process-groups", "--adobe-only-user-action", "remove")


def source_org() -> dict[str, Any]:
    groups = [{"groupName": name, "type": "USER_GROUP"} for name in ("Sales", "Engineering", "Marketing")]
    return {
        "org_id": SOURCE_ORG_ID,
        "groups": groups,
        "users": [
            adobe_user("alice", ["Sales"]),
            adobe_user("bob", ["Sales", "engineering"]),
            adobe_user("carol", ["Engineering"]),
            adobe_user("dave", ["Engineering"]),
            adobe_user("gina", ["Sales"]),
            adobe_user("erin", []),
            adobe_user("frank", ["Marketing"]),
            adobe_user("ann", ["Sales"], identity_type="adobeID", domain="example.net"),
        ],
    }


async def start_source(tmp_path: Path, **config: Any) -> AsyncIterator[SandboxServer]:
    state_file = tmp_path / "source-org.json"
    state_file.write_text(json.dumps(source_org()))
    settings = SandboxConfig(port=0, throttle=False, state_file=str(state_file), org_id=SOURCE_ORG_ID,
                             client_id="source-client", client_secret=SOURCE_SECRET, **config)
    async with run_sandbox(settings) as server:
        yield server


@pytest.fixture
async def source(tmp_path: Path) -> AsyncIterator[SandboxServer]:
    async for server in start_source(tmp_path):
        yield server


@pytest.fixture
async def paged_source(tmp_path: Path) -> AsyncIterator[SandboxServer]:
    """The source org served two users a page (four pages)."""
    async for server in start_source(tmp_path, user_page_size=2):
        yield server


class ConsoleSetup(Setup):
    """conftest's Setup whose directory is the source org (connector-adobe-console.yml)."""

    source: SandboxServer

    def write_console(self, main: dict[str, Any] | None = None, integration: dict[str, Any] | None = None,
                      server: dict[str, Any] | None = None, **top: Any) -> None:
        source = self.source
        directory_users = {"user_identity_type": "federatedID", "default_country_code": "US",
                           "connectors": {"adobe_console": "connector-adobe-console.yml"}, "groups": MAPPING}
        self.write(main={"directory_users": directory_users} | (main or {}))
        console = {
            "authentication_method": "oauth",
            "integration": {key: value for key, value in ({"org_id": source.org_id, "client_id": source.client_id,
                            "client_secret": source.client_secret} | (integration or {})).items() if value is not None},
            "server": {"host": f"{source.host}:{source.port}", "auth_host": f"{source.host}:{source.port}",
                       "ca_file": str(source.ca_cert), "retries": 1, "timeout": 20,
                       "limits": {"window": 0.01}} | (server or {}),
        } | top
        (self.folder / "connector-adobe-console.yml").write_text(yaml.safe_dump(console, sort_keys=False))

    async def source_stats(self) -> dict[str, Any]:
        context = ssl.create_default_context(cafile=str(self.source.ca_cert))
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{self.source.base_url}/_sandbox/stats", ssl=context) as response:
                return dict(await response.json())


@pytest.fixture
def console(tmp_path: Path, directory: LocalSlapd, org: SandboxServer, source: SandboxServer) -> ConsoleSetup:
    setup = ConsoleSetup(tmp_path, directory, org)
    setup.source = source
    setup.write_console()
    return setup


def first_passes_then_fails(share: float) -> int:
    """A seed whose first fault draw misses (page 0 is served) and whose second hits (a later page fails)."""
    for seed in range(1000):
        draws = random.Random(seed)
        if draws.random() >= share and draws.random() < share:
            return seed
    raise AssertionError("no such seed")


UNTOUCHED = {
    email("alice"): ["Sales Team"],
    email("keeper"): ["Keep", "Sales Team"],  # in the excluded group Keep
    "visitor@example.net": ["Sales Team"],  # an excluded type (adobeID)
}
BEFORE = starting_org()


def before(*names: str) -> dict[str, list[str]]:
    return {user["email"]: sorted(user["groups"]) for user in BEFORE["users"] if user["email"].split("@")[0] in names}


async def test_mapped_groups_with_removals_give_the_org_user_sync_gives(console: ConsoleSetup) -> None:
    console.write_console(identity_type_filter="federatedID")
    run = await console.sync(*REMOVE)
    assert run.code == 0, run.out + run.err
    assert await console.users() == UNTOUCHED | {
        email("bob"): ["Eng Team", "Photoshop", "Sales Team"],  # "engineering" in the source is the group Engineering
        email("carol"): ["Eng Team", "Other Team", "Photoshop"],  # stale mapped group gone, unmapped kept
        email("dave"): ["Eng Team", "Photoshop"],
        email("gina"): ["Sales Team"],
    }  # gone1 and gone2 removed; erin and frank hold no mapped group; ann is an Adobe ID, filtered out
    assert run.summary()["Number of directory users read"] == "5"
    assert "Adding user with user key: federatedID,dave@e2e.test,,dave@e2e.test" in run.out
    stats = (await console.source_stats())["families"]
    assert stats["action"]["requests"] == 0  # the source org is only read...
    assert all(stats[family]["sync_starts"] == stats[family]["sync_ends"] == 0 for family in stats)  # ...and not synced
    again = await console.sync(*REMOVE)
    assert again.code == 0 and again.summary()["Number of UMAPI actions sent (total, success, error)"] == "(0, 0, 0)"


async def test_identity_type_filter_all_reads_every_type(console: ConsoleSetup) -> None:
    run = await console.sync("--connector", "adobe_console", "--users", "mapped", "--process-groups")
    assert run.code == 0, run.out + run.err
    users = await console.users()
    assert users["ann@example.net"] == ["Sales Team"]  # the Adobe ID of the source org is read too
    assert run.summary()["Number of directory users read"] == "6"


async def test_users_group_reads_only_the_named_groups_members(console: ConsoleSetup) -> None:
    run = await console.sync("--connector", "adobe_console", "--users", "group", "ENGINEERING")
    assert run.code == 0, run.out + run.err
    # Without --process-groups no group moves, as in User Sync: only the creates of Engineering's members.
    assert await console.users() == UNTOUCHED | before("bob", "carol", "gone1", "gone2") | {email("dave"): []}
    assert run.summary()["Number of directory users read"] == "3"  # bob, carol, dave; gina (Sales only) is not

    run = await console.sync("--connector", "adobe_console", "--users", "group", "ENGINEERING", "--process-groups",
                             "--adobe-only-user-action", "remove")
    assert run.code == 0, run.out + run.err
    # The mapped groups are read too, so bob keeps Sales Team; the users outside Engineering are Adobe-only.
    assert await console.users() == before("keeper") | {"visitor@example.net": ["Sales Team"]} | {
        email("bob"): ["Eng Team", "Photoshop", "Sales Team"],
        email("carol"): ["Eng Team", "Other Team", "Photoshop"],
        email("dave"): ["Eng Team", "Photoshop"],
    }


async def test_users_all_with_exclude_unmapped_users(console: ConsoleSetup) -> None:
    console.write_console(identity_type_filter="federatedID")
    run = await console.sync("--connector", "adobe_console", "--users", "all", "--exclude-unmapped-users")
    assert run.code == 0, run.out + run.err
    assert run.summary()["Number of directory users read"] == "7"  # erin and frank too
    users = await console.users()
    assert email("erin") not in users and email("frank") not in users and email("gina") in users


async def test_a_group_the_source_org_lacks_is_the_missing_group_rule(console: ConsoleSetup) -> None:
    console.write_console(main={"directory_users": {
        "user_identity_type": "federatedID", "default_country_code": "US",
        "connectors": {"adobe_console": "connector-adobe-console.yml"},
        "groups": [*MAPPING, {"directory_group": "Design", "adobe_groups": ["Other Team"]}]}})
    run = await console.sync(*REMOVE)
    assert run.code == 3, run.out + run.err
    assert "No group found for: Design" in run.out
    users = await console.users()
    assert users[email("gone1")] == before("gone1")[email("gone1")]  # nobody removed
    assert users[email("carol")] == ["Eng Team", "Other Team", "Photoshop"]  # Design's Other Team kept


@pytest.mark.parametrize("fault", ["500", "429"])
async def test_a_source_page_that_fails_removes_nobody(tmp_path: Path, directory: LocalSlapd, org: SandboxServer,
                                                       paged_source: SandboxServer, fault: str) -> None:
    setup = ConsoleSetup(tmp_path, directory, org)
    setup.source = paged_source
    # A 500 is final; a storm of 429s asking for 30 s, past max_retry_after, stops the source's reads.
    setup.write_console(server={"max_retry_after": 5})
    paged_source.config.update({"faults": f"users:{fault}=0.5@30" if fault == "429" else f"users:{fault}=0.5"})
    paged_source.sandbox.random = random.Random(first_passes_then_fails(0.5))
    run = await setup.sync(*REMOVE)
    assert run.code == 3, run.out + run.err
    assert f"the source Admin Console org {SOURCE_ORG_ID}" in run.out
    assert "reading the directory failed" in run.out
    users = await setup.users()
    for name in ("gone1", "gone2", "carol"):  # no Adobe-only action, no mapped group removed
        assert users[email(name)] == before(name)[email(name)]
    target = await setup._get("stats")
    assert target["families"]["users"]["throttled"] == 0  # the target org's throttle never saw the storm


async def test_a_wrong_client_secret_for_the_source_is_a_clear_failed_read(console: ConsoleSetup) -> None:
    console.write_console(integration={"client_secret": "not-the-secret-9Zk"})
    run = await console.sync(*REMOVE)
    assert run.code == 3, run.out + run.err
    assert f"the source Admin Console org {SOURCE_ORG_ID}" in run.out
    assert str(console.folder / "connector-adobe-console.yml") in run.out
    assert "not-the-secret-9Zk" not in run.out + run.err
    assert email("gone1") in await console.users()


@pytest.mark.parametrize("change, key, message", [
    ({"integration": {"client_secret": None, "client_secrt": "x"}}, "integration.client_secrt",
     "did you mean 'client_secret'"),
    ({"identity_type_filter": "robots"}, "identity_type_filter", "expected 'all' or an identity type"),
    ({"authentication_method": "jwt"}, "authentication_method", "JWT (service account) authentication"),
])
async def test_a_bad_key_is_exit_2_naming_it(console: ConsoleSetup, change: dict[str, Any], key: str,
                                             message: str) -> None:
    integration = change.pop("integration", None)
    console.write_console(integration=integration, **change)
    run = await console.sync(*REMOVE)
    assert run.code == 2, run.out + run.err
    assert f"connector-adobe-console.yml, key '{key}'" in run.err and message in run.err
    assert email("gone1") in await console.users()


async def test_an_extension_hook_with_the_source_is_refused_at_start(console: ConsoleSetup) -> None:
    """The hook's source_attributes are defined for LDAP and CSV only: refused, not run half-defined."""
    (console.folder / "extension-config.yml").write_text("after_mapping_hook: pass\n")
    console.write_console(main={"directory_users": {
        "user_identity_type": "federatedID", "default_country_code": "US", "extension": "extension-config.yml",
        "connectors": {"adobe_console": "connector-adobe-console.yml"}, "groups": MAPPING}})
    run = await console.sync(*REMOVE)
    assert run.code == 2, run.out + run.err
    assert "key 'directory_users.extension': extension hooks are not supported with the adobe_console source" in run.err
    assert email("gone1") in await console.users()


async def test_a_429_storm_on_the_source_paces_only_the_source(tmp_path: Path, directory: LocalSlapd,
                                                              org: SandboxServer, paged_source: SandboxServer) -> None:
    setup = ConsoleSetup(tmp_path, directory, org)
    setup.source = paged_source
    setup.write_console()
    paged_source.config.update({"faults": "users:429=0.5@1;groups:429=0.5@1"})  # short waits: the read gets through
    paged_source.sandbox.random = random.Random(3)
    run = await setup.sync(*REMOVE, "--summary-json", str(tmp_path / "summary.json"))
    assert run.code == 0, run.out + run.err
    source_stats = (await setup.source_stats())["families"]
    assert source_stats["users"]["throttled"] + source_stats["groups"]["throttled"] > 0
    assert source_stats["users"]["inside_retry_after"] == 0  # the source's own throttle honoured each Retry-After
    # The target org's client was never paused: its throttle is its own.
    throttle = json.loads((tmp_path / "summary.json").read_text())["throttle"]
    assert all(family["throttled"] == 0 and family["paused_seconds"] == 0 for family in throttle.values())
    assert (await setup.users())[email("dave")] == ["Eng Team", "Photoshop"]
    assert email("gone1") not in await setup.users()


async def test_additional_groups_match_every_group_held_in_the_source(console: ConsoleSetup) -> None:
    console.source.state.add_group({"groupName": "ACL-Delta", "type": "USER_GROUP"})
    console.source.state.join(console.source.state.find_user(email("carol")), console.source.state.groups["acl-delta"])
    console.org.state.add_group({"groupName": "ACL-Grp-Delta", "type": "USER_GROUP"})
    console.write_console(main={"directory_users": {
        "user_identity_type": "federatedID", "default_country_code": "US",
        "connectors": {"adobe_console": "connector-adobe-console.yml"}, "groups": MAPPING,
        "additional_groups": [{"source": "ACL-(.+)", "target": "ACL-Grp-\\1"}]}})
    run = await console.sync(*REMOVE)
    assert run.code == 0, run.out + run.err
    users = await console.users()
    assert users[email("carol")] == ["ACL-Grp-Delta", "Eng Team", "Other Team", "Photoshop"]
    assert users[email("bob")] == ["Eng Team", "Photoshop", "Sales Team"]  # no ACL group held, none added


async def test_check_reads_page_0_of_the_source_org_and_changes_nothing(console: ConsoleSetup) -> None:
    before = await console.users()
    run = await check(console, "--connector", "adobe_console")
    assert run.code == 0, run.out + run.err
    assert steps(run) == {"config": "ok", "directory": "ok", "token": "ok", "org": "ok"}
    assert f"page 0 of the source org {SOURCE_ORG_ID}: 8 users" in line_of(run, "directory")
    assert await console.users() == before

    console.write_console(integration={"client_secret": "not-the-secret-9Zk"})
    run = await check(console, "--connector", "adobe_console")
    assert run.code == 3 and steps(run)["directory"] == "FAILED", run.out + run.err
    assert "integration.client_secret" in run.out and "not-the-secret-9Zk" not in run.out + run.err


async def test_a_source_user_of_unknown_type_keeps_its_target_account_untouched(console: ConsoleSetup) -> None:
    console.source.state.add_user(adobe_user("gone1", ["Sales"], identity_type="unknown"))
    run = await console.sync(*REMOVE)
    assert run.code == 0, run.out + run.err
    users = await console.users()
    assert users[email("gone1")] == before("gone1")[email("gone1")]  # neither removed nor stripped of Sales Team
    assert email("gone2") not in users  # the other Adobe-only user goes as before
    assert "gone1@e2e.test of the source org" in run.out and "'unknown' is not one a sync can manage" in run.out
