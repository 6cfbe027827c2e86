"""The CSV source against real files."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import yaml

from async_usersync.config.connector_csv import read_connector_csv
from async_usersync.config.settings import UserSelection
from async_usersync.errors import ReadError
from async_usersync.records import IdentityType, UnreadableDirectoryUser
from async_usersync.sources.csv import CsvSource
from tests.sources.helpers import collect

ALL = UserSelection("all")


def csv_source(tmp_path: Path, content: bytes | str, name: str = "users.csv", **keys) -> CsvSource:
    file = tmp_path / name
    file.write_bytes(content.encode("utf8") if isinstance(content, str) else content)
    config = tmp_path / "connector-csv.yml"
    config.write_text(yaml.safe_dump({"file_path": name, **keys}), encoding="utf8")
    return CsvSource(read_connector_csv(config)[0], IdentityType.FEDERATED_ID)


async def test_columns_identity_types_and_relative_path(tmp_path: Path) -> None:
    content = ("email,firstname,lastname,country,groups,type,username,domain\n"
               "ann@example.org,Ann,Lee,us,\"Sales, EU\",enterpriseID,,\n"
               "ben@example.org,Ben,Ode,,,,ben,corp.example.org\n")
    users = await collect(csv_source(tmp_path, content).users(ALL))
    ann, ben = users["ann@example.org"], users["ben@example.org"]
    assert (ann.identity_type, ann.country, ann.groups, ann.username) == (
        IdentityType.ENTERPRISE_ID, "US", {"Sales", "EU"}, "ann@example.org")
    assert (ben.identity_type, ben.username, ben.domain, ben.country) == (
        IdentityType.FEDERATED_ID, "ben", "corp.example.org", None)
    assert ann.source_attributes["groups"] == "Sales, EU"


async def test_bom_tab_delimiter_from_extension_and_multiline_cell(tmp_path: Path) -> None:
    content = "\ufeffemail\tfirstname\tlastname\nzoë@example.org\t\"Zo\në\"\tÅngström\n".encode("utf8")
    users = await collect(csv_source(tmp_path, content, name="users.tsv").users(ALL))
    assert users["zoë@example.org"].firstname == "Zo\në"
    assert users["zoë@example.org"].lastname == "Ångström"


async def test_custom_columns_delimiter_encoding_and_connector_identity_type(tmp_path: Path) -> None:
    content = "mail;given;grp\nrené@example.org;René;A\n".encode("latin-1")
    source = csv_source(tmp_path, content, delimiter=";", string_encoding="latin-1", email_column_name="mail",
                        first_name_column_name="given", groups_column_name="grp", user_identity_type="adobeID")
    users = await collect(source.users(ALL))
    assert users["rené@example.org"].firstname == "René"
    assert users["rené@example.org"].identity_type == IdentityType.ADOBE_ID


async def test_rows_without_email_are_skipped_with_the_line_and_repeats_merge(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.WARNING, "async_usersync.sources")
    content = ("email,firstname,groups\n"
               "ann@example.org,Ann,A\n"
               "not-an-email,X,A\n"
               "ben@example.org,Ben,B\n"
               "ANN@example.org,Other,\"B,C\"\n"
               ",Empty,A\n")
    source = csv_source(tmp_path, content)
    users = await collect(source.users(ALL))
    assert set(users) == {"ann@example.org", "ben@example.org"}
    assert users["ann@example.org"].groups == {"A", "B", "C"}
    assert users["ann@example.org"].firstname == "Ann"
    assert "at line 3 of" in caplog.text and "at line 6 of" in caplog.text
    assert f"Rows line 2 of {source.path} and line 5 of {source.path} have the same email (ANN@example.org)" in caplog.text
    selected = await collect(source.users(UserSelection("group", ("C",))))
    assert set(selected) == {"ann@example.org"}


async def test_a_row_with_an_unusable_value_comes_as_unreadable_naming_line_and_column(tmp_path: Path) -> None:
    content = "email,type,groups\na@example.org,martianID,Other\nb@example.org,,C\nc@example.org,martianID,C\nc@example.org,,D\n"
    users = await collect(csv_source(tmp_path, content).users(UserSelection("group", ("C",))))
    assert set(users) == {"a@example.org", "b@example.org", "c@example.org"}  # unreadable whatever the selection
    unreadable = users["a@example.org"]
    assert isinstance(unreadable, UnreadableDirectoryUser)
    assert unreadable.where == f"at line 2 of {tmp_path / 'users.csv'}"
    assert "column 'type'" in unreadable.problem and "martianID" in unreadable.problem
    assert isinstance(users["c@example.org"], UnreadableDirectoryUser)  # one of its two rows is unreadable


async def test_an_empty_file_is_a_failed_read_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ReadError, match=r"users\.csv is empty: it has no header line"):
        await collect(csv_source(tmp_path, b"").users(ALL))


@pytest.mark.parametrize("content, message", [
    (b"email,firstname\nann@example.org,Ann\nben@example.org,B\xe9n\n", "cannot be decoded as utf8 at line 3"),
    ("mail,firstname\nann@example.org,Ann\n", "has no column 'email'"),
    ("email,firstname\nann@example.org,\"Ann\n", "ends inside a quoted cell that starts at line 2"),
])
async def test_unreadable_files_fail_loudly_before_any_user(tmp_path: Path, content, message: str) -> None:
    source = csv_source(tmp_path, content)
    received = []
    with pytest.raises(ReadError, match=message):
        async for user in source.users(ALL):
            received.append(user)
    assert received == []


async def test_a_missing_file_fails_the_read_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "connector-csv.yml"
    config.write_text("file_path: nowhere.csv\n")
    source = CsvSource(read_connector_csv(config)[0], IdentityType.FEDERATED_ID)
    with pytest.raises(ReadError, match="nowhere.csv does not exist"):
        await collect(source.users(ALL))


async def test_a_large_file_streams_across_chunks(tmp_path: Path) -> None:
    rows = "".join(f"user{number}@example.org,Given{number},G{number % 3}\r\n" for number in range(20000))
    users = await collect(csv_source(tmp_path, "email,firstname,groups\r\n" + rows).users(UserSelection("group", ("G1",))))
    assert len(users) == len([number for number in range(20000) if number % 3 == 1])
    assert users["user19999@example.org"].firstname == "Given19999"


async def test_a_selected_group_no_row_names_is_an_empty_group_with_a_warning(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.WARNING, "async_usersync.sources")
    missing: list[str] = []
    content = "email,groups\nann@example.org,Sales\n"
    users = await collect(csv_source(tmp_path, content).users(UserSelection("mapped", ("Sales", "Design")), missing.append))
    assert list(users) == ["ann@example.org"]
    assert "No row of the CSV file" in caplog.text and "names the group Design" in caplog.text
    assert "group Sales" not in caplog.text
    assert missing == []  # a file cannot tell an emptied group from a missing one: the run history guard decides


async def test_a_cell_over_the_limit_makes_only_its_user_unreadable_naming_line_and_column(tmp_path: Path) -> None:
    """Issue 14: a 1 MB cell stopped the whole read (the csv module's field limit), naming no column."""
    huge = "x" * 1_000_000
    content = ("email,firstname,lastname,groups\n"
               "ann@example.org,Ann,Lee,Sales\n"
               f"ben@example.org,Ben,\"{huge}\",Sales\n"
               f"cy@example.org,{huge},Oh,Sales\n"
               "dee@example.org,Dee,Ray,Sales\n")
    users = await collect(csv_source(tmp_path, content).users(ALL))
    assert set(users) == {"ann@example.org", "ben@example.org", "cy@example.org", "dee@example.org"}
    for email, line, column in (("ben@example.org", 3, "lastname"), ("cy@example.org", 4, "firstname")):
        unreadable = users[email]
        assert isinstance(unreadable, UnreadableDirectoryUser)
        assert unreadable.where == f"at line {line} of {tmp_path / 'users.csv'}"
        assert unreadable.problem == f"column '{column}' holds 1,000,000 characters, over the limit of 131,072"
    assert not isinstance(users["dee@example.org"], UnreadableDirectoryUser)


async def test_an_email_cell_over_the_limit_fails_the_read_naming_line_and_column(tmp_path: Path) -> None:
    content = f"email,firstname\nann@example.org,Ann\n{'x' * 200_000}@example.org,Ben\n"
    with pytest.raises(ReadError, match=r"users\.csv cannot be read at line 3: column 'email' holds 200,012 "
                                        r"characters, over the limit of 131,072, so its user cannot be recognised"):
        await collect(csv_source(tmp_path, content).users(ALL))
