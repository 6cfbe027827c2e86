"""The undo rule (``engine.undo``) at its seam: a run's landed commands and the org now in, the
inverse out. The e2e tests (tests/e2e/test_journal_undo.py) send it to the sandbox."""

from __future__ import annotations

import logging

from async_usersync.engine import match_keys
from async_usersync.engine.undo import plan_undo
from async_usersync.records import AdobeUser, CreateUser, IdentityType, UserCommand

FEDERATED = IdentityType.FEDERATED_ID
KEY = "federatedID,ann@example.com,,ann@example.com"


def ann(email: str = "ann@example.com", firstname: str = "Ann", groups: tuple[str, ...] = ("A",)) -> AdobeUser:
    return AdobeUser(FEDERATED, email, "example.com", email, firstname, "Lee", "US", frozenset(groups))


def org(*users: AdobeUser) -> dict[str, AdobeUser]:
    return {key: user for user in users for key in match_keys(user)}


def test_an_email_update_is_sent_back_to_the_new_address_and_the_username_follows() -> None:
    before = ann()
    command = UserCommand("ann@example.com", update={"email": "ann.lee@example.com"}, add_groups=("B",),
                          remove_groups=("A",), key=KEY, before=before)
    plan = plan_undo([command], org(ann("ann.lee@example.com", groups=("B",))))
    assert plan.commands == [UserCommand("ann.lee@example.com", update={"email": "ann@example.com"}, add_groups=("A",),
                                         remove_groups=("B",), key=KEY)]
    assert (plan.restored, plan.left_alone) == (1, 0)


def test_remove_adobe_groups_gets_every_group_back() -> None:
    before = ann(groups=("A", "B"))
    command = UserCommand("ann@example.com", remove_groups="all", key=KEY, before=before)
    plan = plan_undo([command], org(ann(groups=())))
    assert plan.commands == [UserCommand("ann@example.com", add_groups=("A", "B"), key=KEY)]


def test_a_create_then_a_merged_group_is_one_removal_from_the_org() -> None:
    create = UserCommand("ann@example.com", create=CreateUser(FEDERATED, "ann@example.com", "Ann", "Lee", "US"),
                         add_groups=("A",), key=KEY)
    merged = UserCommand("ann@example.com", add_groups=("B",), key=KEY)
    plan = plan_undo([create, merged], org(ann(groups=("A", "B"))))
    assert plan.commands == [UserCommand("ann@example.com", remove_from_org=True, key=KEY)]
    assert plan.removed == 1


def test_a_user_gone_since_the_run_is_left_alone_and_named() -> None:
    command = UserCommand("ann@example.com", add_groups=("B",), key=KEY, before=ann())
    plan = plan_undo([command], {})
    assert plan.commands == [] and plan.left_alone == 1
    assert plan.messages == [(logging.WARNING, f"Not undoing user key {KEY}: changed since the run (no longer in the "
                                               f"org); --force undoes it anyway")]
