"""The extension hook's runner at the seam between a source and the planner, without slapd or the
sandbox: what the hook sees and keeps between users, how its result becomes the planner's user, and
how the planner takes the groups it chose (the end-to-end tests are tests/e2e/test_extension_hooks.py)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from async_usersync.config.extension import read_extension
from async_usersync.engine import AdditionalGroupRule, GroupMapping, SyncPlanner
from async_usersync.pipeline.extension import AfterMappingHook, csv_source_attributes, ldap_source_attributes
from async_usersync.records import DirectoryUser, UnreadableDirectoryUser
from tests.engine.helpers import adobe_user, directory_user, rules

MAPPING = GroupMapping.from_pairs([("Staff", ["All Apps"])],
                                  [AdditionalGroupRule(re.compile("ACL-(.+)"), r"ACL-Grp-\1")], extended=["Design"])


def hook(tmp_path: Path, body: str, attributes: tuple[str, ...] = (), **options: object) -> AfterMappingHook:
    path = tmp_path / "extension-config.yml"
    code = "\n".join(f"  {line}" for line in body.strip("\n").splitlines())
    path.write_text(f"extended_attributes: {list(attributes)}\nextended_adobe_groups: [Design]\n"
                    f"after_mapping_hook: |\n{code}\n")
    return AfterMappingHook(read_extension(path), rules(mapping=MAPPING, **options), ldap_source_attributes)


def user(address: str, groups: tuple[str, ...] = ("Staff",), **attributes: object) -> DirectoryUser:
    plain = directory_user(address, groups, origin=f"uid={address.split('@')[0]}")
    return DirectoryUser(plain.identity_type, plain.username, None, plain.email, plain.firstname, plain.lastname,
                         plain.country, plain.groups, attributes, plain.origin)


def test_the_scope_lasts_the_run_and_only_selected_users_pass_through_the_hook(tmp_path: Path) -> None:
    runner = hook(tmp_path, """
hook_storage[source_attributes['email']] = (sorted(source_groups), sorted(target_groups))
seen = globals().get('seen', 0) + 1
""", directory_group_filter=frozenset({"staff"}))
    outsider = user("out@example.com", ("Other",))
    assert runner.apply(outsider) is outsider
    for email in ("ann@example.com", "bob@example.com"):
        runner.apply(user(email))
    assert runner._scope["hook_storage"] == {"ann@example.com": (["Staff"], ["All Apps"]),
                                             "bob@example.com": (["Staff"], ["All Apps"])}
    assert runner._scope["seen"] == 2


def test_ldap_and_csv_users_are_shown_under_user_syncs_names() -> None:
    ldap_user = user("ann@example.com", bc="JP1", proxy=("a@x", "b@x"), mail="ann@example.com")
    assert ldap_source_attributes(ldap_user, ("bc", "proxy", "missing")) == {
        "email": "ann@example.com", "identity_type": "federatedID", "username": "ann@example.com", "domain": None,
        "givenName": "Ann", "sn": "Lee", "c": "US", "bc": "JP1", "proxy": ["a@x", "b@x"], "missing": None}
    csv_user = user("ann@example.com", email="ann@example.com", bc=" JP1 ", subco="")
    assert csv_source_attributes(csv_user, ("bc", "subco", "absent")) == {
        "email": "ann@example.com", "bc": "JP1", "subco": None, "absent": None}


def test_the_users_values_and_groups_are_what_the_hook_left(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    runner = hook(tmp_path, """
target_attributes['email'] = target_attributes['email'].replace('@old.test', '@new.test')
target_attributes['country'] = 'de'
target_groups.discard('All Apps')
target_groups.update({'design', 'Nowhere'})
""")
    caplog.set_level(logging.ERROR, "async_usersync.extension")
    first = runner.apply(user("ann@old.test"))
    runner.apply(user("bob@old.test"))
    assert isinstance(first, DirectoryUser)
    # the username the directory did not give follows the email; the group takes the config's spelling
    assert (first.email, first.username, first.country, first.adobe_groups) == (
        "ann@new.test", "ann@new.test", "DE", frozenset({"Design"}))
    assert [record.getMessage() for record in caplog.records] == [
        "The extension hook assigned the Adobe group 'Nowhere', which is neither mapped nor in extended_adobe_groups "
        f"of {tmp_path / 'extension-config.yml'}: ignored"]


@pytest.mark.parametrize("body, problem", [
    ("target_attributes['email'] = None", "the extension hook left no valid email (got None)"),
    ("target_attributes['country'] = 49", "the extension hook left country 49, which is not text"),
    ("target_groups.add(7)", "a group name that is not text"),
    ("target_groups = 'Design'", "target_attributes or target_groups of the wrong kind"),
    ("target_groups = [['Design']]", "a group name that is not text"),
    ("x = 1\nx = 1 / 0", "the extension hook raised ZeroDivisionError: division by zero at line 5 of "),
    # exit() or sys.exit() in a hook must not end the whole run silently, with the hook's code as its exit code
    ("import sys\nsys.exit(5)", "the extension hook raised SystemExit: 5 at line 5 of "),
    ("exit('skip')", "the extension hook raised SystemExit: skip at line 4 of "),
])
def test_a_hook_that_fails_makes_that_user_unreadable(tmp_path: Path, body: str, problem: str) -> None:
    runner = hook(tmp_path, body)
    result = runner.apply(user("ann@example.com"))
    assert isinstance(result, UnreadableDirectoryUser) and problem in result.problem
    assert (result.email, result.where, runner.failures) == ("ann@example.com", "ann@example.com (uid=ann)", 1)


def test_the_planner_takes_the_chosen_groups_merges_two_entries_and_still_applies_additional_groups(tmp_path: Path) -> None:
    runner = hook(tmp_path, """
if source_attributes.get('dept') == 'design':
    target_groups.add('Design')
""", ("dept",), process_groups=True)
    planner = SyncPlanner(runner.rules)
    planner.add_adobe_user(adobe_user("ann@example.com", ["All Apps", "Design", "ACL-Grp-X"]))
    planner.adobe_done()
    assert planner.add_directory_user(runner.apply(user("ann@example.com", ("Staff", "ACL-X")))) == []
    commands = list(planner.directory_done())  # Design is extended, so mapped: removed once the directory is read
    assert [(command.add_groups, command.remove_groups) for command in commands] == [((), ("Design",))]

    planner = SyncPlanner(runner.rules)
    planner.add_adobe_user(adobe_user("ann@example.com", ["All Apps"]))
    planner.adobe_done()
    planner.add_directory_user(runner.apply(user("ann@example.com", ("Staff",))))
    second = planner.add_directory_user(runner.apply(user("ann@example.com", ("Other",), dept="design")))
    assert [command.add_groups for command in second] == [("Design",)]  # the second entry's choice joins the first's
