"""The planner never turns a directory user it could not read into a change or a removal."""

from __future__ import annotations

import logging

import pytest

from async_usersync.engine import AdobeOnlyAction, SyncPlanner
from async_usersync.records import UnreadableDirectoryUser

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
        commands += planner.directory_done()
    if order in ("directory first", "directory done first"):
        commands += planner.add_adobe_user(ann) + planner.add_adobe_user(ben)
    if order != "directory done first":
        commands += planner.directory_done()
    if order != "adobe done first":
        commands += planner.adobe_done()
    commands += planner.finish()
    assert [command.user for command in commands] == ["new@example.com"]  # nothing for ann or b7, no create for other@
    assert planner.adobe_only_users == []
    errors = [text for level, text in planner.messages if level == logging.ERROR]
    assert errors[0] == ("Directory user with DN 'uid=x,dc=example' cannot be read (attribute 'sn' cannot be decoded): "
                         "no change for them this run; their Adobe account keeps everything it has")
