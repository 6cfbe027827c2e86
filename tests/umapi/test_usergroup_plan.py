"""The split of held commands into user-group entries and user entries, at the seam (no server)."""

from __future__ import annotations

from async_usersync.records import UserCommand
from async_usersync.umapi.entries import RequestIds
from async_usersync.umapi.usergroups import HeldMemberships, group_facts


def listing(**members: int) -> list[dict]:
    return [{"groupName": name.replace("_", " "), "type": "USER_GROUP", "memberCount": count}
            for name, count in members.items()] + [{"groupName": "Profile", "type": "PRODUCT_PROFILE", "memberCount": 0}]


def held(commands: list[UserCommand]) -> HeldMemberships[int]:
    memberships: HeldMemberships[int] = HeldMemberships()
    for number, command in enumerate(commands):
        memberships.hold(command, number)
    return memberships


def test_a_group_over_the_add_ceiling_is_packed_for_removals_only():
    commands = [UserCommand(user=f"u{number}@example.com", add_groups=("Big",), remove_groups=("Big Old",))
                for number in range(12)]
    plan = held(commands).plan(group_facts(listing(Big=200_001, Big_Old=200_001)), RequestIds())
    assert [entry.entry["usergroup"] for entry in plan.group_entries] == ["Big Old"]
    assert [(rest.add_groups, rest.remove_groups, owner, count) for rest, owner, count in plan.rest] == \
        [(("Big",), (), number, 1) for number in range(12)]


def test_product_profiles_unknown_groups_and_a_user_named_twice_stay_in_user_entries():
    commands = [UserCommand(user=f"u{number}@example.com", add_groups=("Team", "Profile", "Unlisted"))
                for number in range(11)]
    commands.append(UserCommand(user="U3@example.com", add_groups=("Team",)))  # u3 again, as a second command
    plan = held(commands).plan(group_facts(listing(Team=5)), RequestIds())
    (entry,) = plan.group_entries
    named = [user for step in entry.entry["do"] for user in step["add"]["user"]]
    assert named == [f"u{number}@example.com" for number in range(11) if number != 3]
    assert [(rest.user, rest.add_groups) for rest, _, _ in plan.rest if "Team" in rest.add_groups] == [
        ("u3@example.com", ("Team", "Profile", "Unlisted")), ("U3@example.com", ("Team",))]
