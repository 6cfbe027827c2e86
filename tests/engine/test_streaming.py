"""When commands come out of the planner as the two reads interleave, and how users are matched."""

from __future__ import annotations

import pytest

from async_usersync.engine import AdobeOnlyAction, Exclusions, SyncPlanner
from async_usersync.records import IdentityType

from tests.engine.helpers import adobe_user, directory_user, rules, run

GROUP_RULES = rules(process_groups=True, adobe_only_action=AdobeOnlyAction.REMOVE)


@pytest.mark.parametrize("directory_first", [True, False])
def test_a_matched_pair_yields_its_command_as_soon_as_the_second_half_arrives(directory_first: bool) -> None:
    planner = SyncPlanner(GROUP_RULES)
    first, second = (planner.add_directory_user, planner.add_adobe_user)[:: 1 if directory_first else -1]
    users = (directory_user("ann@example.com", ["Sales"]), adobe_user("ann@example.com", ["Other"]))[:: 1 if directory_first else -1]
    assert first(users[0]) == []
    (command,) = second(users[1])
    assert (command.add_groups, command.remove_groups) == (("All Staff", "Sales Profile"), ())
    assert list(planner.directory_done()) == [] and planner.adobe_done() == [] and planner.finish() == []


@pytest.mark.parametrize("directory_first", [True, False])
def test_a_command_that_removes_groups_waits_for_the_whole_directory(directory_first: bool) -> None:
    planner = SyncPlanner(GROUP_RULES)
    first, second = (planner.add_directory_user, planner.add_adobe_user)[:: 1 if directory_first else -1]
    users = (directory_user("ann@example.com", ["Sales"]), adobe_user("ann@example.com", ["Eng Profile"]))[:: 1 if directory_first else -1]
    assert first(users[0]) == [] and second(users[1]) == []
    (command,) = planner.directory_done()  # no other entry for ann can want Eng Profile now
    assert (command.add_groups, command.remove_groups) == (("All Staff", "Sales Profile"), ("Eng Profile",))
    assert planner.adobe_done() == [] and planner.finish() == []


def test_creates_wait_for_the_end_of_the_adobe_read_then_come_at_once() -> None:
    planner = SyncPlanner(GROUP_RULES)
    assert planner.add_directory_user(directory_user("early@example.com")) == []
    assert planner.add_adobe_user(adobe_user("other@example.com")) == []
    assert [command.user for command in planner.adobe_done()] == ["early@example.com"]
    (late,) = planner.add_directory_user(directory_user("late@example.com"))
    assert late.create is not None
    # other@ could still be matched by a directory user until the directory read is done
    assert planner.add_directory_user(directory_user("OTHER@example.com")) == []
    assert list(planner.directory_done()) == []
    assert planner.finish() == []


def test_adobe_only_users_are_acted_on_only_in_finish_and_finish_needs_both_reads() -> None:
    planner = SyncPlanner(GROUP_RULES)
    assert planner.add_adobe_user(adobe_user("gone@example.com")) == []
    assert list(planner.directory_done()) == []
    assert planner.add_adobe_user(adobe_user("gone2@example.com")) == []
    with pytest.raises(RuntimeError):
        planner.finish()  # the Adobe read has not completed: nobody may be removed
    assert planner.adobe_done() == []
    assert [command.user for command in planner.finish()] == ["gone@example.com", "gone2@example.com"]


@pytest.mark.parametrize("directory_kwargs, adobe_kwargs, matched", [
    ({"email": "Ann@Example.com"}, {"email": "ann@example.COM"}, True),
    ({"email": "ann@example.com", "username": "alee@corp.com"}, {"email": "other@example.com", "username": "ALEE@corp.com"}, True),
    ({"email": "ann@example.com", "username": "alee@corp.com"}, {"email": "alee@corp.com", "username": "x@example.com"}, True),
    ({"email": "ann@example.com", "username": "alee", "domain": "corp.com"},
     {"email": "other@example.com", "username": "ALEE", "domain": "CORP.com"}, True),
    ({"email": "ann@example.com", "username": "alee", "domain": "corp.com"},  # no match, but neither is replaced
     {"email": "other@example.com", "username": "alee", "domain": "other.com"}, None),  # (test_username_conflicts)
    ({"email": "ann@example.com"}, {"email": "anne@example.com"}, False),
])
@pytest.mark.parametrize("directory_first", [True, False])
def test_matching_by_email_or_username_ignoring_case(directory_kwargs, adobe_kwargs, matched, directory_first) -> None:
    result = run(GROUP_RULES, [directory_user(**directory_kwargs)], [adobe_user(**adobe_kwargs)], directory_first)
    creates = [command for command in result.commands if command.create]
    removals = [command for command in result.commands if command.remove_from_org]
    assert (len(creates), len(removals)) == ((1, 1) if matched is False else (0, 0))


def test_an_excluded_adobe_user_consumes_its_directory_match_so_nothing_is_created() -> None:
    for directory_first in (True, False):
        result = run(rules(exclusions=Exclusions(identity_types=frozenset({IdentityType.ADOBE_ID})), process_groups=True),
                     [directory_user("boss@example.com", ["Sales"])],
                     [adobe_user("boss@example.com", identity_type=IdentityType.ADOBE_ID)], directory_first)
        assert result.commands == []
        assert result.planner.counters.adobe_users_excluded == 1


def test_directory_user_without_email_is_skipped_with_a_warning() -> None:
    result = run(rules(), [directory_user("", username="nobody", domain="example.com")], [])
    assert result.commands == []
    assert result.planner.messages == [(30, "Skipping directory user 'nobody': no email address")]
    assert result.planner.counters.directory_users_selected == 0


def test_matched_pairs_leave_no_waiting_state_behind() -> None:
    planner = SyncPlanner(GROUP_RULES)
    for index in range(100):
        planner.add_adobe_user(adobe_user(f"user{index}@example.com"))
        planner.add_directory_user(directory_user(f"USER{index}@example.com", username=f"u{index}@corp.com"))
    assert planner._waiting_adobe == {} and planner._waiting_directory == {}
