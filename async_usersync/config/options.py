"""The ``sync`` options, merged from ``invocation_defaults`` and the command line as User Sync does:
every option can be set in either place, the command line wins, and combinations User Sync
refuses are refused here with an error naming the option (or the file and key).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence, TypeVar

from async_usersync.config.section import ConfigSection, resolve_path
from async_usersync.engine.rules import AdobeOnlyAction, Strategy
from async_usersync.errors import ConfigError

OPTION_NAMES = (
    "users", "connector", "process_groups", "update_user_info", "adobe_only_user_action", "adobe_only_user_list",
    "adobe_users", "strategy", "exclude_unmapped_users", "user_filter", "test_mode", "ssl_cert_verify", "state_dir",
    "journal_retention",
)

UsersKind = Literal["all", "mapped", "group", "file"]
ConnectorKind = Literal["ldap", "csv", "okta", "adobe_console"]
AdobeUsersKind = Literal["all", "mapped", "group"]
_USERS_KINDS: tuple[UsersKind, ...] = ("all", "mapped", "group", "file")
_ADOBE_USERS_KINDS: tuple[AdobeUsersKind, ...] = ("all", "mapped", "group")
K = TypeVar("K", bound=str)


@dataclass(frozen=True)
class SyncOptions:
    """Every ``sync`` option of User Sync, checked and typed."""

    users: UsersKind = "all"
    user_groups: tuple[str, ...] = ()
    """The directory groups of ``--users group g1,g2``."""
    connector: ConnectorKind = "ldap"
    csv_file: Path | None = None
    """The CSV of directory users (``--users file F`` or ``--connector csv F``)."""
    process_groups: bool = False
    update_user_info: bool = False
    adobe_only_user_action: AdobeOnlyAction = AdobeOnlyAction.PRESERVE
    adobe_only_write_file: Path | None = None
    """The file of ``--adobe-only-user-action write-file F``."""
    adobe_only_user_list: Path | None = None
    adobe_users: AdobeUsersKind = "all"
    adobe_user_groups: tuple[str, ...] = ()
    """The Adobe groups of ``--adobe-users group g1,g2``."""
    strategy: Strategy = Strategy.SYNC
    exclude_unmapped_users: bool = False
    user_filter: re.Pattern[str] | None = None
    test_mode: bool = False
    ssl_cert_verify: bool = True
    state_dir: Path | None = None
    """Our addition (``--state-dir``): the folder of the run lock, last-run record and run history;
    None keeps them beside the config file (``pipeline.run_state``)."""
    journal_retention: float = 90.0
    """Our addition (``--journal-retention DAYS``): how long the journal keeps a run's lines
    (``pipeline.journal``); older ones are pruned when a run starts."""
    named_by: Mapping[str, str] = field(default_factory=dict)
    """How the command line or the file named each option given (``option --state-dir``, ``in F, key
    'invocation_defaults.state_dir'``), for errors found later about its value (an unwritable path)."""
    notes: tuple[str, ...] = ()
    """Warnings about options that were ignored, for the run's log."""


class _Origin:
    """Where an option's value came from, so that errors and relative paths refer to it."""

    def __init__(self, name: str, section: ConfigSection | None) -> None:
        self.name = name
        self.section = section

    def error(self, message: str) -> ConfigError:
        """A ConfigError naming the option: its file and key when it came from ``invocation_defaults``,
        else ``option --name``."""
        if self.section is not None:
            return self.section.error(self.name, message)
        return ConfigError(f"{self.describe()}: {message}")

    def describe(self) -> str:
        """``option --name``, or ``in FILE, key 'invocation_defaults.name'``, as ``error`` names it."""
        if self.section is not None:
            return f"in {self.section.file}, key '{self.section.full_key(self.name)}'"
        return f"option --{self.name.replace('_', '-')}"

    def path(self, value: str) -> Path:
        """``value`` as a path: against the config file that named it, else as given (``~`` expanded)."""
        if self.section is not None:
            return resolve_path(self.section.file, value)
        return Path(value).expanduser()


def merge_options(defaults: ConfigSection, given: Mapping[str, Any]) -> SyncOptions:
    """``given`` holds the command-line values by invocation_defaults name (None or absent = not
    given); a multi-word value is a list of tokens (``["group", "A,B"]``) or one string
    (``"write-file out.csv"``). ``defaults`` is the ``invocation_defaults`` section; an unknown key
    there is an error."""
    unknown = set(given) - set(OPTION_NAMES)
    if unknown:
        raise ConfigError(f"unknown option(s): {', '.join(sorted(unknown))}")
    chosen: dict[str, tuple[Any, _Origin]] = {}
    for name in OPTION_NAMES:
        from_file = defaults.get(name)
        if given.get(name) is not None:
            chosen[name] = (given[name], _Origin(name, None))
        elif from_file is not None:
            chosen[name] = (from_file, _Origin(name, defaults))
    defaults.finish()
    return _build(chosen)


def _build(chosen: Mapping[str, tuple[Any, _Origin]]) -> SyncOptions:
    def flag(name: str, default: bool) -> bool:
        return _flag(*chosen[name]) if name in chosen else default

    notes: list[str] = []
    users, user_groups, users_file = _users(*chosen["users"]) if "users" in chosen else ("all", (), None)
    connector, csv_file = _connector(*chosen["connector"]) if "connector" in chosen else ("ldap", None)
    if users == "file":
        if "connector" in chosen and connector == "csv":
            raise chosen["users"][1].error("'--users file' cannot be combined with '--connector csv': give the file once")
        connector, csv_file = "csv", users_file
    if connector == "okta" and users == "all" and "adobe_only_user_list" not in chosen:
        # As User Sync's Okta connector: it reads groups' members only.
        origin = chosen["users"][1] if "users" in chosen else chosen["connector"][1]
        raise origin.error("the okta connector has no notion of all users, as in User Sync: "
                           "give --users mapped or --users group A,B")
    action, write_file = (_adobe_only_action(*chosen["adobe_only_user_action"]) if "adobe_only_user_action" in chosen
                          else (AdobeOnlyAction.PRESERVE, None))
    adobe_users, adobe_user_groups = _adobe_users(*chosen["adobe_users"]) if "adobe_users" in chosen else ("all", ())
    strategy = _strategy(*chosen["strategy"]) if "strategy" in chosen else Strategy.SYNC
    user_filter = _regex(*chosen["user_filter"]) if "user_filter" in chosen else None
    user_list = _path(*chosen["adobe_only_user_list"]) if "adobe_only_user_list" in chosen else None
    state_dir = _path(*chosen["state_dir"]) if "state_dir" in chosen else None
    journal_retention = _days(*chosen["journal_retention"]) if "journal_retention" in chosen else 90.0
    if user_list is not None:
        origin = chosen["adobe_only_user_list"][1]
        if strategy is Strategy.PUSH:
            raise origin.error("cannot be used with the push strategy, which never handles Adobe-only users")
        if action is AdobeOnlyAction.WRITE_FILE:
            raise origin.error("cannot be used with '--adobe-only-user-action write-file': the list already is such a file")
        if user_filter is not None or users != "all":
            notes.append("--adobe-only-user-list is given: the directory is not read, so --users and --user-filter are ignored")
        user_filter = None
    if strategy is Strategy.PUSH and action is not AdobeOnlyAction.PRESERVE:
        notes.append(f"--adobe-only-user-action {action.value} is ignored with the push strategy, which never reads Adobe users")
    return SyncOptions(
        users=users, user_groups=user_groups, connector=connector, csv_file=csv_file,
        process_groups=flag("process_groups", False), update_user_info=flag("update_user_info", False),
        adobe_only_user_action=action, adobe_only_write_file=write_file, adobe_only_user_list=user_list,
        adobe_users=adobe_users, adobe_user_groups=adobe_user_groups, strategy=strategy,
        exclude_unmapped_users=flag("exclude_unmapped_users", False), user_filter=user_filter,
        test_mode=flag("test_mode", False), ssl_cert_verify=flag("ssl_cert_verify", True), state_dir=state_dir,
        journal_retention=journal_retention, named_by={name: origin.describe() for name, (_, origin) in chosen.items()}, notes=tuple(notes),
    )


def _days(value: Any, origin: _Origin) -> float:
    """A number of days above 0 (``90``, ``0.5``)."""
    try:
        days = float(value)
    except (TypeError, ValueError):
        days = 0.0
    if isinstance(value, bool) or not days > 0 or days == float("inf"):
        raise origin.error(f"expected a number of days above 0, got {value!r}")
    return days


def _tokens(value: Any, origin: _Origin) -> list[str]:
    if isinstance(value, str):
        return value.split(None, 1) or [""]
    if isinstance(value, Sequence) and value and all(isinstance(item, (str, int, float)) for item in value):
        return [str(item) for item in value]
    raise origin.error(f"expected a word or a list of words, got {value!r}")


def _keyword(tokens: list[str], choices: Sequence[K], origin: _Origin) -> K:
    """The choice the first token names (case-insensitive), typed as the choices are."""
    keyword = tokens[0].strip().lower()
    for choice in choices:
        if keyword == choice:
            return choice
    raise origin.error(f"unknown value '{tokens[0]}' (expected {', '.join(choices)})")


def _no_argument(tokens: list[str], keyword: str, origin: _Origin) -> None:
    if len(tokens) > 1:
        raise origin.error(f"'{keyword}' takes no further value, got '{' '.join(tokens[1:])}'")


def _one_argument(tokens: list[str], keyword: str, what: str, origin: _Origin) -> str:
    if len(tokens) != 2 or not tokens[1].strip():
        raise origin.error(f"'{keyword}' needs {what}")
    return tokens[1].strip()


def _group_list(tokens: list[str], keyword: str, origin: _Origin) -> tuple[str, ...]:
    groups = tuple(name.strip() for token in tokens[1:] for name in token.split(",") if name.strip())
    if not groups:
        raise origin.error(f"'{keyword}' needs a comma-separated list of group names")
    return groups


def _users(value: Any, origin: _Origin) -> tuple[UsersKind, tuple[str, ...], Path | None]:
    tokens = _tokens(value, origin)
    kind = _keyword(tokens, _USERS_KINDS, origin)
    if kind == "group":
        return kind, _group_list(tokens, kind, origin), None
    if kind == "file":
        return kind, (), origin.path(_one_argument(tokens, kind, "the path of a CSV file of users", origin))
    _no_argument(tokens, kind, origin)
    return kind, (), None


def _connector(value: Any, origin: _Origin) -> tuple[ConnectorKind, Path | None]:
    tokens = _tokens(value, origin)
    named = _keyword(tokens, ("ldap", "csv", "okta", "adobe_console"), origin)
    kind: ConnectorKind = "csv" if named == "csv" else "okta" if named == "okta" else \
        "adobe_console" if named == "adobe_console" else "ldap"
    if kind == "csv" and len(tokens) > 1:
        return kind, origin.path(_one_argument(tokens, kind, "one CSV file", origin))
    _no_argument(tokens, kind, origin)
    return kind, None


def _adobe_only_action(value: Any, origin: _Origin) -> tuple[AdobeOnlyAction, Path | None]:
    tokens = _tokens(value, origin)
    action = AdobeOnlyAction(_keyword(tokens, [action.value for action in AdobeOnlyAction], origin))
    if action is AdobeOnlyAction.WRITE_FILE:
        return action, origin.path(_one_argument(tokens, action.value, "the path of the file to write", origin))
    _no_argument(tokens, action.value, origin)
    return action, None


def _adobe_users(value: Any, origin: _Origin) -> tuple[AdobeUsersKind, tuple[str, ...]]:
    tokens = _tokens(value, origin)
    kind = _keyword(tokens, _ADOBE_USERS_KINDS, origin)
    if kind == "group":
        return kind, _group_list(tokens, kind, origin)
    _no_argument(tokens, kind, origin)
    return kind, ()


def _strategy(value: Any, origin: _Origin) -> Strategy:
    tokens = _tokens(value, origin)
    strategy = Strategy(_keyword(tokens, ("sync", "push"), origin))
    _no_argument(tokens, strategy.value, origin)
    return strategy


def _regex(value: Any, origin: _Origin) -> re.Pattern[str]:
    if not isinstance(value, str):
        raise origin.error(f"expected a regular expression, got {value!r}")
    try:
        return re.compile(value, re.IGNORECASE)
    except re.error as error:
        raise origin.error(f"not a valid regular expression: {error}") from None


def _path(value: Any, origin: _Origin) -> Path:
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise origin.error(f"expected a file path, got {value!r}")
    return origin.path(str(value).strip())


def _flag(value: Any, origin: _Origin) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("yes", "true", "on", "1"):
        return True
    if text in ("no", "false", "off", "0"):
        return False
    raise origin.error(f"expected true or false, got {value!r}")
