"""invocation_defaults + command line -> SyncOptions, and the combinations User Sync refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from async_usersync.config import load_run_settings, merge_options
from async_usersync.config.section import ConfigSection
from async_usersync.config.settings import UserSelection
from async_usersync.engine import AdobeOnlyAction, Strategy
from async_usersync.errors import ConfigError

from tests.config.test_user_sync_config import MINIMAL, write_config

CONFIG_FILE = Path("/etc/usersync/user-sync-config.yml")


def defaults(**values: Any) -> ConfigSection:
    return ConfigSection(values, CONFIG_FILE, "invocation_defaults")


def test_nothing_given_means_user_sync_defaults() -> None:
    options = merge_options(defaults(), {})
    assert (options.users, options.connector, options.adobe_users, options.strategy) == ("all", "ldap", "all", Strategy.SYNC)
    assert options.adobe_only_user_action is AdobeOnlyAction.PRESERVE
    assert not (options.process_groups or options.update_user_info or options.test_mode or options.exclude_unmapped_users)
    assert options.ssl_cert_verify and options.user_filter is None


def test_the_command_line_wins_over_invocation_defaults_and_none_means_not_given() -> None:
    section = defaults(users="mapped", process_groups=True, test_mode="yes", strategy="push",
                       adobe_only_user_action=["write-file", "strays.csv"], ssl_cert_verify=False)
    options = merge_options(section, {"users": ["group", "A, B,C"], "process_groups": False, "test_mode": None,
                                      "adobe_only_user_action": None, "strategy": "sync"})
    assert (options.users, options.user_groups) == ("group", ("A", "B", "C"))
    assert options.process_groups is False and options.test_mode is True and options.strategy is Strategy.SYNC
    assert options.adobe_only_user_action is AdobeOnlyAction.WRITE_FILE
    assert options.adobe_only_write_file == Path("/etc/usersync/strays.csv")  # relative to the config file
    assert options.ssl_cert_verify is False


@pytest.mark.parametrize("given, expected", [
    ({"users": ["file", "people.csv"]}, ("file", "csv", Path("people.csv"))),
    ({"users": "file people.csv"}, ("file", "csv", Path("people.csv"))),
    ({"connector": ["csv", "people.csv"]}, ("all", "csv", Path("people.csv"))),
    ({"connector": ["csv"]}, ("all", "csv", None)),
    ({"connector": "LDAP"}, ("all", "ldap", None)),
])
def test_directory_source_choices(given: dict[str, Any], expected: tuple[Any, ...]) -> None:
    options = merge_options(defaults(), given)
    assert (options.users, options.connector, options.csv_file) == expected


def test_user_filter_and_adobe_users_group() -> None:
    options = merge_options(defaults(user_filter=r"a.*@example\.com"), {"adobe_users": ["group", "Apps,Spark"]})
    assert options.user_filter is not None and options.user_filter.fullmatch("ANN@example.com")
    assert (options.adobe_users, options.adobe_user_groups) == ("group", ("Apps", "Spark"))


@pytest.mark.parametrize("from_file, given, message", [
    ({}, {"users": ["file", "a.csv"], "connector": ["csv", "b.csv"]},
     "option --users: '--users file' cannot be combined with '--connector csv'"),
    ({"connector": ["csv", "b.csv"]}, {"users": ["file", "a.csv"]}, "option --users: '--users file' cannot be combined"),
    ({}, {"adobe_only_user_list": "strays.csv", "strategy": "push"},
     "option --adobe-only-user-list: cannot be used with the push strategy"),
    ({"adobe_only_user_action": "write-file out.csv"}, {"adobe_only_user_list": "strays.csv"},
     "option --adobe-only-user-list: cannot be used with '--adobe-only-user-action write-file'"),
    ({}, {"adobe_only_user_action": ["write-file"]}, "option --adobe-only-user-action: 'write-file' needs the path"),
    ({}, {"adobe_only_user_action": ["remove", "now"]}, "option --adobe-only-user-action: 'remove' takes no further value"),
    ({}, {"adobe_only_user_action": "purge"}, "option --adobe-only-user-action: unknown value 'purge' (expected preserve, exclude, "
                                               "write-file, remove-adobe-groups, remove, delete)"),
    ({}, {"users": ["group"]}, "option --users: 'group' needs a comma-separated list of group names"),
    ({}, {"users": "everyone"}, "option --users: unknown value 'everyone'"),
    ({}, {"connector": "okta"}, "option --connector: the okta connector has no notion of all users, as in User Sync"),
    ({}, {"connector": "okta", "users": "all"}, "option --users: the okta connector has no notion of all users"),
    ({}, {"adobe_users": ["mapped", "x"]}, "option --adobe-users: 'mapped' takes no further value"),
    ({}, {"strategy": "pull"}, "option --strategy: unknown value 'pull' (expected sync, push)"),
    ({}, {"user_filter": "(unclosed"}, "option --user-filter: not a valid regular expression"),
    ({}, {"colour": "blue"}, "unknown option(s): colour"),
    ({"process_groups": "sometimes"}, {}, f"in {CONFIG_FILE}, key 'invocation_defaults.process_groups': expected true or false"),
    ({"users": "group"}, {}, f"in {CONFIG_FILE}, key 'invocation_defaults.users': 'group' needs a comma-separated list"),
    ({"connector": "okta"}, {}, f"in {CONFIG_FILE}, key 'invocation_defaults.connector': the okta connector has no notion"),
    ({"config_filename": "x.yml"}, {}, f"in {CONFIG_FILE}, key 'invocation_defaults.config_filename': unknown key"),
])
def test_invalid_options_and_combinations_name_the_option_or_the_key(from_file: dict[str, Any], given: dict[str, Any],
                                                                      message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        merge_options(defaults(**from_file), given)
    assert str(caught.value).startswith(message)


def test_options_that_are_ignored_leave_a_note_for_the_log() -> None:
    options = merge_options(defaults(adobe_only_user_action="delete"), {"strategy": "push"})
    assert options.notes == ("--adobe-only-user-action delete is ignored with the push strategy, which never reads Adobe users",)
    listed = merge_options(defaults(user_filter="a.*"), {"adobe_only_user_list": "strays.csv", "users": "mapped"})
    assert listed.user_filter is None and listed.adobe_only_user_list == Path("strays.csv")
    assert "--users and --user-filter are ignored" in listed.notes[0]


# --- the whole run's settings -------------------------------------------------------------------

def test_run_settings_turn_options_into_engine_rules_and_group_lists(tmp_path: Path) -> None:
    path = write_config(tmp_path, directory_users={**MINIMAL["directory_users"], "group_sync_options": {"auto_create": True}},
                        invocation_defaults={"process_groups": True, "adobe_users": "mapped"})
    settings = load_run_settings(path, {"users": ["group", "Staff"], "adobe_only_user_action": "remove"})
    rules = settings.rules
    assert rules.directory_group_filter == {"staff"} and rules.process_groups
    assert rules.adobe_only_action is AdobeOnlyAction.REMOVE
    assert settings.selection == UserSelection("group", ("Staff", "staff"))
    assert settings.adobe_groups_to_read == ("All Apps", "Acrobat", "Spark")
    assert settings.user_groups_wanted == ("All Apps", "Acrobat", "Spark")
    pushed = load_run_settings(path, {"strategy": "push", "adobe_users": "all"})
    assert pushed.user_groups_wanted == () and pushed.adobe_groups_to_read is None
    assert pushed.selection == UserSelection("all", ("Staff", "staff"))


@pytest.mark.parametrize("config_changes, given, key, message", [
    # a new CSV admin's first run said the ldap connector was "selected", which they never did
    ({"directory_users": {"connectors": {"csv": "c.yml"}}}, {}, "directory_users.connectors.ldap",
     "the ldap connector, the default when neither --connector nor --users file is given, has no config "
     "file here (this file names: csv; choose one with --connector, e.g. --connector csv FILE)"),
    ({"directory_users": {"connectors": {"csv": "c.yml"}}}, {"connector": ["okta"], "users": ["group", "Staff"]}, "directory_users.connectors.okta",
     "the okta connector (option --connector) has no config file here (this file names: csv; "),
    ({"directory_users": {"connectors": {"ldap": "l.yml"}}}, {"users": "mapped"}, "directory_users.groups",
     "'--users mapped' needs a group mapping"),
    ({"directory_users": {"connectors": {"ldap": "l.yml"}}}, {"adobe_users": "mapped"}, "directory_users.groups",
     "'--adobe-users mapped' needs a group mapping"),
])
def test_run_settings_refuse_options_the_config_cannot_serve(tmp_path: Path, config_changes: dict[str, Any],
                                                             given: dict[str, Any], key: str, message: str) -> None:
    path = write_config(tmp_path, **config_changes)
    with pytest.raises(ConfigError) as caught:
        load_run_settings(path, given)
    assert (caught.value.file, caught.value.key) == (str(path), key)
    assert message in str(caught.value)


def test_csv_connector_needs_no_config_file(tmp_path: Path) -> None:
    path = write_config(tmp_path, directory_users={"connectors": {}})
    settings = load_run_settings(path, {"users": ["file", str(tmp_path / "people.csv")]})
    assert settings.options.connector == "csv" and settings.options.csv_file == tmp_path / "people.csv"
    assert yaml.safe_load(path.read_text())["directory_users"] == {"connectors": {}}
