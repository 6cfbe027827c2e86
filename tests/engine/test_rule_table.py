"""One test (or table row) per row of User Sync's rule table (reference 1.4) and of 1.6."""

from __future__ import annotations

import logging
import re

import pytest

from async_usersync.engine import AdobeOnlyAction, AdobeOnlyLimit, Exclusions, Strategy, SyncPlanner
from async_usersync.records import CreateUser, UserCommand

from tests.engine.helpers import ADOBE, ENT, FED, adobe_user, directory_user, rules, run


# --- directory-only users -------------------------------------------------------------------------

def test_directory_only_user_is_created_with_mapped_groups_when_processing_groups() -> None:
    result = run(rules(process_groups=True), [directory_user("ann@example.com", ["Engineering", "ACL-Tools"])], [])
    assert result.commands == [UserCommand(
        user="ann@example.com",
        create=CreateUser(FED, "ann@example.com", "Ann", "Lee", "US", "ignoreIfAlreadyExists"),
        add_groups=("ACL-Grp-Tools", "All Staff", "Eng Profile"),
        key="federatedID,ann@example.com,,ann@example.com",
    )]
    assert result.planner.counters.adobe_users_created == 1


def test_directory_only_user_is_created_without_groups_when_not_processing_groups() -> None:
    result = run(rules(update_user_info=True), [directory_user("ann@example.com", ["Engineering"])], [])
    (command,) = result.commands
    assert command.add_groups == () and command.create is not None
    assert command.create.on_conflict == "updateIfAlreadyExists"


@pytest.mark.parametrize("identity_type, country, default, expected_country, created", [
    (FED, "DE", None, "DE", True),
    (FED, None, "FR", "FR", True),
    (FED, None, None, None, False),
    (ENT, None, None, "UD", True),
    (ENT, None, "FR", "FR", True),
    (ADOBE, None, None, None, False),
    (ADOBE, None, "FR", "FR", True),
])
def test_country_rules_for_creates(identity_type, country, default, expected_country, created) -> None:
    """User Sync: no country and no default_country_code is "UD" for an Enterprise ID; any other
    type is not created, with an error naming the user."""
    result = run(rules(default_country_code=default),
                 [directory_user("ann@example.com", identity_type=identity_type, country=country, origin="users.csv:2")], [])
    if not created:
        assert result.commands == []
        assert result.planner.messages == [(logging.ERROR, "User cannot be added without a specified country code: "
                                            f"{identity_type.value},ann@example.com,,ann@example.com (users.csv:2); "
                                            "give one in the directory or set default_country_code")]
        assert result.planner.counters.adobe_users_created == 0
        return
    (command,) = result.commands
    assert command.create is not None and command.create.country == expected_country
    assert command.use_adobe_id == (identity_type is ADOBE)


def test_exclude_unmapped_users_skips_creates_of_users_without_mapped_groups_but_still_matches_them() -> None:
    directory = [directory_user("mapped@example.com", ["Sales"]), directory_user("unmapped@example.com", ["Other"]),
                 directory_user("known@example.com", ["Other"])]
    result = run(rules(exclude_unmapped_users=True, adobe_only_action=AdobeOnlyAction.REMOVE),
                 directory, [adobe_user("known@example.com")])
    assert [command.user for command in result.commands] == ["mapped@example.com"]


def test_non_email_federated_username_is_sent_with_its_domain() -> None:
    result = run(rules(), [directory_user("ann.lee@example.com", username="alee", domain="corp.example.com")], [])
    (command,) = result.commands
    assert (command.user, command.domain) == ("alee", "corp.example.com")
    assert command.key == "federatedID,alee,corp.example.com,ann.lee@example.com"


# --- users on both sides --------------------------------------------------------------------------

def test_group_adds_and_removes_touch_only_mapped_groups_ignoring_case() -> None:
    directory = [directory_user("ann@example.com", ["engineering"]), directory_user("bob@example.com", ["ACL-Tools"])]
    adobe = [adobe_user("ANN@example.com", ["eng profile", "Sales Profile", "Unmanaged", "ACL-Grp-Old", "ACL-Grp-Tools",
                                            "ACL-Other"]), adobe_user("bob@example.com", ["ACL-Grp-Tools"])]
    result = run(rules(process_groups=True), directory, adobe)
    # ACL-Grp-Tools is an additional_groups target bob produced; ACL-Grp-Old only fits the pattern
    assert result.commands == [UserCommand(user="ANN@example.com", remove_groups=("ACL-Grp-Tools", "Sales Profile"),
                                           add_groups=("All Staff",), key="federatedID,ann@example.com,,ann@example.com")]
    assert result.planner.counters.adobe_users_updated == 1


def test_matching_pair_with_nothing_to_change_yields_nothing() -> None:
    directory = [directory_user("ann@example.com", ["Sales"])]
    adobe = [adobe_user("ann@example.com", ["Sales Profile", "all staff"])]
    result = run(rules(process_groups=True, update_user_info=True), directory, adobe)
    assert result.commands == []
    assert result.planner.counters.adobe_users_unchanged == 1


def test_groups_are_left_alone_without_process_groups() -> None:
    result = run(rules(), [directory_user("ann@example.com", ["Sales"])], [adobe_user("ann@example.com", ["Eng Profile"])])
    assert result.commands == []


@pytest.mark.parametrize("attributes, expected_update, warned", [
    (frozenset({"firstname", "lastname", "email"}), {"firstname": "Anna"}, ["username"]),
    (frozenset({"lastname"}), {}, ["firstname", "username"]),
    (frozenset({"firstname", "lastname", "email", "username"}), {"firstname": "Anna", "username": "anna.lee@example.com"}, []),
])
def test_update_is_limited_to_update_attributes_and_warns_for_the_rest(attributes, expected_update, warned) -> None:
    directory = [directory_user("anna@example.com", username="anna.lee@example.com", firstname="Anna")]
    adobe = [adobe_user("ANNA@example.com", username="alee@example.com", firstname="Ann")]  # email differs only in case
    result = run(rules(update_user_info=True, update_attributes=attributes), directory, adobe)
    assert [dict(command.update) for command in result.commands] == ([expected_update] if expected_update else [])
    assert all(command.user == "ANNA@example.com" for command in result.commands)
    assert [text.split(": ")[1].split()[0] for _, text in result.planner.messages] == warned


def test_update_user_info_sends_changed_email_and_names() -> None:
    directory = [directory_user("ann.new@example.com", username="alee", domain="example.com", firstname="Ann", lastname="Smith")]
    adobe = [adobe_user("ann.old@example.com", username="alee", domain="example.com", lastname="Lee")]
    result = run(rules(update_user_info=True), directory, adobe)
    assert result.commands == [UserCommand(user="alee", domain="example.com",
                                           update={"email": "ann.new@example.com", "lastname": "Smith"},
                                           key="federatedID,alee,example.com,ann.old@example.com")]


def test_adobe_ids_are_never_updated() -> None:
    result = run(rules(update_user_info=True), [directory_user("ann@example.com", firstname="Anna")],
                 [adobe_user("ann@example.com", identity_type=ADOBE)])
    assert result.commands == []


# --- Adobe-only users -----------------------------------------------------------------------------

STRAYS = [adobe_user("gone@example.com", ["Eng Profile", "Unmanaged"]), adobe_user("old@example.com", ["Unmanaged"]),
          adobe_user("visitor@gmail.com", identity_type=ADOBE)]


@pytest.mark.parametrize("action, process_groups, expected, label", [
    (AdobeOnlyAction.PRESERVE, False, [], None),
    (AdobeOnlyAction.PRESERVE, True, [UserCommand(user="gone@example.com", remove_groups=("Eng Profile",))],
     "Number of Adobe-only users with groups processed"),
    (AdobeOnlyAction.WRITE_FILE, False, [], "Number of Adobe-only users with groups processed"),
    (AdobeOnlyAction.WRITE_FILE, True, [UserCommand(user="gone@example.com", remove_groups=("Eng Profile",))],
     "Number of Adobe-only users with groups processed"),
    (AdobeOnlyAction.EXCLUDE, True, [], None),
    (AdobeOnlyAction.REMOVE_ADOBE_GROUPS, False,
     [UserCommand(user=email, use_adobe_id=email.endswith("gmail.com"), remove_groups="all")
      for email in ("gone@example.com", "old@example.com", "visitor@gmail.com")],
     "Number of Adobe-only users removed from all groups"),
    (AdobeOnlyAction.REMOVE, False,
     [UserCommand(user=email, use_adobe_id=email.endswith("gmail.com"), remove_from_org=True)
      for email in ("gone@example.com", "old@example.com", "visitor@gmail.com")],
     "Number of Adobe-only users removed"),
    (AdobeOnlyAction.DELETE, True,
     [UserCommand(user="gone@example.com", remove_from_org=True, delete_account=True),
      UserCommand(user="old@example.com", remove_from_org=True, delete_account=True),
      UserCommand(user="visitor@gmail.com", use_adobe_id=True, remove_from_org=True, delete_account=False)],
     "Number of Adobe-only users deleted"),
])
def test_adobe_only_actions(action, process_groups, expected, label) -> None:
    result = run(rules(adobe_only_action=action, process_groups=process_groups),
                 [directory_user("stay@example.com")], [adobe_user("stay@example.com"), *STRAYS])
    assert result.streamed == []
    assert [UserCommand(**{**_fields(command), "key": ""}) for command in result.final] == expected
    counters = result.planner.counters
    assert counters.adobe_only_label == label
    # User Sync counts every Adobe-only user it acts on, a command or not (0 when it acts on none)
    acts = process_groups or action in (AdobeOnlyAction.REMOVE_ADOBE_GROUPS, AdobeOnlyAction.REMOVE,
                                        AdobeOnlyAction.DELETE)
    processed = 3 if acts and action is not AdobeOnlyAction.EXCLUDE else 0
    assert counters.adobe_only_processed == processed
    assert counters.adobe_users_unchanged == 4 - processed - (3 if action is AdobeOnlyAction.EXCLUDE else 0)
    assert counters.adobe_users_excluded == (3 if action is AdobeOnlyAction.EXCLUDE else 0)
    kept = action is AdobeOnlyAction.WRITE_FILE or bool(label)  # only when written or acted on
    assert [user.email for user in result.planner.adobe_only_users] == ([user.email for user in STRAYS] if kept else [])


def _fields(command: UserCommand) -> dict:
    return {name: getattr(command, name) for name in UserCommand.__slots__}


@pytest.mark.parametrize("exclusions, excluded_email", [
    (Exclusions(identity_types=frozenset({ADOBE})), "visitor@gmail.com"),
    (Exclusions(groups=frozenset({"unmanaged"})), None),
    (Exclusions(username_patterns=(re.compile("GONE@.*", re.IGNORECASE),)), "gone@example.com"),
])
def test_excluded_adobe_users_are_never_touched(exclusions, excluded_email) -> None:
    result = run(rules(exclusions=exclusions, adobe_only_action=AdobeOnlyAction.REMOVE, process_groups=True),
                 [directory_user("gone@example.com", ["Sales"])] if excluded_email is None else [], STRAYS)
    touched = {command.user for command in result.commands}
    if excluded_email is None:  # the group exclusion covers the first two; a matching directory user changes nothing
        assert touched == {"visitor@gmail.com"}
        assert result.planner.counters.adobe_users_excluded == 2
        assert result.planner.counters.adobe_users_created == 0
    else:
        assert excluded_email not in touched and len(touched) == 2
        assert result.planner.counters.adobe_users_excluded == 1


# --- the limit ----------------------------------------------------------------------------------

@pytest.mark.parametrize("limit, allowed", [
    (AdobeOnlyLimit(count=3), True),
    (AdobeOnlyLimit(count=2), False),
    (AdobeOnlyLimit(count=None, percent=75), True),   # 5 read, 1 excluded: 3 <= 75% of 4
    (AdobeOnlyLimit(count=None, percent=74), False),
    (AdobeOnlyLimit(count=1, group_removals_only=True), True),  # only one Adobe-only user has a mapped group
    (AdobeOnlyLimit(count=0, group_removals_only=True), False),
])
def test_the_limit_stops_only_adobe_only_actions(limit, allowed) -> None:
    directory = [directory_user("stay@example.com", ["Sales"]), directory_user("new@example.com")]
    adobe = [adobe_user("stay@example.com"), adobe_user("admin@example.com", ["Admins"]), *STRAYS]
    result = run(rules(limit=limit, process_groups=True, adobe_only_action=AdobeOnlyAction.REMOVE,
                       exclusions=Exclusions(groups=frozenset({"admins"}))), directory, adobe)
    assert {command.user for command in result.streamed} == {"stay@example.com", "new@example.com"}
    critical = [text for level, text in result.planner.messages if level == logging.CRITICAL]
    expected_count = 1 if limit.group_removals_only else 3
    assert result.planner.adobe_only_over_limit is not allowed  # for the summary's and the metrics' flag
    if allowed:
        assert len(result.final) == expected_count and critical == []
        assert result.planner.counters.adobe_only_processed == expected_count
    else:
        assert result.final == []
        assert critical == [f"Unable to process Adobe-only users, as their count ({expected_count}) is larger than "
                            f"the max_adobe_only_users setting ({limit})"]
        assert result.planner.counters.adobe_only_processed == 0


def test_the_limit_is_not_checked_when_adobe_only_users_are_only_written() -> None:
    result = run(rules(limit=AdobeOnlyLimit(count=0), adobe_only_action=AdobeOnlyAction.WRITE_FILE), [], STRAYS)
    assert result.commands == [] and result.planner.messages == [] and not result.planner.adobe_only_over_limit
    assert len(result.planner.adobe_only_users) == 3


# --- push -----------------------------------------------------------------------------------------

def test_push_creates_every_selected_user_at_once_with_desired_and_undesired_mapped_groups() -> None:
    planner_rules = rules(strategy=Strategy.PUSH, process_groups=True, update_user_info=True,
                          adobe_only_action=AdobeOnlyAction.DELETE)
    planner = SyncPlanner(planner_rules)
    commands = planner.add_directory_user(directory_user("ann@example.com", ["Sales"]))
    assert commands == [UserCommand(
        user="ann@example.com",
        create=CreateUser(FED, "ann@example.com", "Ann", "Lee", "US", "updateIfAlreadyExists"),
        remove_groups=("Eng Profile",), add_groups=("All Staff", "Sales Profile"),
        key="federatedID,ann@example.com,,ann@example.com")]
    assert list(planner.directory_done()) == [] and planner.adobe_done() == [] and planner.finish() == []
    assert planner.counters.adobe_users_created == 1


# --- selection ------------------------------------------------------------------------------------

def test_users_mapped_and_user_filter_select_directory_users_and_the_rest_are_adobe_only() -> None:
    directory = [directory_user("eng@example.com", ["ENGINEERING"]), directory_user("other@example.com", ["Other"]),
                 directory_user("filtered@example.com", ["Sales"])]
    adobe = [adobe_user("other@example.com")]
    result = run(rules(directory_group_filter=frozenset({"engineering", "sales"}),
                       user_filter=re.compile(r"e.*@example\.com", re.IGNORECASE),
                       adobe_only_action=AdobeOnlyAction.REMOVE), directory, adobe)
    assert [(command.user, command.create is not None, command.remove_from_org) for command in result.commands] == [
        ("eng@example.com", True, False), ("other@example.com", False, True)]
    counters = result.planner.counters
    assert (counters.directory_users_read, counters.directory_users_selected) == (3, 1)
