"""Issue 18: the reason of every planned step, and the fingerprints a plan keeps of each user."""

from __future__ import annotations

from dataclasses import replace

from async_usersync.engine import AdobeOnlyAction, SyncPlanner
from async_usersync.engine.reasons import Change, ReviewPlanner, adobe_fingerprint, directory_fingerprint
from async_usersync.records import UserCommand
from tests.engine.helpers import adobe_user, directory_user, rules

SYNC = rules(process_groups=True, update_user_info=True, adobe_only_action=AdobeOnlyAction.REMOVE_ADOBE_GROUPS)
DIRECTORY = [
    directory_user("new@x.com", ["Engineering"], origin="uid=new"),
    directory_user("moved@x.com", ["Sales", "ACL-Delta"], firstname="Bea"),
    directory_user("chosen@x.com", ["Sales"]),
]
ADOBE = [
    adobe_user("moved@x.com", ["Eng Profile", "All Staff", "Other"]),
    adobe_user("chosen@x.com", ["Sales Profile"]),
    adobe_user("gone@x.com", ["Sales Profile"]),
]


def plan(planner: SyncPlanner) -> list[UserCommand]:
    commands = [command for user in ADOBE for command in planner.add_adobe_user(user)]
    for user in DIRECTORY:
        if user.email == "chosen@x.com":  # the extension hook chose its Adobe groups
            user = replace(user, adobe_groups=frozenset({"Eng Profile"}))
        commands += planner.add_directory_user(user)
    commands += planner.adobe_done()
    commands += planner.directory_done()
    return commands + planner.finish()


def test_the_review_planner_plans_what_the_planner_plans() -> None:
    assert plan(ReviewPlanner(SYNC)) == plan(SyncPlanner(SYNC))


def test_each_step_names_its_rule() -> None:
    planner = ReviewPlanner(SYNC)
    explained = {command.user: planner.explain(command) for command in plan(planner)}
    assert explained["new@x.com"][0].op == "create"
    assert explained["new@x.com"][0].reason == "directory user (uid=new) has no Adobe account; country US from the directory"
    assert Change("add", "Eng Profile", 'directory group "Engineering" maps to "Eng Profile" (directory_users.groups) '
                                        "(--process-groups)") in explained["new@x.com"]
    moved = explained["moved@x.com"]
    assert Change("update", "firstname", "the directory differs (--update-user-info; firstname is in update_attributes)",
                  value="Bea", was="Ann") in moved
    assert Change("add", "ACL-Grp-Delta", 'directory group "ACL-Delta" matches additional_groups source "ACL-(.+)" '
                                          '(target "ACL-Grp-\\1") (--process-groups)') in moved
    assert Change("remove", "Eng Profile", "\"Eng Profile\" is mapped from directory group 'engineering' and none of "
                                           "the user's directory groups gives it (--process-groups)") in moved
    assert explained["chosen@x.com"] == [
        Change("add", "Eng Profile", "the extension hook (after_mapping_hook) added it (--process-groups)"),
        Change("remove", "Sales Profile", "\"Sales Profile\" is mapped from directory group 'sales' and the extension "
                                          "hook (after_mapping_hook) did not give it (--process-groups)")]
    assert explained["gone@x.com"] == [Change("remove-all-groups", "gone@x.com", "Adobe-only user (no selected directory "
                                              "user matches it): --adobe-only-user-action remove-adobe-groups")]


def test_fingerprints_are_stable_and_see_every_field_the_planner_uses() -> None:
    user = adobe_user("a@x.com", ["B", "A"])
    assert adobe_fingerprint(user) == adobe_fingerprint(adobe_user("a@x.com", ["A", "B"]))
    assert adobe_fingerprint(user) != adobe_fingerprint(adobe_user("a@x.com", ["A"]))
    assert adobe_fingerprint(user) != adobe_fingerprint(adobe_user("a@x.com", ["A", "B"], lastname="Other"))
    assert adobe_fingerprint(None) is None and directory_fingerprint([]) is None
    entry = directory_user("a@x.com", ["Sales"])
    assert directory_fingerprint([entry]) == directory_fingerprint([directory_user("a@x.com", ["Sales"])])
    assert directory_fingerprint([entry]) != directory_fingerprint([directory_user("a@x.com", ["Sales"], country="DE")])
    assert directory_fingerprint([entry]) != directory_fingerprint([replace(entry, adobe_groups=frozenset({"X"}))])


def test_an_email_change_is_explained_from_the_entry_matched_by_username() -> None:
    planner = ReviewPlanner(SYNC)
    planner.add_adobe_user(adobe_user("old@x.com", ["Sales Profile", "All Staff"], username="ann", domain="x.com"))
    (command,) = planner.add_directory_user(directory_user("new@x.com", ["Sales"], username="ann", domain="x.com",
                                                           origin="uid=ann"))
    assert planner.explain(command) == [
        Change("update", "email", "the directory (uid=ann) differs (--update-user-info; email is in update_attributes)",
               value="new@x.com", was="old@x.com")]
    assert planner.fingerprints(command)["directory"] == directory_fingerprint(
        [directory_user("new@x.com", ["Sales"], username="ann", domain="x.com", origin="elsewhere")])
