"""The CSV directory source (connector-csv.yml), read as a stream with aiofiles.

Rows that repeat an email (compared case-insensitively) are one user whose groups are merged;
the first row gives the other values. A file without even a header line is a failed read. To stream and still merge, the file is read twice: a
first pass keeps only the set of repeated emails, the second yields every other user at once
and the repeated ones, merged, at the end. Memory holds emails, not users.
"""

from __future__ import annotations

import codecs
import csv
from contextlib import aclosing
from dataclasses import replace
from typing import AsyncGenerator

import aiofiles

from async_usersync.config.settings import CsvSettings, UserSelection
from async_usersync.errors import ConfigError, ReadError
from async_usersync.records import DirectoryRecord, IdentityType, UnreadableDirectoryUser
from async_usersync.sources.base import LOG, EmailCheck, MissingGroupHandler, build_user

Row = dict[str, str]
CHUNK_BYTES = 1 << 16
FIRST_ROWS = 10
"""Rows ``first_page`` reads."""
CELL_LIMIT = 131_072
"""The longest cell read (characters): the csv module's default field limit, which User Sync read
with. A longer cell makes its row's user unreadable (its email, username or domain: the read fails);
past it, an open quote is taken for a stray one."""


class CsvSource:
    """Users from a CSV (or tab-separated) file."""

    def __init__(self, settings: CsvSettings, default_identity_type: IdentityType) -> None:
        if settings.file_path is None:
            raise ConfigError("no CSV file given: set file_path in connector-csv.yml or use --users file FILE")
        self.settings = settings
        self.path = settings.file_path
        self.identity_type = settings.user_identity_type or default_identity_type

    async def users(self, selection: UserSelection, on_missing_group: MissingGroupHandler | None = None
                    ) -> AsyncGenerator[DirectoryRecord, None]:
        """All rows' users, or (mapped/group) those in one of the selection's groups; a row that
        cannot be built comes whatever the selection (as an UnreadableDirectoryUser).

        A file has no group objects, so a selected group that no row names is an empty group, not
        a missing one: it is logged as a warning and never given to ``on_missing_group`` (else a
        group that really emptied could never lose its Adobe groups). The run history guard holds
        back the removals of a mapped group that had members in the last successful run."""
        repeated, groups_named = await self._first_pass()
        for name in selection.groups:
            if name not in groups_named:
                LOG.warning("No row of the CSV file %s names the group %s", self.path, name)
        held: dict[str, DirectoryRecord] = {}
        wanted = set(selection.groups)
        email_check, built = EmailCheck(f"the column '{self.settings.email_column_name}' of {self.path}"), 0
        async with aclosing(self._rows()) as stream:
            async for line, row, long_column in stream:
                user = self._to_user(line, row, long_column, email_check)
                if user is None:
                    continue
                built += 1
                key = user.email.casefold()
                if key in repeated:
                    first = held.get(key)
                    if first is not None:
                        LOG.warning("Rows %s and %s have the same email (%s): they are taken as one user, with the "
                                    "groups of both", _origin(first), _origin(user), user.email)
                    held[key] = _merged(first, user)
                    continue
                if isinstance(user, UnreadableDirectoryUser) or selection.kind == "all" or user.groups & wanted:
                    yield user
        for user in held.values():
            if isinstance(user, UnreadableDirectoryUser) or selection.kind == "all" or user.groups & wanted:
                yield user
        email_check.raise_if_every_entry_skipped(built)

    async def first_page(self, rows: int = FIRST_ROWS) -> list[DirectoryRecord]:
        """Opens the file, checks its header and builds the users of its first ``rows`` rows: a
        probe of the file, not a read of the directory (repeated emails are not merged). Raises
        ReadError as ``users`` does."""
        users: list[DirectoryRecord] = []
        async with aclosing(self._rows()) as stream:
            read = 0
            async for line, row, long_column in stream:
                user = self._to_user(line, row, long_column)
                if user is not None:
                    users.append(user)
                read += 1
                if read == rows:
                    break
        return users

    async def _first_pass(self) -> tuple[set[str], set[str]]:
        """The repeated emails (folded) and every group name the rows give."""
        seen: set[str] = set()
        repeated: set[str] = set()
        groups: set[str] = set()
        email_column, groups_column = self.settings.email_column_name, self.settings.groups_column_name
        async with aclosing(self._rows()) as stream:
            async for _, row, _ in stream:
                key = (row.get(email_column) or "").strip().casefold()
                if key in seen:
                    repeated.add(key)
                seen.add(key)
                groups.update(_group_names(row.get(groups_column)))
        return repeated, groups

    def _to_user(self, line: int, row: Row, long_column: str | None,
                 email_check: EmailCheck | None = None) -> DirectoryRecord | None:
        """The row's user (None, noted in ``email_check``, for a row without a valid email);
        unreadable when ``long_column`` holds a cell over ``CELL_LIMIT``. Raises
        ReadError when that column is the email, username or domain (the Adobe account cannot be
        recognised, so the read is incomplete)."""
        settings = self.settings
        groups = frozenset(_group_names(row.get(settings.groups_column_name)))
        origin = f"line {line} of {self.path}"
        problem = None
        if long_column is not None:
            problem = (f"column '{long_column}' holds {len(row[long_column]):,} characters, over the limit of "
                       f"{CELL_LIMIT:,}")
            if long_column in (settings.email_column_name, settings.username_column_name, settings.domain_column_name):
                raise ReadError(f"the CSV file {self.path} cannot be read at line {line}: {problem}, so its user "
                                "cannot be recognised")
        return build_user(
            f"at {origin}", identity_text=row.get(settings.identity_type_column_name),
            identity_field=f"column '{settings.identity_type_column_name}'", default_identity_type=self.identity_type,
            email=row.get(settings.email_column_name), username=row.get(settings.username_column_name),
            domain=row.get(settings.domain_column_name), firstname=_cell(row, settings.first_name_column_name),
            lastname=_cell(row, settings.last_name_column_name), country=row.get(settings.country_column_name),
            groups=groups, source_attributes=row, origin=origin, problem=problem, email_check=email_check,
        )

    async def _rows(self) -> AsyncGenerator[tuple[int, Row, str | None], None]:
        """(line number, row by column name, the column of a cell over ``CELL_LIMIT`` or None) for
        each record after the header, as the file streams."""
        header: list[str] | None = None
        async with aclosing(self._records()) as stream:
            async for line, cells, long_cell in stream:
                if header is None:
                    header = [name.strip() for name in cells]
                    if self.settings.email_column_name not in header:
                        raise ReadError(f"the CSV file {self.path} has no column '{self.settings.email_column_name}' "
                                        f"(its columns: {', '.join(header)}); {self._header_remedy(header)}")
                    continue
                if not any(cell.strip() for cell in cells):
                    continue
                # A cell beyond the header's columns is dropped, as every such cell is.
                long_column = header[long_cell] if long_cell is not None and long_cell < len(header) else None
                yield line, dict(zip(header, cells)), long_column
        if header is None:
            raise ReadError(f"the CSV file {self.path} is empty: it has no header line, so it cannot be told "
                            "from a failed export")

    def _delimiter(self) -> str:
        return self.settings.delimiter or ("," if self.path.suffix.lower() == ".csv" else "\t")

    def _header_remedy(self, header: list[str]) -> str:
        """What to set when the header lacks the email column: ``delimiter`` when the header splits
        on another usual separator into names that include it, else ``email_column_name``."""
        email_column, delimiter = self.settings.email_column_name, self._delimiter()
        for other in (",", ";", "\t", "|"):
            if other != delimiter and any(email_column in (name.strip() for name in cell.split(other)) for cell in header):
                return (f"the header looks separated by {other!r}, not {delimiter!r}: set delimiter: {other!r} "
                        "in connector-csv.yml")
        return "set email_column_name in connector-csv.yml"

    async def _records(self) -> AsyncGenerator[tuple[int, list[str], int | None], None]:
        """CSV records with the line each starts on and the index of a cell over ``CELL_LIMIT`` (or
        None); a quoted cell may span lines, up to ``CELL_LIMIT``: past it, a stray quote is reported
        at the line it opens, without reading on."""
        delimiter = self._delimiter()
        limit = CELL_LIMIT
        start = 1
        pending: list[str] = []
        pending_quotes = pending_size = 0
        async with aclosing(self._lines()) as stream:
            async for line_number, text in stream:
                if not pending:
                    start = line_number
                pending.append(text)
                pending_quotes += text.count('"')
                pending_size += len(text)
                if pending_quotes % 2:  # inside a quoted cell
                    if pending_size > limit:
                        raise ReadError(f"the CSV file {self.path} has a quote at line {start} that is not closed "
                                        f"within {limit:,} characters: a stray quote?")
                    continue
                record = "".join(pending)
                pending.clear()
                pending_quotes = pending_size = 0
                try:
                    cells = _parse(record, delimiter)
                except (csv.Error, StopIteration) as error:
                    raise ReadError(f"the CSV file {self.path} is malformed at line {start}: {error}") from None
                long_cell = None
                if len(record) > limit:  # only then can a cell be over the limit
                    long_cell = next((index for index, cell in enumerate(cells) if len(cell) > limit), None)
                yield start, cells, long_cell
        if pending:
            raise ReadError(f"the CSV file {self.path} ends inside a quoted cell that starts at line {start}")

    async def _lines(self) -> AsyncGenerator[tuple[int, str], None]:
        """Numbered lines (ends kept), decoded from large chunks: aiofiles costs a thread hop per
        call, so one per line would be slow."""
        encoding = self.settings.string_encoding
        if codecs.lookup(encoding).name == "utf-8":
            encoding = "utf-8-sig"  # accepts a byte-order mark
        decoder = codecs.getincrementaldecoder(encoding)()
        line_number = 0
        rest = ""
        try:
            async with aiofiles.open(self.path, "rb") as stream:
                while True:
                    chunk = await stream.read(CHUNK_BYTES)
                    final = not chunk
                    try:
                        text = rest + decoder.decode(chunk, final=final)
                    except UnicodeDecodeError as error:
                        before = rest + chunk[:error.start].decode(encoding, "replace")
                        raise ReadError(f"the CSV file {self.path} cannot be decoded as {self.settings.string_encoding} "
                                        f"at line {line_number + 1 + before.count(chr(10))}: {error.reason}; "
                                        "set string_encoding in connector-csv.yml") from None
                    pieces = text.split("\n")
                    rest = pieces.pop()  # the unfinished last line
                    for piece in pieces:
                        line_number += 1
                        yield line_number, piece + "\n"
                    if final:
                        if rest:
                            yield line_number + 1, rest
                        return
        except FileNotFoundError:
            raise ReadError(f"the CSV file {self.path} does not exist") from None
        except OSError as error:
            raise ReadError(f"the CSV file {self.path} cannot be read: {error.strerror or error}") from None


def _parse(record: str, delimiter: str) -> list[str]:
    """The cells of one whole record. The csv module refuses a cell over its (process-wide) field
    limit; a record longer than ``CELL_LIMIT`` is already in memory, so it is parsed under a limit
    of its own length, set and restored around this call, which does not yield to the event loop."""
    if len(record) <= CELL_LIMIT:
        return next(csv.reader([record], delimiter=delimiter, strict=True))
    previous = csv.field_size_limit(max(len(record), csv.field_size_limit()))
    try:
        return next(csv.reader([record], delimiter=delimiter, strict=True))
    finally:
        csv.field_size_limit(previous)


def _group_names(cell: str | None) -> list[str]:
    return [name.strip() for name in (cell or "").split(",") if name.strip()]


def _merged(first: DirectoryRecord | None, user: DirectoryRecord) -> DirectoryRecord:
    """Two rows with one email: the first row's values with both rows' groups; a row that could
    not be built makes the person unreadable."""
    if first is None or isinstance(first, UnreadableDirectoryUser):
        return user if first is None else first
    if isinstance(user, UnreadableDirectoryUser):
        return user
    return replace(first, groups=first.groups | user.groups)


def _origin(user: DirectoryRecord) -> str:
    """Where a row's user came from: ``line N of FILE``."""
    return user.where.removeprefix("at ") if isinstance(user, UnreadableDirectoryUser) else user.origin


def _cell(row: Row, column: str) -> str | None:
    value = row.get(column)
    return value.strip() if value and value.strip() else None


