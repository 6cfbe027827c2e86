"""connector-csv.yml: User Sync's keys and defaults, and errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from async_usersync.config.connector_csv import read_connector_csv
from async_usersync.config.settings import CsvSettings
from async_usersync.errors import ConfigError
from async_usersync.records import IdentityType


def test_without_a_file_user_syncs_defaults_apply() -> None:
    assert read_connector_csv(None) == (CsvSettings(), ())


def test_keys_are_read_and_file_path_is_taken_against_the_file(tmp_path: Path) -> None:
    config = tmp_path / "connector-csv.yml"
    config.write_text("file_path: data/users.tsv\ndelimiter: ';'\nstring_encoding: latin-1\nemail_column_name: mail\n"
                      "user_identity_type: federatedID\n")
    settings, notes = read_connector_csv(config)
    assert settings == CsvSettings(file_path=tmp_path / "data" / "users.tsv", delimiter=";", string_encoding="latin-1",
                                   email_column_name="mail", user_identity_type=IdentityType.FEDERATED_ID)
    assert notes == ()


@pytest.mark.parametrize("text, key, message", [
    ("file_path: a.csv\nemail_colum_name: mail\n", "email_colum_name", "unknown key"),
    ("delimiter: ';;'\n", "delimiter", "a single character"),
    ("string_encoding: klingon\n", "string_encoding", "unknown encoding"),
])
def test_errors_name_the_file_and_the_key(tmp_path: Path, text: str, key: str, message: str) -> None:
    config = tmp_path / "connector-csv.yml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=f"connector-csv.yml, key '{key}': .*{message}"):
        read_connector_csv(config)
