"""Issue 13's "Follow User Sync" items through real runs: the Action Summary's Adobe-only counters,
``--adobe-only-user-list``, ``limits.group_removals_only`` with write-file, and new users without a
country. See conftest.py for the directory and the starting org."""

from __future__ import annotations

import csv
from pathlib import Path

import yaml

from tests.e2e.conftest import Setup, email


def _config(setup: Setup) -> dict:
    return yaml.safe_load(setup.config_file.read_text())


def _csv_directory(setup: Setup, rows: str) -> Path:
    """A users file holding ``rows``, read through connector-csv.yml, without default_country_code."""
    users_file = setup.folder / "users.csv"
    users_file.write_text(rows)
    (setup.folder / "connector-csv.yml").write_text("delimiter: ','\n")
    config = _config(setup)
    directory_users = {key: value for key, value in config["directory_users"].items() if key != "default_country_code"}
    directory_users["connectors"] = {"csv": "connector-csv.yml"}
    setup.write(main={**config, "directory_users": directory_users})
    return users_file


async def test_write_file_without_process_groups_prints_the_adobe_only_line_with_zero(setup: Setup) -> None:
    out = setup.folder / "adobe-only.csv"
    run = await setup.sync("--users", "mapped", "--adobe-only-user-action", "write-file", str(out))
    assert run.code == 0, run.err
    summary = run.summary()
    assert summary["Number of Adobe-only users with groups processed"] == "0"
    # 7 read, keeper and visitor excluded, nothing updated or acted on
    assert summary["Number of non-excluded Adobe users with no changes"] == "5"
    assert "Number of Adobe-only users with groups processed" in (setup.folder / "logs" / "sync.log").read_text()


async def test_listed_users_are_removed_as_listed_with_no_adobe_user_read_and_no_exclusion(setup: Setup) -> None:
    listed = setup.folder / "listed.csv"
    listed.write_text("type,username,email,domain\n"
                      f"federatedID,{email('keeper')},{email('keeper')},\n"      # in the excluded group Keep
                      "adobeID,visitor@example.net,visitor@example.net,\n")       # an excluded identity type
    run = await setup.sync("--adobe-only-user-list", str(listed), "--adobe-only-user-action", "remove")
    assert run.code == 0, run.err
    users = await setup.users()
    assert email("keeper") not in users and "visitor@example.net" not in users
    summary = run.summary()
    assert (summary["Number of Adobe users read"], summary["Number of Adobe users excluded from updates"],
            summary["Number of non-excluded Adobe users with no changes"],
            summary["Number of Adobe-only users removed"]) == ("0", "0", "0", "2")


async def test_a_percentage_limit_stops_a_listed_removal(setup: Setup) -> None:
    """With a list no Adobe user is read, so User Sync's percentage has a base of 0."""
    setup.write(main={**_config(setup), "limits": {"max_adobe_only_users": "100%"}})
    listed = setup.folder / "listed.csv"
    listed.write_text(f"type,username,email,domain\nfederatedID,{email('gone1')},{email('gone1')},\n")
    run = await setup.sync("--adobe-only-user-list", str(listed), "--adobe-only-user-action", "remove")
    assert run.code == 0, run.err
    assert ("Unable to process Adobe-only users, as their count (1) is larger than the max_adobe_only_users "
            "setting (100%)") in run.out
    assert email("gone1") in await setup.users()
    assert run.summary()["Number of Adobe-only users removed"] == "0"


async def test_group_removals_only_writes_only_adobe_only_users_with_mapped_groups(setup: Setup) -> None:
    setup.write(main={**_config(setup), "limits": {"max_adobe_only_users": 10, "group_removals_only": True}})
    out = setup.folder / "adobe-only.csv"
    run = await setup.sync("--users", "mapped", "--process-groups", "--adobe-only-user-action", "write-file", str(out))
    assert run.code == 0, run.err
    with out.open() as stream:
        assert [row["email"] for row in csv.DictReader(stream)] == [email("gone1")]  # gone2 has no group
    assert run.summary()["Number of Adobe-only users with groups processed"] == "1"
    assert (await setup.users())[email("gone1")] == ["Other Team"]


async def test_a_new_user_without_a_country_is_created_only_as_an_enterprise_id(setup: Setup) -> None:
    users_file = _csv_directory(setup, "email,firstname,lastname,country,groups,type\n"
                                       f"{email('nocountry')},No,Country,,Sales,federatedID\n"
                                       f"{email('enterprise')},Ent,Erprise,,Sales,enterpriseID\n")
    run = await setup.sync("--users", "file", str(users_file), "--process-groups")
    assert run.code == 0, run.err  # as in User Sync, a user it cannot create is an error line, not a failed run
    users = await setup.users()
    assert email("nocountry") not in users
    assert users[email("enterprise")] == ["Sales Team"]
    errors = [line for line in run.out.splitlines() if " ERROR " in line or "ERROR" in line.split(" - ")[0]]
    assert any(f"User cannot be added without a specified country code: federatedID,{email('nocountry')},," in line
               and "users.csv" in line for line in errors), run.out
    assert run.summary()["Number of new Adobe users added"] == "1"


async def test_users_group_without_process_groups_reads_only_the_named_groups(setup: Setup) -> None:
    """User Sync adds the mapped groups to the read only with --process-groups. Without it, Platform
    (unmapped; dave's only group, nested in the mapped Engineering) is all dave carries, so
    --exclude-unmapped-users does not create him."""
    run = await setup.sync("--users", "group", "Sales", "-t")
    assert run.code == 0, run.err
    assert (run.summary()["Number of directory users read"],
            run.summary()["Number of directory users selected for input"]) == ("2", "2")  # alice, bob

    run = await setup.sync("--users", "group", "Platform", "--exclude-unmapped-users")
    assert run.code == 0, run.err
    assert email("dave") not in await setup.users()
    assert (run.summary()["Number of directory users read"], run.summary()["Number of new Adobe users added"]) == ("1", "0")

    run = await setup.sync("--users", "group", "Sales", "--process-groups", "-t")
    assert run.code == 0, run.err
    # alice, bob, carol and dave are read (Sales and the mapped Engineering); alice and bob selected
    assert (run.summary()["Number of directory users read"],
            run.summary()["Number of directory users selected for input"]) == ("4", "2")


async def test_a_new_federated_id_goes_with_its_directory_username_and_a_refusal_names_the_user(setup: Setup) -> None:
    """User Sync sends the directory's username. UMAPI refuses a username that is an email other than
    the user's email (error.user.must_match_email) unless the org allows it, and so does the sandbox:
    the error is reported for that user and the others are created."""
    users_file = _csv_directory(setup, "email,username,firstname,lastname,country,groups\n"
                                       f"{email('john.doe')},jdoe@legacy.e2e.test,John,Doe,US,Sales\n"
                                       f"{email('zed')},,Zed,Tester,US,Sales\n")
    run = await setup.sync("--users", "file", str(users_file), "--process-groups")
    assert run.code == 4, run.err
    users = await setup.users()
    assert email("john.doe") not in users and users[email("zed")] == ["Sales Team"]
    assert ('Error in action (User: federatedID,jdoe@legacy.e2e.test,,john.doe@e2e.test, Command: createFederatedID): '
            'code: "error.user.must_match_email"') in run.out


async def test_additional_groups_map_by_prefix_and_touch_only_targets_produced_in_the_run(setup: Setup) -> None:
    """``Grp-([A-Za-z]+)`` -> ``\\1``: every group name fits the target pattern, yet only Eng Team,
    which carol's ``Grp-Eng Team`` produces (a prefix match, the rest of the name kept), counts as
    mapped besides Sales Team: carol keeps Other Team and Photoshop, the Adobe-only gone1 keeps Other
    Team; ``grp-photoshop`` does not fit the case-sensitive source, so dave gets nothing."""
    users_file = _csv_directory(setup, "email,firstname,lastname,country,groups\n"
                                       f"{email('alice')},Alice,Tester,US,Sales\n"
                                       f"{email('bob')},Bob,Tester,US,Sales\n"
                                       f"{email('carol')},Carol,Tester,US,Grp-Eng Team\n"
                                       f"{email('dave')},Dave,Tester,US,grp-photoshop\n")
    config = _config(setup)
    config["directory_users"]["additional_groups"] = [{"source": "Grp-([A-Za-z]+)", "target": r"\1"}]
    config["directory_users"]["groups"] = [{"directory_group": "Sales", "adobe_groups": ["Sales Team"]}]
    setup.write(main=config)
    run = await setup.sync("--users", "file", str(users_file), "--process-groups", "--adobe-only-user-action", "preserve")
    assert run.code == 0, run.out
    users = await setup.users()
    assert {name: users.get(email(name)) for name in ("alice", "bob", "carol", "dave", "gone1", "gone2")} == {
        "alice": ["Sales Team"], "bob": ["Sales Team"], "carol": ["Eng Team", "Other Team", "Photoshop"],
        "dave": [], "gone1": ["Other Team"], "gone2": []}

    again = await setup.sync("--users", "file", str(users_file), "--process-groups")
    assert again.code == 0, again.out
    assert again.summary()["Number of UMAPI actions sent (total, success, error)"] == "(0, 0, 0)"
