"""additional_groups, auto_create, Adobe-only user lists and push edge cases."""

from __future__ import annotations

import re

import pytest

from async_usersync.engine import (
    AdditionalGroupRule, AdobeOnlyAction, AdobeOnlyLimit, Exclusions, GroupMapping, Strategy, SyncPlanner,
)
from async_usersync.engine.rules import missing_user_groups

from tests.engine.helpers import FED, adobe_user, directory_user, rules, run


def test_additional_groups_map_matching_direct_groups_by_substitution() -> None:
    result = run(rules(process_groups=True), [directory_user("ann@example.com", ["acl-Design", "ACL-Print", "Other"])], [])
    (command,) = result.commands
    assert command.add_groups == ("ACL-Grp-Design", "ACL-Grp-Print")


@pytest.mark.parametrize("directory_first", [True, False])
def test_groups_fitting_an_additional_target_count_as_mapped_whatever_the_order(directory_first: bool) -> None:
    # Nobody in the directory has ACL-Old any more, yet ACL-Grp-Old is a group the sync manages.
    directory = [directory_user("ann@example.com", ["ACL-New"]), directory_user("bob@example.com", ["ACL-Old"])]
    adobe = [adobe_user("ann@example.com", ["ACL-Grp-Old", "acl-grp-new", "ACL-Other"])]
    result = run(rules(process_groups=True), directory, adobe, directory_first)
    (update,) = [command for command in result.commands if command.user == "ann@example.com"]
    assert (update.add_groups, update.remove_groups) == ((), ("ACL-Grp-Old",))


def test_two_directory_groups_giving_one_target_add_it_once() -> None:
    mapping = GroupMapping.from_pairs([("Staff", ["Apps"])], [AdditionalGroupRule(re.compile("(?:eu|us)-(.+)", re.I), r"\1")])
    result = run(rules(mapping=mapping, process_groups=True), [directory_user("ann@example.com", ["eu-apps", "us-Apps", "staff"])], [])
    assert result.commands[0].add_groups == ("Apps",)


def test_missing_user_groups_compares_ignoring_case_and_never_creates_role_groups() -> None:
    wanted = ["Designers", "Printers", "_admin_Designers", "printers", "Writers"]
    assert missing_user_groups(wanted, ["designers", "All Apps"]) == ["Printers", "Writers"]


def test_an_adobe_only_user_list_is_acted_on_without_reading_either_side() -> None:
    planner = SyncPlanner(rules(adobe_only_action=AdobeOnlyAction.DELETE))
    assert list(planner.directory_done()) == []
    listed = [adobe_user("gone@example.com"), adobe_user("alee", username="alee", domain="corp.example.com")]
    for user in listed:
        assert planner.add_adobe_user(user) == []
    assert planner.adobe_done() == []
    commands = planner.finish()
    assert [(command.user, command.domain, command.delete_account) for command in commands] == [
        ("gone@example.com", None, True), ("alee", "corp.example.com", True)]
    assert planner.counters.adobe_only_label == "Number of Adobe-only users deleted"
    assert planner.counters.adobe_only_processed == 2


def test_write_file_lists_adobe_only_users_in_arrival_order_even_when_the_limit_stops_removals() -> None:
    strays = [adobe_user(f"gone{index}@example.com", ["Eng Profile"]) for index in range(5)]
    result = run(rules(adobe_only_action=AdobeOnlyAction.WRITE_FILE, process_groups=True, limit=AdobeOnlyLimit(count=4)),
                 [], strays, directory_first=False)
    assert [user.email for user in result.planner.adobe_only_users] == [user.email for user in strays]
    assert result.final == [] and result.planner.messages[0][0] == 50


@pytest.mark.parametrize("user, created", [
    (directory_user("mapped@example.com", ["Sales"]), True),
    (directory_user("unmapped@example.com", ["Other"]), False),
    (directory_user("nocountry@example.com", ["Sales"], country=None), False),
])
def test_push_skips_unmapped_users_and_federated_users_without_country(user, created) -> None:
    planner = SyncPlanner(rules(strategy=Strategy.PUSH, exclude_unmapped_users=True))
    commands = planner.add_directory_user(user)
    assert bool(commands) is created
    assert planner.counters.adobe_users_created == int(created)
    assert planner.counters.directory_users_selected == 1


def test_missing_directory_names_never_blank_adobe_ones() -> None:
    result = run(rules(update_user_info=True), [directory_user("ann@example.com", firstname=None, lastname="Smith")],
                 [adobe_user("ann@example.com", firstname="Ann", lastname="Lee")])
    assert [dict(command.update) for command in result.commands] == [{"lastname": "Smith"}]


def test_unchanged_count_follows_user_syncs_formula() -> None:
    directory = [directory_user(f"same{index}@example.com", ["Sales"]) for index in range(3)] + [
        directory_user("moved@example.com", ["Engineering"])]
    adobe = [adobe_user(f"same{index}@example.com", ["Sales Profile", "All Staff"]) for index in range(3)] + [
        adobe_user("moved@example.com", ["Sales Profile"]), adobe_user("gone@example.com", ["Sales Profile"]),
        adobe_user("boss@example.com", identity_type=FED, groups=["Admins"])]
    result = run(rules(process_groups=True, exclusions=Exclusions(groups=frozenset({"admins"}))), directory, adobe)
    counters = result.planner.counters
    assert (counters.adobe_users_read, counters.adobe_users_excluded, counters.adobe_users_updated,
            counters.adobe_only_processed, counters.adobe_users_unchanged) == (6, 1, 1, 1, 3)
