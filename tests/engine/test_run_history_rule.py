"""The removal guard's comparison and the planner's part in it (deferred mapped-group removals,
members per mapped group)."""

from __future__ import annotations

from async_usersync.engine import AdobeOnlyAction, SyncPlanner
from async_usersync.engine.history import RemovalGuard, RunPicture

from tests.engine.helpers import adobe_user, directory_user, rules

LAST = RunPicture(directory_users=100, adobe_users=200, group_members={"Sales": 10, "Engineering": 5, "Old": 3})


def test_nothing_is_held_without_history_or_within_max_shrink() -> None:
    assert RemovalGuard(None).shrinkage(RunPicture(0, 0, {"Sales": 0})) == []
    assert RemovalGuard(LAST).shrinkage(RunPicture(80, 160, {"Sales": 1, "Engineering": 5})) == []


def test_an_emptied_group_or_a_side_beyond_max_shrink_is_named_from_and_to() -> None:
    found = RemovalGuard(LAST, max_shrink=0.1).shrinkage(RunPicture(89, 150, {"Sales": 0, "Engineering": 5}))
    assert found == [
        "the mapped directory group 'Sales' had 10 member(s) in the last successful run and has none now",
        "directory users read shrank from 100 to 89 (-11%), more than limits.max_shrink (10%) since the last successful run",
        "Adobe users read shrank from 200 to 150 (-25%), more than limits.max_shrink (10%) since the last successful run",
    ]  # 'Old' is no longer mapped: not compared


def deferring_planner() -> SyncPlanner:
    """Ann only loses a group, Bo loses one and gains two: both commands wait for the guard."""
    planner = SyncPlanner(rules(process_groups=True, adobe_only_action=AdobeOnlyAction.REMOVE))
    planner.defer_group_removals()
    planner.add_adobe_user(adobe_user("ann@example.com", ["Sales Profile"]))
    planner.add_adobe_user(adobe_user("bo@example.com", ["Sales Profile"]))
    assert planner.add_directory_user(directory_user("ann@example.com", [])) == []
    assert planner.add_directory_user(directory_user("bo@example.com", ["Engineering"])) == []
    planner.directory_done()
    planner.adobe_done()
    assert planner.deferred_removal_count == 2 and planner.counters.adobe_users_updated == 2
    return planner


def test_deferred_commands_go_whole_when_released() -> None:
    planner = deferring_planner()
    assert [(command.user, command.add_groups, command.remove_groups) for command in planner.release_group_removals()] == [
        ("ann@example.com", (), ("Sales Profile",)), ("bo@example.com", ("All Staff", "Eng Profile"), ("Sales Profile",))]
    assert list(planner.release_group_removals()) == [] and planner.counters.adobe_users_updated == 2


def test_held_commands_keep_only_their_other_changes() -> None:
    planner = deferring_planner()
    assert [(command.user, command.add_groups, command.remove_groups) for command in planner.hold_group_removals()] == [
        ("bo@example.com", ("All Staff", "Eng Profile"), ())]
    assert planner.counters.adobe_users_updated == 1 and planner.deferred_removal_count == 0


def test_members_are_counted_per_mapped_directory_group() -> None:
    planner = SyncPlanner(rules())
    for email, groups in (("a@x.org", ["Sales"]), ("b@x.org", ["Sales", "ENGINEERING"]), ("c@x.org", ["Other"])):
        planner.add_directory_user(directory_user(email, groups))
    assert planner.group_members() == {"engineering": 1, "sales": 2}


def test_a_directory_read_that_fails_sends_the_held_commands_without_their_removals() -> None:
    """Without a history, removals are held only while the directory is read; when that read
    fails, the pipeline takes the held commands without their removals (``hold_group_removals``)."""
    planner = SyncPlanner(rules(process_groups=True))
    planner.add_adobe_user(adobe_user("ann@example.com", ["Sales Profile"]))
    planner.add_adobe_user(adobe_user("bo@example.com", ["Sales Profile"]))
    assert planner.add_directory_user(directory_user("ann@example.com", [])) == []
    assert planner.add_directory_user(directory_user("bo@example.com", ["Engineering"])) == []
    assert [(command.user, command.add_groups, command.remove_groups) for command in planner.hold_group_removals()] == [
        ("bo@example.com", ("All Staff", "Eng Profile"), ())]
    assert planner.counters.adobe_users_updated == 1
