"""The planner never turns a directory user it could not read into a change or a removal."""

from __future__ import annotations

import itertools
import logging

import pytest

from async_usersync.engine import AdobeOnlyAction, GroupMapping, SyncPlanner
from async_usersync.records import UnreadableDirectoryUser, UserCommand

from tests.engine.helpers import adobe_user, directory_user, rules

GROUP_RULES = rules(process_groups=True, update_user_info=True, adobe_only_action=AdobeOnlyAction.REMOVE)


def unreadable(email: str, username: str | None = None, domain: str | None = None) -> UnreadableDirectoryUser:
    return UnreadableDirectoryUser(where="with DN 'uid=x,dc=example'", problem="attribute 'sn' cannot be decoded",
                                   email=email, username=username or email, domain=domain)


@pytest.mark.parametrize("order", ["directory first", "adobe first", "adobe done first", "directory done first"])
def test_an_unreadable_user_gets_nothing_and_is_never_adobe_only(order: str) -> None:
    planner = SyncPlanner(GROUP_RULES)
    ann, ben = adobe_user("ann@example.com", ["Eng Profile"]), adobe_user("b7@example.com", ["Sales Profile"], username="b7")
    protected = [unreadable("ANN@example.com"), unreadable("other@example.com", username="b7", domain="example.com")]
    commands = []
    if order in ("adobe first", "adobe done first"):
        commands += planner.add_adobe_user(ann) + planner.add_adobe_user(ben)
        if order == "adobe done first":
            commands += planner.adobe_done()
    for user in protected:
        commands += planner.add_directory_user(user)
    commands += planner.add_directory_user(directory_user("new@example.com", ["Sales"]))
    if order == "directory done first":
        commands += list(planner.directory_done())
    if order in ("directory first", "directory done first"):
        commands += planner.add_adobe_user(ann) + planner.add_adobe_user(ben)
    if order != "directory done first":
        commands += list(planner.directory_done())
    if order != "adobe done first":
        commands += planner.adobe_done()
    commands += planner.finish()
    assert [command.user for command in commands] == ["new@example.com"]  # nothing for ann or b7, no create for other@
    assert planner.adobe_only_users == []
    errors = [text for level, text in planner.messages if level == logging.ERROR]
    assert errors[0] == ("Directory user with DN 'uid=x,dc=example' cannot be read (attribute 'sn' cannot be decoded): "
                         "no change for them this run; their Adobe account keeps everything it has")


def _orders(events: tuple[str, ...]) -> list[tuple[str, ...]]:
    """Every interleaving where D1 < D2 < directory done and A < Adobe done."""
    rank = {name: index for index, name in enumerate(events)}
    return [order for order in itertools.permutations(events)
            if all(order.index(before) < order.index(after) for before, after in
                   (("D1", "D2"), ("D2", "DD"), ("A", "AD")) if before in rank and after in rank)]


DUPLICATE_RULES = rules(process_groups=True, update_user_info=True, adobe_only_action=AdobeOnlyAction.REMOVE,
                        mapping=GroupMapping.from_pairs([("Engineering", ["Eng Profile", "All Staff"]),
                                                         ("Sales", ["Sales Profile", "All Staff"]),
                                                         ("Legal", ["Legal Profile"])]))


def _play(order: tuple[str, ...], adobe_groups: list[str] | None) -> tuple[list[UserCommand], SyncPlanner]:
    planner = SyncPlanner(DUPLICATE_RULES)
    first = directory_user("ann@example.com", ["Sales"], firstname="Ann", origin="uid=ann,ou=a")
    second = directory_user("ANN@example.com", ["Engineering"], firstname="Anne", origin="uid=ann,ou=b")
    steps = {"D1": lambda: planner.add_directory_user(first), "D2": lambda: planner.add_directory_user(second),
             "A": lambda: planner.add_adobe_user(adobe_user("ann@example.com", adobe_groups or [], firstname="Ann")),
             "DD": planner.directory_done, "AD": planner.adobe_done}
    commands = [command for event in order if event in steps for command in steps[event]()]
    return commands + planner.finish(), planner


@pytest.mark.parametrize("order", _orders(("D1", "D2", "A", "DD", "AD")))
def test_two_entries_with_one_email_are_one_user_whatever_the_timing(order: tuple[str, ...]) -> None:
    commands, planner = _play(order, ["Eng Profile", "Legal Profile"])
    groups = {"Eng Profile", "Legal Profile"}
    for command in commands:
        assert command.user == "ann@example.com" and not command.update and not command.create
        groups = (groups - set(command.remove_groups)) | set(command.add_groups)
        assert "Eng Profile" not in command.remove_groups  # the second entry's group never flaps
    assert groups == {"All Staff", "Eng Profile", "Sales Profile"}  # both entries' groups
    assert [text for _, text in planner.messages if "same email" in text] == [
        "Directory entries 'uid=ann,ou=a' and 'uid=ann,ou=b' have the same email or username (ANN@example.com): "
        "they are taken as one user, with the groups of both"]
    settled, _ = _play(order, sorted(groups))
    assert settled == []  # the second run sends nothing


@pytest.mark.parametrize("order", _orders(("D1", "D2", "DD", "AD")))
def test_two_entries_with_one_email_and_no_adobe_account_make_one_user(order: tuple[str, ...]) -> None:
    commands, _ = _play(order, None)
    assert [command.create is not None for command in commands].count(True) == 1
    assert {"All Staff", "Eng Profile", "Sales Profile"} == set().union(*(command.add_groups for command in commands))
