"""A secondary (trustee) org's rules (issue 16): User Sync's, planned by one planner per org, plus
Adobe-only handling in secondaries (User Sync's open issue 788)."""

from __future__ import annotations

import pytest

from async_usersync.engine import AdobeOnlyAction, Exclusions, GroupMapping, SyncPlanner
from async_usersync.records import CreateUser, UserCommand

from tests.engine.helpers import ADOBE, ENT, adobe_user, directory_user, rules, run

TRUSTEE = GroupMapping.from_pairs([("Engineering", ["Acrobat"]), ("Sales", [])])


def test_a_secondary_creates_only_users_with_mapped_groups_there_with_the_directory_identity() -> None:
    result = run(rules(mapping=TRUSTEE, secondary=True, process_groups=True, update_user_info=False),
                 [directory_user("ann@example.com", ["Engineering"], identity_type=ENT, username="ann", domain="example.com",
                                 country="DE"),
                  directory_user("bob@example.com", ["Sales"])], [])
    assert result.commands == [UserCommand(
        user="ann", domain="example.com",
        create=CreateUser(ENT, "ann@example.com", "Ann", "Lee", "DE", "ignoreIfAlreadyExists"),
        add_groups=("Acrobat",), key="enterpriseID,ann,example.com,ann@example.com")]
    assert result.planner.counters.adobe_users_created == 1
    primary = run(rules(mapping=TRUSTEE, process_groups=True), [directory_user("bob@example.com", ["Sales"])], [])
    assert [command.user for command in primary.commands if command.create] == ["bob@example.com"]


@pytest.mark.parametrize("action, remove_from_org, delete_account, remove_groups", [
    (AdobeOnlyAction.DELETE, True, False, ()),
    (AdobeOnlyAction.REMOVE, True, False, ()),
    (AdobeOnlyAction.REMOVE_ADOBE_GROUPS, False, False, "all"),
    (AdobeOnlyAction.PRESERVE, False, False, ("Acrobat",)),
])
def test_adobe_only_users_of_a_secondary_are_handled_and_delete_only_removes_there(
        action: AdobeOnlyAction, remove_from_org: bool, delete_account: bool, remove_groups: object) -> None:
    result = run(rules(mapping=TRUSTEE, secondary=True, process_groups=True, adobe_only_action=action),
                 [], [adobe_user("gone@example.com", ["Acrobat", "Other"])])
    (command,) = result.final
    assert (command.remove_from_org, command.delete_account, command.remove_groups) == (
        remove_from_org, delete_account, remove_groups)
    assert result.planner.counters.adobe_only_processed == 1
    primary = run(rules(mapping=TRUSTEE, process_groups=True, adobe_only_action=action), [],
                  [adobe_user("gone@example.com", ["Acrobat", "Other"])])
    assert [command.delete_account for command in primary.final] == [action is AdobeOnlyAction.DELETE]


def test_users_the_primary_excludes_are_left_alone_in_a_secondary() -> None:
    primary = run(rules(mapping=TRUSTEE, exclusions=Exclusions(groups=frozenset({"keep out"}))), [],
                  [adobe_user("svc@example.com", ["Keep Out"]), adobe_user("gone@example.com")])
    assert primary.planner.excluded_keys == {"svc@example.com"}
    secondary = SyncPlanner(rules(mapping=TRUSTEE, secondary=True, adobe_only_action=AdobeOnlyAction.REMOVE))
    for user in (adobe_user("svc@example.com", ["Acrobat"]), adobe_user("gone@example.com"),
                 adobe_user("friend@example.com", identity_type=ADOBE)):
        secondary.add_adobe_user(user)
    secondary.directory_done()
    secondary.adobe_done()
    commands = secondary.finish(primary.planner.excluded_keys)
    assert [command.user for command in commands] == ["gone@example.com", "friend@example.com"]
    assert secondary.counters.adobe_users_excluded == 1
    assert [user.email for user in secondary.adobe_only_users] == ["gone@example.com", "friend@example.com"]

