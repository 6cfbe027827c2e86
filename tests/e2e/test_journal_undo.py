"""The journal and ``undo`` (issue 18) against slapd and the sandbox: what each run sent, with its
outcome and the user's state before it, and an undo that gives the org back its earlier state. See
conftest.py for the directory and the starting org.
"""

from __future__ import annotations

import json
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from async_usersync.records import UserCommand, command_to_json
from tests.e2e.conftest import MAPPING, Setup, email
from tests.e2e.test_secondary_orgs import trustees  # noqa: F401 (a fixture)

SYNC = ("--users", "mapped", "--process-groups", "--update-user-info")


def journal_of(setup: Setup) -> Path:
    return setup.folder / "state" / "async-usersync.user-sync-config.journal.jsonl"


def journal_lines(setup: Setup) -> list[dict[str, Any]]:
    return [json.loads(line) for line in journal_of(setup).read_text().splitlines()]


def org_picture(users: dict[str, dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """email -> what undo must give back: identity type, username, domain, names, country, groups."""
    return {address: (user["type"], user["username"], user["domain"], user.get("firstname"), user.get("lastname"),
                      user.get("country"), sorted(user["groups"])) for address, user in users.items()}


async def sync(setup: Setup, *arguments: str) -> Any:
    (setup.folder / "state").mkdir(exist_ok=True)
    return await setup.sync(*arguments, "--state-dir", str(setup.folder / "state"))


async def test_undo_gives_back_the_org_a_sync_changed(setup: Setup) -> None:
    alice = setup.org.state.find_user(email("alice"))
    setup.org.state.update_user(alice, {"firstname": "Alicia"})
    earlier = org_picture(await setup.org_users())
    run = await sync(setup, *SYNC, "--adobe-only-user-action", "remove")
    assert run.code == 0, run.out + run.err
    changed = await setup.users()
    assert email("dave") in changed and email("gone1") not in changed and email("gone2") not in changed
    assert changed[email("carol")] == ["Eng Team", "Other Team", "Photoshop"]
    assert (await setup.org_users())[email("alice")]["firstname"] == "Alice"

    journal = journal_of(setup)
    assert stat.S_IMODE(journal.stat().st_mode) == 0o600
    assert not (setup.folder / "async-usersync.user-sync-config.journal.jsonl").exists()  # under --state-dir only
    lines = journal_lines(setup)
    run_id = lines[0]["run"]
    assert {line["run"] for line in lines} == {run_id} and f"async-usersync undo {run_id}" in run.out
    by_user = {line["user"]: line for line in lines}
    assert set(by_user) == {f"federatedID,{name}@e2e.test,,{name}@e2e.test"
                            for name in ("alice", "bob", "carol", "dave", "gone1", "gone2")}
    gone1 = by_user[f"federatedID,{email('gone1')},,{email('gone1')}"]
    assert (gone1["org"], gone1["outcome"], gone1["command"]["remove_from_org"]) == (None, "landed", True)
    assert gone1["before"] == {"identity_type": "federatedID", "email": email("gone1"), "username": email("gone1"),
                               "domain": "e2e.test", "firstname": "Gone1", "lastname": "Tester", "country": "US",
                               "groups": ["Other Team", "Sales Team"]}
    assert by_user[f"federatedID,{email('dave')},,{email('dave')}"]["before"] is None
    assert by_user[f"federatedID,{email('alice')},,{email('alice')}"]["command"]["update"] == {"firstname": "Alice"}

    undo = await setup.sync("undo", run_id, "--state-dir", str(setup.folder / "state"))
    assert undo.code == 0, undo.out + undo.err
    assert org_picture(await setup.org_users()) == earlier
    assert "the account itself stays" in undo.out
    assert "Action Summary" in undo.out
    assert undo.summary()["Number of UMAPI actions sent (total, success, error)"] == "(6, 6, 0)"
    undo_lines = [line for line in journal_lines(setup) if line["run"] != run_id]
    assert len(undo_lines) == 6 and {line["kind"] for line in undo_lines} == {"undo"}


async def test_an_account_deleted_by_the_run_is_named_as_not_restorable(setup: Setup) -> None:
    earlier = await setup.users()
    run = await sync(setup, *SYNC, "--adobe-only-user-action", "delete")
    assert run.code == 0, run.out + run.err
    run_id = journal_lines(setup)[0]["run"]
    undo = await setup.sync("undo", run_id, "--state-dir", str(setup.folder / "state"))
    assert undo.code == 4, undo.out + undo.err
    for name in ("gone1", "gone2"):
        assert (f"Cannot restore user key federatedID,{email(name)},,{email(name)}: the run deleted the account"
                in undo.out)
    users = await setup.users()
    assert email("gone1") not in users and email("dave") not in users
    assert users[email("carol")] == earlier[email("carol")] and users[email("bob")] == earlier[email("bob")]


async def test_a_user_changed_since_the_run_is_left_alone_unless_forced(setup: Setup) -> None:
    run = await sync(setup, *SYNC)
    assert run.code == 0, run.out + run.err
    run_id = journal_lines(setup)[0]["run"]
    bob = setup.org.state.find_user(email("bob"))
    setup.org.state.update_user(bob, {"lastname": "Changed"})
    undo = await setup.sync("undo", run_id, "--state-dir", str(setup.folder / "state"))
    assert undo.code == 4, undo.out + undo.err
    assert (f"Not undoing user key federatedID,{email('bob')},,{email('bob')}: changed since the run (lastname now "
            f"'Changed', the run left 'Tester')") in undo.out
    users = await setup.users()
    assert users[email("bob")] == ["Eng Team", "Photoshop", "Sales Team"]  # left as the run left it
    assert users[email("carol")] == ["Eng Team", "Other Team", "Photoshop", "Sales Team"]  # undone

    undone = {line["user"]: line for line in journal_lines(setup) if line["kind"] == "undo"}  # nothing for bob
    assert f"federatedID,{email('bob')},,{email('bob')}" not in undone
    carol = undone[f"federatedID,{email('carol')},,{email('carol')}"]
    assert (carol["outcome"], carol["command"]["add_groups"]) == ("landed", ["Sales Team"])
    forced = await setup.sync("undo", run_id, "--force", "--state-dir", str(setup.folder / "state"))
    assert forced.code == 0, forced.out + forced.err
    assert (await setup.users())[email("bob")] == ["Sales Team"]


async def test_a_push_run_is_journaled_but_cannot_be_undone(setup: Setup) -> None:
    run = await sync(setup, "--strategy", "push", "--users", "mapped", "--process-groups")
    assert run.code == 0, run.out + run.err
    lines = journal_lines(setup)
    assert lines and {line["kind"] for line in lines} == {"push"}
    before = await setup.users()
    undo = await setup.sync("undo", lines[0]["run"], "--state-dir", str(setup.folder / "state"))
    assert undo.code == 2, undo.out + undo.err
    assert "cannot be undone: it was a sync with --strategy push, which reads no Adobe user" in undo.out
    assert await setup.users() == before


async def test_failed_and_unsent_commands_are_journaled_and_test_mode_is_not(setup: Setup) -> None:
    mapping = MAPPING + [{"directory_group": "Sales", "adobe_groups": ["Missing Team"]}]
    setup.write(main={"directory_users": {"user_identity_type": "federatedID", "default_country_code": "US",
                                          "connectors": {"ldap": "connector-ldap.yml"}, "groups": mapping}})
    failed = await sync(setup, *SYNC)
    assert failed.code == 4, failed.out + failed.err
    lines = journal_lines(setup)
    alice = next(line for line in lines if line["user"] == f"federatedID,{email('alice')},,{email('alice')}")
    assert alice["outcome"] == "failed"
    assert [(error["step"], error["code"]) for error in alice["errors"]] == [("add", "error.group.not_found")]

    setup.write(server={"max_retry_after": 5})
    setup.org.config.update({"faults": "action:429=1@3600"})
    unsent = await sync(setup, *SYNC)
    assert unsent.code == 4, unsent.out + unsent.err
    second = [line for line in journal_lines(setup) if line["run"] != lines[0]["run"]]
    assert second and {line["outcome"] for line in second} == {"not_sent"}

    count = len(journal_lines(setup))
    setup.org.config.update({"faults": ""})
    tested = await sync(setup, *SYNC, "-t")
    assert tested.code == 0, tested.out + tested.err
    assert len(journal_lines(setup)) == count
    assert "Test mode: this run is not journaled" in tested.out


async def test_old_runs_are_pruned_and_a_torn_last_line_is_skipped(setup: Setup) -> None:
    (setup.folder / "state").mkdir()
    old = datetime.now(timezone.utc) - timedelta(days=40)
    recent = datetime.now(timezone.utc) - timedelta(days=2)

    def line(run: str, when: datetime) -> str:
        return json.dumps({"run": run, "time": when.isoformat(), "kind": "sync", "org": None, "user": "u",
                           "command": command_to_json(UserCommand("u@e2e.test", add_groups=("Keep",), key="u")),
                           "outcome": "landed", "errors": [], "before": None})

    lately = datetime.now(timezone.utc) - timedelta(hours=12)
    journal_of(setup).write_text("".join(line(run, when) + "\n" for run, when in (
        ("oldrun", old), ("newrun", recent), ("longrun", old), ("longrun", lately))) + '{"run": "torn", "ti')
    setup.write(main={"invocation_defaults": {"journal_retention": 30}})
    undo = await setup.sync("undo", "oldrun", "--state-dir", str(setup.folder / "state"))
    assert undo.code == 2, undo.out + undo.err
    assert "Skipping line 5 of the journal" in undo.out and "it is incomplete" in undo.out
    assert "run 'oldrun' is not in the journal" in undo.out
    assert "the journal knows: newrun (sync," in undo.out
    assert [entry["run"] for entry in journal_lines(setup)] == ["newrun", "longrun", "longrun"]  # a run kept whole

    run = await sync(setup, *SYNC, "--journal-retention", "1")
    assert run.code == 0, run.out + run.err
    assert {entry["run"] for entry in journal_lines(setup)} == {"longrun", journal_lines(setup)[-1]["run"]}
    assert "dropped 1 lines of runs older than 1 days" in run.out


async def test_undo_gives_back_every_org_with_secondaries(setup: Setup, trustees: Any) -> None:
    orgs = await trustees(["org2", "org3"])
    earlier = {name: org_picture(await setup.org_users(server)) for name, server in (("primary", None), *orgs.items())}
    run = await sync(setup, "--users", "mapped", "--process-groups", "--adobe-only-user-action", "remove")
    assert run.code == 0, run.out + run.err
    lines = journal_lines(setup)
    assert {line["org"] for line in lines} == {None, "org2", "org3"}
    stray2 = next(line for line in lines if line["user"] == f"federatedID,{email('stray2')},,{email('stray2')}")
    assert (stray2["org"], stray2["command"]["remove_from_org"], stray2["before"]["groups"]) == ("org2", True, ["Acrobat"])

    undo = await setup.sync("undo", lines[0]["run"], "--state-dir", str(setup.folder / "state"))
    assert undo.code == 0, undo.out + undo.err
    after = {name: org_picture(await setup.org_users(server)) for name, server in (("primary", None), *orgs.items())}
    assert after == earlier
    assert "Number of org2 UMAPI actions sent (total, success, error): (4, 4, 0)" in undo.out


async def test_an_applied_plan_is_journaled_and_undone_like_a_sync(setup: Setup) -> None:
    """``apply`` sends through the same journal, each command with the Adobe user as its re-read
    found it, so ``undo`` takes an applied plan back too."""
    from tests.e2e.test_review import SYNC_OPTIONS, apply, plan

    earlier = org_picture(await setup.org_users())
    planned = await plan(setup, *SYNC_OPTIONS, "--out", "plan.json")
    assert planned.code == 7, planned.out + planned.err
    applied = await apply(setup, setup.folder / "plan.json")
    assert applied.code == 0, applied.out + applied.err
    assert org_picture(await setup.org_users()) != earlier
    lines = [json.loads(line) for line in
             (setup.folder / "async-usersync.user-sync-config.journal.jsonl").read_text().splitlines()]
    assert lines and {line["outcome"] for line in lines} == {"landed"}
    removed = [line for line in lines if line["command"]["remove_from_org"]]
    assert removed and all(line["before"] is not None for line in removed)  # the re-read's Adobe user
    assert {line["before"]["email"]: line["before"]["groups"] for line in removed}[email("gone1")] == [
        "Other Team", "Sales Team"]
    undo = await setup.sync("undo", lines[0]["run"])
    assert undo.code == 0, undo.out + undo.err
    assert org_picture(await setup.org_users()) == earlier
