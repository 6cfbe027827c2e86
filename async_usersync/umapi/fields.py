"""UMAPI's documented field limits, checked on each command before it is batched.

One oversized or malformed value makes UMAPI refuse the whole request it travels in (a 1 MB last
name gets a 413 for all ten entries, on every run while the value stays), so a command carrying one
is refused alone, before batching, and its nine would-be batch-mates go out. The limits are those of
UMAPI's action reference (docs ActionsCmds and ErrorRef; ../shared/reference/umapi.md, 3.1):
first and last names, usernames and other strings at most 250 characters, an email at most 60 and
of the form ``local@domain.tld``, a country two upper-case letters. Control characters (NUL
included) are refused in every value we send: no directory attribute legitimately holds one.

Values the org already holds (the entry's root, which names an existing user) are checked for
control characters and the generic length only, so a user Adobe accepted long ago is never locked out.
"""

from __future__ import annotations

import re
from typing import Iterator

from async_usersync.records import CommandError, UserCommand
from async_usersync.umapi.entries import CREATE_STEP

MAX_STRING = 250
"""Names, usernames, domains and other strings (``error.command.string.too_long``)."""
MAX_EMAIL = 60
"""Emails (the 2017 docs said 64; today's say 60)."""
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_COUNTRY = re.compile(r"[A-Z]{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def field_problem(command: UserCommand) -> CommandError | None:
    """The first value of ``command`` that UMAPI's limits refuse, as the error to report for the
    whole command (step: the step holding the value; code: UMAPI's code for that kind of refusal;
    message naming the field), or ``None`` when every value is within them. Pure and cheap: a few
    length checks per command."""
    for step, name, value, kind in _values(command):
        problem = _check(name, value, kind)
        if problem is not None:
            code, why = problem
            return CommandError(step, code, f"{name} {why}; the command was not sent")
    return None


def _values(command: UserCommand) -> Iterator[tuple[str, str, str, str]]:
    """(step, field, value, kind) for every string the command would send."""
    yield "user", "user", command.user, "string"
    if command.domain:
        yield "user", "domain", command.domain, "string"
    create = command.create
    if create is not None:
        step = CREATE_STEP[create.identity_type]
        yield step, "email", create.email, "email"
        for name, value in (("firstname", create.firstname), ("lastname", create.lastname)):
            if value:
                yield step, name, value, "string"
        if create.country:
            yield step, "country", create.country, "country"
    for name, value in command.update.items():
        yield "update", name, value, "email" if name == "email" else "string"
    for step, groups in (("remove", command.remove_groups), ("add", command.add_groups)):
        if groups != "all":
            for group in groups:
                yield step, "group", group, "string"


def _check(name: str, value: str, kind: str) -> tuple[str, str] | None:
    """(UMAPI's error code, what is wrong) for one value, or None."""
    control = _CONTROL.search(value)
    if control is not None:
        return ("error.command.string.illegal_character",
                f"holds the control character U+{ord(control.group()):04X} at position {control.start()}")
    if kind == "email":
        if len(value) > MAX_EMAIL:
            return "error.command.string.too_long", f"is {len(value):,} characters long, max length {MAX_EMAIL}"
        if _EMAIL.fullmatch(value) is None:
            return "error.user.email.invalid", f"is not a valid email address: {value!r}"
        return None
    if kind == "country":
        return None if _COUNTRY.fullmatch(value) else (
            "error.country.invalid", f"must be two upper-case letters (ISO 3166), got {value[:40]!r}")
    if len(value) > MAX_STRING:
        return "error.command.string.too_long", f"is {len(value):,} characters long, max length {MAX_STRING}"
    return None
