"""Issue 13's "Follow User Sync" items at the planner: additional_groups matching, the
Adobe-only count, ``--adobe-only-user-list`` and ``limits.group_removals_only`` with write-file."""

from __future__ import annotations

import re

import pytest

from async_usersync.engine import AdditionalGroupRule, AdobeOnlyAction, AdobeOnlyLimit, Exclusions, GroupMapping, SyncPlanner
from async_usersync.records import UserCommand

from tests.engine.helpers import ADOBE, adobe_user, directory_user, rules, run


# --- additional_groups.source: case-sensitive, a prefix match, the target by substitution ---------

@pytest.mark.parametrize("directory_group, target", [
    ("ACL-Delta", "ACL-Grp-Delta"),
    ("ACL-Delta-Extra", "ACL-Grp-Delta-Extra"),  # only the matched prefix is substituted
    ("acl-gamma", None),                          # case-sensitive
    ("Old-ACL-Delta", None),                      # anchored at the start
])
def test_additional_group_source_is_a_case_sensitive_prefix_match(directory_group, target) -> None:
    rule = AdditionalGroupRule(re.compile("ACL-([A-Za-z]+)"), r"ACL-Grp-\1")
    assert rule.target_for(directory_group) == target
    mapping = GroupMapping.from_pairs([], [rule])
    result = run(rules(mapping=mapping, process_groups=True), [directory_user("ann@example.com", [directory_group])], [])
    (command,) = result.commands
    assert command.add_groups == ((target,) if target else ())


# --- additional_groups: a target is mapped only when a selected directory user produced it ----------

def test_an_adobe_only_user_loses_only_the_targets_produced_in_this_run() -> None:
    directory = [directory_user("bob@example.com", ["ACL-Tools"])]
    adobe = [adobe_user("bob@example.com", ["ACL-Grp-Tools"]),
             adobe_user("gone@example.com", ["ACL-Grp-Tools", "ACL-Grp-Old", "Eng Profile"])]
    result = run(rules(process_groups=True), directory, adobe)
    assert [(command.user, command.remove_groups) for command in result.final] == [
        ("gone@example.com", ("ACL-Grp-Tools", "Eng Profile"))]


@pytest.mark.parametrize("producer_groups, removed", [(["ACL-Tools"], ("ACL-Grp-Tools",)), (["Other"], None)])
def test_a_matched_users_removal_of_a_target_waits_for_the_whole_directory(producer_groups, removed) -> None:
    """ann is matched before bob is read: whether ACL-Grp-Tools is mapped is known only once the
    directory is read, so her removal waits; if nobody produced it, she is not changed at all."""
    planner = SyncPlanner(rules(process_groups=True))
    streamed = planner.add_adobe_user(adobe_user("ann@example.com", ["ACL-Grp-Tools"]))
    streamed += planner.add_directory_user(directory_user("ann@example.com"))
    streamed += planner.add_directory_user(directory_user("bob@example.com", producer_groups))
    assert streamed == []
    held = list(planner.directory_done())
    assert [command.remove_groups for command in held] == ([removed] if removed else [])
    assert planner.counters.adobe_users_updated == (1 if removed else 0)


def test_a_directory_user_left_out_of_the_selection_produces_no_target() -> None:
    """--users mapped: bob is in no mapped group, so the target of his ACL-Tools is not mapped."""
    directory = [directory_user("bob@example.com", ["ACL-Tools"])]
    adobe = [adobe_user("gone@example.com", ["ACL-Grp-Tools", "Eng Profile"])]
    result = run(rules(process_groups=True, directory_group_filter=frozenset({"engineering", "sales"})), directory, adobe)
    assert [(command.user, command.remove_groups) for command in result.final] == [("gone@example.com", ("Eng Profile",))]


# --- the Adobe-only count -------------------------------------------------------------------------

def test_every_adobe_only_user_acted_on_counts_whether_or_not_it_needed_a_command() -> None:
    """User Sync's "with groups processed" counts each Adobe-only user; two of three have no mapped group."""
    strays = [adobe_user("gone@example.com", ["Eng Profile"]), adobe_user("old@example.com", ["Unmanaged"]),
              adobe_user("bare@example.com")]
    result = run(rules(process_groups=True), [], strays)
    assert [command.user for command in result.final] == ["gone@example.com"]
    counters = result.planner.counters
    assert (counters.adobe_only_label, counters.adobe_only_processed, counters.adobe_users_unchanged) == (
        "Number of Adobe-only users with groups processed", 3, 0)
    assert result.planner.adobe_only_changed == 1  # what the run history's Adobe count subtracts


def test_write_file_without_process_groups_shows_the_adobe_only_line_with_zero() -> None:
    result = run(rules(adobe_only_action=AdobeOnlyAction.WRITE_FILE), [], [adobe_user("gone@example.com", ["Eng Profile"])])
    counters = result.planner.counters
    assert (counters.adobe_only_label, counters.adobe_only_processed, counters.adobe_users_unchanged) == (
        "Number of Adobe-only users with groups processed", 0, 1)
    assert [user.email for user in result.planner.adobe_only_users] == ["gone@example.com"]


# --- --adobe-only-user-list ---------------------------------------------------------------------

def _listed_run(sync_rules, listed) -> tuple[SyncPlanner, list[UserCommand]]:
    planner = SyncPlanner(sync_rules)
    commands = list(planner.directory_done())
    for user in listed:
        planner.add_listed_adobe_only_user(user)
    commands += planner.adobe_done()
    return planner, commands + planner.finish()


def test_listed_users_are_acted_on_as_listed_none_read_and_no_exclusion_applies() -> None:
    listed = [adobe_user("visitor@gmail.com", identity_type=ADOBE), adobe_user("admin@example.com")]
    planner, commands = _listed_run(rules(adobe_only_action=AdobeOnlyAction.REMOVE, limit=AdobeOnlyLimit(count=5),
                                          exclusions=Exclusions(identity_types=frozenset({ADOBE}),
                                                                username_patterns=(re.compile("admin@.*"),))), listed)
    assert [(command.user, command.remove_from_org) for command in commands] == [
        ("visitor@gmail.com", True), ("admin@example.com", True)]
    counters = planner.counters
    assert (counters.adobe_users_read, counters.adobe_users_excluded, counters.adobe_users_unchanged,
            counters.adobe_only_processed) == (0, 0, 0, 2)


def test_a_percentage_limit_has_a_base_of_zero_with_a_list() -> None:
    planner, commands = _listed_run(rules(adobe_only_action=AdobeOnlyAction.REMOVE,
                                          limit=AdobeOnlyLimit(count=None, percent=100)), [adobe_user("gone@example.com")])
    assert commands == []
    assert planner.counters.adobe_only_processed == 0
    assert [text for _, text in planner.messages] == [
        "Unable to process Adobe-only users, as their count (1) is larger than the max_adobe_only_users setting (100%)"]


# --- limits.group_removals_only with write-file ---------------------------------------------------

@pytest.mark.parametrize("process_groups, written", [(True, ["gone@example.com"]), (False, [])])
def test_group_removals_only_writes_only_users_with_mapped_groups_to_remove(process_groups, written) -> None:
    """User Sync keeps an Adobe-only user's mapped groups only with --process-groups; without them
    no user has groups to remove, so none is listed."""
    strays = [adobe_user("gone@example.com", ["Eng Profile", "Unmanaged"]), adobe_user("old@example.com", ["Unmanaged"])]
    result = run(rules(adobe_only_action=AdobeOnlyAction.WRITE_FILE, process_groups=process_groups,
                       limit=AdobeOnlyLimit(count=10, group_removals_only=True)), [], strays)
    assert [user.email for user in result.planner.adobe_only_users] == written


# --- a new Federated ID whose username is another email -------------------------------------------

def test_a_new_federated_id_is_sent_with_the_directory_username_even_when_it_is_another_email() -> None:
    """User Sync names a new user by the directory's username; only the create step carries the email."""
    user = directory_user("john.doe@example.com", ["Sales"], username="jdoe@legacy.example.com")
    (command,) = run(rules(process_groups=True), [user], []).commands
    assert (command.user, command.domain) == ("jdoe@legacy.example.com", None)
    assert command.create is not None and command.create.email == "john.doe@example.com"
    assert command.key == "federatedID,jdoe@legacy.example.com,,john.doe@example.com"
