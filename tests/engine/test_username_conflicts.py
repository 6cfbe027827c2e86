"""Issue 10, path 8: a username-login account whose email moved to another domain is never
replaced (one removed, another created) in the same run without being told to."""

from __future__ import annotations

import logging

import pytest

from async_usersync.engine import AdobeOnlyAction, GroupMapping

from tests.engine.helpers import adobe_user, directory_user, rules, run

STUDENTS = GroupMapping.from_pairs([("Students", ["Students Team"])])
REMOVE = rules(mapping=STUDENTS, process_groups=True, adobe_only_action=AdobeOnlyAction.REMOVE)


def moved() -> tuple:
    """The directory gives the username with an email in a new domain and no domain of its own."""
    return (directory_user("a.student@mail.school.example", ["Students"], username="B7700123"),
            adobe_user("a.student@school.example", ["Students Team"], username="B7700123", domain="school.example"))


@pytest.mark.parametrize("directory_first", [True, False])
def test_same_username_in_another_domain_is_neither_created_nor_removed(directory_first: bool) -> None:
    directory, adobe = moved()
    result = run(REMOVE, [directory, directory_user("new@school.example", ["Students"])],
                 [adobe, adobe_user("left@school.example", ["Students Team"])], directory_first)
    assert {(command.user, bool(command.create), command.remove_from_org) for command in result.commands} == {
        ("new@school.example", True, False), ("left@school.example", False, True)}
    warnings = [text for level, text in result.planner.messages if level == logging.WARNING]
    assert len(warnings) == 1
    assert ("federatedID,b7700123,mail.school.example,a.student@mail.school.example" in warnings[0]
            and "federatedID,b7700123,school.example,a.student@school.example" in warnings[0])
    assert "user_domain_format" in warnings[0] and "domain column" in warnings[0]
    assert result.planner.counters.adobe_users_created == 1


def test_the_right_domain_matches_the_account_again() -> None:
    directory, adobe = moved()
    fixed = directory_user(directory.email, ["Students"], username="B7700123", domain="school.example")
    result = run(rules(mapping=STUDENTS, process_groups=True, update_user_info=True,
                       adobe_only_action=AdobeOnlyAction.REMOVE), [fixed], [adobe])
    (command,) = result.commands
    assert (command.user, command.domain, dict(command.update)) == ("B7700123", "school.example", {"email": directory.email})
    assert result.planner.messages == []


def test_a_matched_account_of_that_username_does_not_hold_a_new_one_back() -> None:
    directory, adobe = moved()
    twin = directory_user("a.student@school.example", ["Students"], username="B7700123", domain="school.example")
    result = run(REMOVE, [twin, directory], [adobe])
    assert [(command.user, command.domain) for command in result.commands if command.create] == [
        ("B7700123", "mail.school.example")]
    assert not any(command.remove_from_org for command in result.commands)
