"""The CSV of Adobe-only users: written by ``--adobe-only-user-action write-file F`` and read back by
``--adobe-only-user-list F``, so one run's output can drive a later run.

Columns: ``type,username,email,domain``, and, as User Sync writes it when a secondary (trustee) org
has Adobe-only users, ``umapi``: the secondary's name, empty for the primary. As in User Sync's CSV
files, a ``.csv`` name means comma separated, any other name tab separated.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import AbstractSet, Iterable, Mapping

from async_usersync.errors import ConfigError
from async_usersync.files import owner_only_opener
from async_usersync.records import AdobeUser, IdentityType

COLUMNS = ("type", "username", "email", "domain")
UMAPI_COLUMN = "umapi"


def delimiter_for(path: Path) -> str:
    """User Sync's rule for its Adobe-only user files: comma for ``.csv``, else tab."""
    return "," if path.suffix.lower() == ".csv" else "\t"


def write_adobe_only_users(path: Path, users: Iterable[AdobeUser],
                           secondaries: Mapping[str, Iterable[AdobeUser]] | None = None) -> int:
    """Writes the primary's Adobe-only ``users`` and each secondary org's to ``path`` (replacing it)
    and returns how many rows were written. The ``umapi`` column is there only when a secondary has
    a user, as User Sync writes it."""
    rows: list[tuple[str | None, AdobeUser]] = [(None, user) for user in users]
    rows += [(org, user) for org, org_users in (secondaries or {}).items() for user in org_users]
    with_org = any(org is not None for org, _ in rows)
    try:
        with open(path, "w", encoding="utf8", newline="", opener=owner_only_opener) as stream:
            writer = csv.writer(stream, delimiter=delimiter_for(path))
            writer.writerow(COLUMNS + (UMAPI_COLUMN,) * with_org)
            for org, user in rows:
                writer.writerow((user.identity_type.value, user.username, user.email, user.domain or "")
                                + (org or "",) * with_org)
    except OSError as error:
        raise ConfigError(f"cannot write the Adobe-only user file: {error.strerror}", file=path) from None
    return len(rows)


def read_adobe_only_users(path: Path, default_identity_type: IdentityType,
                          secondaries: AbstractSet[str] = frozenset()) -> dict[str | None, list[AdobeUser]]:
    """The users listed in ``path``, with no groups (their groups are not read), by org: None for the
    primary (no or an empty ``umapi`` cell), else the secondary it names, one of ``secondaries``.

    A row without ``type`` takes ``default_identity_type``; a row needs an email or a username; an
    org that is not a secondary of the config is an error. Errors name the file and the line.
    """
    try:
        with path.open(encoding="utf8", newline="") as stream:
            reader = csv.DictReader(stream, delimiter=delimiter_for(path))
            header = {name.strip().lower() for name in reader.fieldnames or ()}
            if not header & {"email", "username"}:
                raise ConfigError("the first line must name the columns: type,username,email,domain", file=path)
            listed: dict[str | None, list[AdobeUser]] = {}
            for row in reader:
                if any(row.values()):
                    org, user = _user_from_row(path, reader.line_num, row, default_identity_type, secondaries)
                    listed.setdefault(org, []).append(user)
            return listed
    except FileNotFoundError:
        raise ConfigError("file not found", file=path) from None
    except UnicodeDecodeError:
        raise ConfigError("the file is not UTF-8 text", file=path) from None
    except OSError as error:
        raise ConfigError(f"cannot read the file: {error.strerror}", file=path) from None


def _user_from_row(path: Path, line: int, row: dict[str | None, str | None], default_identity_type: IdentityType,
                   secondaries: AbstractSet[str]) -> tuple[str | None, AdobeUser]:
    values = {str(key).strip().lower(): (value or "").strip() for key, value in row.items() if key is not None}
    org = values.get(UMAPI_COLUMN) or None
    if org is not None and org not in secondaries:
        raise ConfigError(f"line {line}: the umapi column names '{org}', which is not a secondary org of the config",
                          file=path)
    username, email, domain = values.get("username", ""), values.get("email", ""), values.get("domain", "")
    if not (username or email):
        raise ConfigError(f"line {line}: a user needs an email or a username", file=path)
    try:
        identity_type = IdentityType.parse(values["type"]) if values.get("type") else default_identity_type
    except ValueError as error:
        raise ConfigError(f"line {line}: {error}", file=path) from None
    if not email and "@" in username:
        email = username
    return org, AdobeUser(
        identity_type=identity_type,
        username=username or email,
        domain=domain or None,
        email=email,
        firstname=None,
        lastname=None,
        country=None,
        groups=frozenset(),
    )
