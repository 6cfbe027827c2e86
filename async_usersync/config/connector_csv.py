"""connector-csv.yml, read with User Sync's keys and column names into ``CsvSettings``.

The file is optional (User Sync's defaults apply without one). It knows nothing of the command
line: ``--users file F`` / ``--connector csv F`` replace ``file_path`` in ``run_settings``.
"""

from __future__ import annotations

from pathlib import Path

from async_usersync.config.section import ConfigSection, read_config_file, text_encoding
from async_usersync.config.settings import CsvSettings
from async_usersync.records import IdentityType

_COLUMN_KEYS = ("email_column_name", "first_name_column_name", "last_name_column_name", "country_column_name",
                "groups_column_name", "username_column_name", "domain_column_name", "identity_type_column_name")


def read_connector_csv(file: Path | None, encoding: str = "utf8") -> tuple[CsvSettings, tuple[str, ...]]:
    """Reads connector-csv.yml (User Sync's defaults when ``file`` is None): its settings and
    warnings for the run's log. Raises ConfigError naming the file and the key."""
    if file is None:
        return CsvSettings(), ()
    return read_config_file(file, encoding, csv_settings)


def csv_settings(section: ConfigSection) -> CsvSettings:
    """Reads a connector-csv.yml mapping; ``file_path`` is resolved against the file. Raises
    ConfigError naming the file and key."""
    defaults = CsvSettings()
    delimiter: str | None = section.get("delimiter", kind=str)
    if delimiter is not None and len(delimiter) != 1:
        raise section.error("delimiter", f"must be a single character, got {delimiter!r}")
    columns: dict[str, str] = {key: section.get(key, getattr(defaults, key), str) for key in _COLUMN_KEYS}
    user_identity_type: IdentityType | None = section.get("user_identity_type", kind=IdentityType.parse)
    return CsvSettings(
        file_path=section.path("file_path"),
        delimiter=delimiter,
        string_encoding=section.get("string_encoding", "utf8", text_encoding),
        user_identity_type=user_identity_type,
        email_column_name=columns["email_column_name"],
        first_name_column_name=columns["first_name_column_name"],
        last_name_column_name=columns["last_name_column_name"],
        country_column_name=columns["country_column_name"],
        groups_column_name=columns["groups_column_name"],
        username_column_name=columns["username_column_name"],
        domain_column_name=columns["domain_column_name"],
        identity_type_column_name=columns["identity_type_column_name"],
    )
