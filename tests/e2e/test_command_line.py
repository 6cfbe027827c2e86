"""The command line's User Sync spellings, and the Adobe-only user file's round trip."""

from pathlib import Path

import pytest

from async_usersync.cli.sync import join_multi_token_options, split_option_value
from async_usersync.errors import ConfigError
from async_usersync.pipeline.adobe_only_file import read_adobe_only_users, write_adobe_only_users
from async_usersync.records import AdobeUser, IdentityType


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["sync", "--users", "group", "A,B", "-t"], ["sync", "--users", "group:A,B", "-t"]),
        (["sync", "--users", "group", "A", "B"], ["sync", "--users", "group:A,B"]),
        (["sync", "--users", "group:A,B"], ["sync", "--users", "group:A,B"]),
        (["sync", "--users", "mapped", "--process-groups"], ["sync", "--users", "mapped", "--process-groups"]),
        (["sync", "--adobe-only-user-action", "write-file", "out.csv"], ["sync", "--adobe-only-user-action", "write-file:out.csv"]),
        (["sync", "--connector", "csv", "users.csv", "--users", "all"], ["sync", "--connector", "csv:users.csv", "--users", "all"]),
        (["sync", "--adobe-users", "group", "Design Team"], ["sync", "--adobe-users", "group:Design Team"]),
        (["sandbox", "--users", "3000"], ["sandbox", "--users", "3000"]),
        # the equals form takes the following tokens as well, as User Sync's multi-token options do
        (["sync", "--users=group", "A,B", "-t"], ["sync", "--users", "group:A,B", "-t"]),
        (["sync", "--users=group:A,B"], ["sync", "--users", "group:A,B"]),
        (["sync", "--users=mapped", "--process-groups"], ["sync", "--users", "mapped", "--process-groups"]),
        (["sync", "--adobe-only-user-action=write-file", "out.csv"], ["sync", "--adobe-only-user-action", "write-file:out.csv"]),
        (["sync", "--connector=csv", "users.csv"], ["sync", "--connector", "csv:users.csv"]),
        (["sync", "--adobe-users=group", "Design Team"], ["sync", "--adobe-users", "group:Design Team"]),
        (["sync", "--user-filter=a=b"], ["sync", "--user-filter=a=b"]),
    ],
)
def test_two_token_options_become_one_value(argv: list[str], expected: list[str]) -> None:
    assert join_multi_token_options(argv) == expected


def test_option_values_split_into_user_sync_lists() -> None:
    assert split_option_value("group:A,B") == ["group", "A,B"]
    assert split_option_value("write-file:C:/out.csv") == ["write-file", "C:/out.csv"]
    assert split_option_value("mapped") == ["mapped"]


def test_adobe_only_file_round_trip(tmp_path: Path) -> None:
    users = [
        AdobeUser(IdentityType.FEDERATED_ID, "jdoe", "example.com", "jdoe@example.com", "J", "Doe", "US", frozenset({"G"})),
        AdobeUser(IdentityType.ENTERPRISE_ID, "ann@example.com", None, "ann@example.com", None, None, None, frozenset()),
    ]
    path = tmp_path / "strays.csv"
    assert write_adobe_only_users(path, users) == 2
    assert path.read_text().splitlines()[0] == "type,username,email,domain"
    back = read_adobe_only_users(path, IdentityType.ENTERPRISE_ID)
    assert list(back) == [None]
    assert [(u.identity_type, u.username, u.email, u.domain) for u in back[None]] == [
        (IdentityType.FEDERATED_ID, "jdoe", "jdoe@example.com", "example.com"),
        (IdentityType.ENTERPRISE_ID, "ann@example.com", "ann@example.com", None),
    ]


def test_adobe_only_file_names_the_secondary_org_in_user_syncs_umapi_column(tmp_path: Path) -> None:
    """Issue 16: with a secondary's Adobe-only users the file gets User Sync's ``umapi`` column, and a
    list read back gives each org its users (an org the config does not have is an error)."""
    ann = AdobeUser(IdentityType.ENTERPRISE_ID, "ann@example.com", None, "ann@example.com", None, None, None, frozenset())
    bob = AdobeUser(IdentityType.FEDERATED_ID, "bob", "example.com", "bob@example.com", None, None, None, frozenset())
    path = tmp_path / "strays.csv"
    assert write_adobe_only_users(path, [ann], {"org2": [bob], "org3": []}) == 2
    assert path.read_text().splitlines() == ["type,username,email,domain,umapi", "enterpriseID,ann@example.com,ann@example.com,,",
                                             "federatedID,bob,bob@example.com,example.com,org2"]
    back = read_adobe_only_users(path, IdentityType.ENTERPRISE_ID, frozenset({"org2"}))
    assert {org: [user.email for user in users] for org, users in back.items()} == {None: ["ann@example.com"],
                                                                                  "org2": ["bob@example.com"]}
    with pytest.raises(ConfigError, match=r"strays\.csv.*line 3.*'org2', which is not a secondary org"):
        read_adobe_only_users(path, IdentityType.ENTERPRISE_ID)


def test_adobe_only_list_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "list.tsv"
    path.write_text("type\tusername\temail\tdomain\nfederatedID\tx@example.com\t\t\nnonsenseID\ty@example.com\t\t\n")
    with pytest.raises(ConfigError, match=r"list\.tsv.*line 3.*unknown identity type 'nonsenseID'"):
        read_adobe_only_users(path, IdentityType.FEDERATED_ID)
    path.write_text("name,mail\nx,y\n")
    with pytest.raises(ConfigError, match="must name the columns"):
        read_adobe_only_users(path, IdentityType.FEDERATED_ID)
