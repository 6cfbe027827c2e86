"""Field checks shared by the action steps. Each returns ``None`` or an ``(errorCode, message)`` pair."""

from __future__ import annotations

import re
from typing import Any

Problem = tuple[str, str]

MAX_EMAIL = 60
MAX_STRING = 250
MAX_GROUP_NAME = 255
_EMAIL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


def is_email(text: str) -> bool:
    """Whether an entry's root is an email (it has an '@') rather than a username."""
    return "@" in text


def check_email(value: Any) -> Problem | None:
    """An email as UMAPI takes it: a string, well formed, at most ``MAX_EMAIL`` (60) characters."""
    if not isinstance(value, str):
        return "error.command.string_expected", "Expected a string for field: email"
    if len(value) > MAX_EMAIL or not _EMAIL.match(value):
        return "error.user.email.invalid", f"Invalid email address: {value}"
    return None


def check_string(field: str, value: Any, max_length: int = MAX_STRING) -> Problem | None:
    """A string of at most ``max_length`` characters (UMAPI's 250 by default)."""
    if not isinstance(value, str):
        return "error.command.string_expected", f"Expected a string for field: {field}"
    if len(value) > max_length:
        return "error.command.string.too_long", f"String too long in command for field: {field}, max length {max_length}"
    return None


def check_country(value: Any) -> Problem | None:
    """A country code as UMAPI takes it: two upper-case letters (ISO 3166 alpha-2)."""
    problem = check_string("country", value, max_length=2)
    if problem is not None:
        return problem
    if not _COUNTRY.match(value):
        return "error.country.invalid", f"Invalid country code: {value}"
    return None


def check_name_list(values: Any, list_key: str, max_names: int) -> Problem | None:
    """One add/remove list: an array of at most ``max_names`` distinct, non-empty names."""
    if not isinstance(values, list):
        return "error.command.add_remove.list_not_array", f"Expected an array for {list_key}"
    if not values:
        return "error.command.add_remove.missing_list", f"Empty list for {list_key}"
    if len(values) > max_names:
        return (
            "error.command.add_remove.list_too_long",
            f"Too many products, users or groups in Add or Remove: max is {max_names}",
        )
    for name in values:
        if not isinstance(name, str) or not name.strip():
            return "error.group.invalid_name", f"Invalid name in {list_key}: {name!r}"
        if len(name) > MAX_GROUP_NAME:
            return "error.command.add_remove.group_or_product_name_too_long", f"Name too long in {list_key}: {name[:40]}..."
    if len(values) > 1:
        lowered = [name.lower() for name in values]
        if len(set(lowered)) != len(lowered):
            duplicate = next(name for position, name in enumerate(values) if name.lower() in lowered[:position])
            kind = {"user": "user", "productConfiguration": "product", "product": "product"}.get(list_key, "group")
            return f"error.command.add_remove.duplicate.{kind}_list", f"Duplicate name in {list_key}: {duplicate}"
    return None


def check_group_name(name: Any) -> Problem | None:
    """A user group name as umapi-client checks it: non-empty, at most 255 characters, no leading '_'."""
    if not isinstance(name, str) or not name.strip() or name.startswith("_") or len(name) > MAX_GROUP_NAME:
        return "error.group.invalid_name", f"Invalid user group name: {name!r}"
    return None
