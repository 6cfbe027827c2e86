"""The records' hand-written constructors keep the dataclass shape: same parameters, order and
defaults as the fields, frozen instances, and ``dataclasses.replace`` still works."""

from __future__ import annotations

import dataclasses
import inspect
import json

import pytest

from async_usersync.records import AdobeUser, DirectoryUser, IdentityType, UserCommand

HAND_WRITTEN = [DirectoryUser, AdobeUser, UserCommand]


@pytest.mark.parametrize("record_class", HAND_WRITTEN)
def test_constructor_parameters_are_the_fields_in_order_with_their_defaults(record_class: type) -> None:
    parameters = list(inspect.signature(record_class).parameters.values())
    record_fields = dataclasses.fields(record_class)
    assert [parameter.name for parameter in parameters] == [record_field.name for record_field in record_fields]
    for parameter, record_field in zip(parameters, record_fields):
        if record_field.default_factory is not dataclasses.MISSING:
            assert parameter.default is None, record_field.name
        else:
            assert parameter.default == (inspect.Parameter.empty if record_field.default is dataclasses.MISSING
                                         else record_field.default), record_field.name


def test_a_command_is_frozen_and_built_like_a_dataclass() -> None:
    command = UserCommand("ann@example.com", add_groups=("Staff",), key="k")
    assert command == UserCommand(user="ann@example.com", domain=None, use_adobe_id=False, create=None, update={},
                                  remove_groups=(), add_groups=("Staff",), remove_from_org=False,
                                  delete_account=False, key="k")
    assert command.update == {} and command.update is not UserCommand("x").update
    with pytest.raises(dataclasses.FrozenInstanceError):
        command.user = "bob@example.com"  # type: ignore[misc]
    assert dataclasses.replace(command, remove_from_org=True).remove_from_org
    assert repr(command).startswith("UserCommand(user='ann@example.com', domain=None,")


def test_users_are_frozen_and_replaceable() -> None:
    groups = frozenset({"Staff"})
    directory_user = DirectoryUser(IdentityType.FEDERATED_ID, "ann", "example.com", "ann@example.com", "Ann", "Lee", "US", groups)
    adobe_user = AdobeUser(IdentityType.FEDERATED_ID, "ann", "example.com", "ann@example.com", "Ann", "Lee", "US", groups)
    assert directory_user.source_attributes == {}
    assert dataclasses.replace(directory_user, country="DE").country == "DE"
    assert dataclasses.replace(adobe_user, groups=frozenset()).groups == frozenset()
    for record in (directory_user, adobe_user):
        with pytest.raises(dataclasses.FrozenInstanceError):
            record.email = "bob@example.com"  # type: ignore[misc]


def test_a_command_goes_to_json_and_back_unchanged() -> None:
    """Plan files and the journal write commands in this one form (issue 18)."""
    from async_usersync.records import CreateUser, IdentityType, UserCommand, command_from_json, command_to_json

    commands = [
        UserCommand("new@example.com", None, False, CreateUser(IdentityType.FEDERATED_ID, "new@example.com", "New",
                                                               "User", "US", "ignoreIfAlreadyExists"),
                    {}, (), ("Sales Team",), key="federatedID,new@example.com,,new@example.com"),
        UserCommand("bob", "example.com", False, None, {"firstname": "Bobby"}, "all", (), True, True, key="k"),
    ]
    for command in commands:
        assert command_from_json(json.loads(json.dumps(command_to_json(command)))) == command
