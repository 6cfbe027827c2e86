"""user-sync-config.yml: what is read, and the error a user sees for each kind of mistake."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from async_usersync.config import load_run_settings, load_sync_config, write_example_config
from async_usersync.config.section import load_yaml
from async_usersync.config.settings import AdobeConsoleSettings, CsvSettings, LdapSettings, OktaSettings, UserSelection
from async_usersync.config.user_sync_config import log_settings
from async_usersync.engine import AdobeOnlyLimit
from async_usersync.errors import ConfigError, ExitCode
from async_usersync.logs.stream import streaming_logs
from async_usersync.records import IdentityType

MINIMAL: dict[str, Any] = {
    "adobe_users": {"connectors": {"umapi": "connector-umapi.yml"}},
    "directory_users": {
        "connectors": {"ldap": "connectors/connector-ldap.yml"},
        "groups": [{"directory_group": "Staff", "adobe_groups": ["All Apps", "Acrobat"]},
                   {"directory_group": "staff", "adobe_groups": ["ACROBAT", "Spark", "spark"]}],
    },
    "limits": {"max_adobe_only_users": 10},
}


CONNECTOR_FILES = {
    "connector-umapi.yml": "enterprise:\n  org_id: o@AdobeOrg\n  client_id: the-client\n  client_secret: the-secret\n",
    "connectors/connector-ldap.yml": "host: ldap://ldap.example.org\nbase_dn: dc=example,dc=org\n",
}
"""The connector files MINIMAL names, as small as they can be."""


def write_config(folder: Path, **changes: Any) -> Path:
    """MINIMAL with top-level sections replaced or removed (value None), written to folder with
    ``CONNECTOR_FILES``."""
    for name, text in CONNECTOR_FILES.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    data = copy.deepcopy(MINIMAL)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path = folder / "user-sync-config.yml"
    path.write_text(yaml.safe_dump(data), encoding="utf8")
    return path


def with_section(section: str, **keys: Any) -> dict[str, Any]:
    return {section: {**MINIMAL.get(section, {}), **keys}}


def test_a_minimal_config_is_read_with_user_sync_defaults(tmp_path: Path) -> None:
    config = load_sync_config(write_config(tmp_path))
    assert config.adobe.umapi_file == tmp_path / "connector-umapi.yml"
    assert config.directory.connector_files == {"ldap": tmp_path / "connectors" / "connector-ldap.yml"}
    assert config.directory.mapping.targets_by_directory_group == {"staff": ("All Apps", "Acrobat", "Spark")}
    assert config.directory.mapped_directory_groups == ("Staff", "staff")
    assert config.directory.user_identity_type is IdentityType.ENTERPRISE_ID
    assert config.adobe.update_attributes == {"firstname", "lastname", "email"}
    assert config.limit == AdobeOnlyLimit(count=10)


def test_the_full_example_config_loads_and_its_connector_files_parse(tmp_path: Path) -> None:
    written = write_example_config(tmp_path)
    assert sorted(path.name for path in written) == [
        "connector-adobe-console.yml", "connector-csv.yml", "connector-ldap.yml", "connector-okta.yml",
        "connector-umapi.yml", "extension-config.yml", "user-sync-config.yml"]
    settings = load_run_settings(tmp_path / "user-sync-config.yml", {})
    assert settings.options.users == "mapped" and settings.options.process_groups
    assert settings.selection == UserSelection("mapped", ("Adobe Photoshop Users", "Adobe Illustrator Users"))
    config = settings.config
    assert config.directory.default_country_code == "US"
    assert config.adobe.exclusions.identity_types == {IdentityType.ADOBE_ID}
    assert isinstance(settings.directory, LdapSettings) and settings.umapi.org_id and settings.logging == config.logging
    from_csv = load_run_settings(tmp_path / "user-sync-config.yml", {"connector": ["csv", str(tmp_path / "users.csv")]})
    assert isinstance(from_csv.directory, CsvSettings)
    from_console = load_run_settings(tmp_path / "user-sync-config.yml", {"connector": ["adobe_console"]})
    assert isinstance(from_console.directory, AdobeConsoleSettings)
    assert from_console.directory.umapi.org_id == "SOURCE_ORG_ID@AdobeOrg" and from_console.directory.umapi.retries == 4
    assert from_console.directory.identity_type_filter is None
    from_okta = load_run_settings(tmp_path / "user-sync-config.yml", {"connector": "okta"})
    assert isinstance(from_okta.directory, OktaSettings) and from_okta.directory.host == "https://example.okta.com"
    assert settings.notes == from_csv.notes == from_console.notes == from_okta.notes == ()  # loads unchanged: not even a warning
    for file in written:
        assert isinstance(yaml.safe_load(file.read_text()), dict)
    with pytest.raises(ConfigError, match="already exists"):
        write_example_config(tmp_path)


@pytest.mark.parametrize("changes, key, message", [
    ({"adobe_users": None}, "adobe_users", "this section is required"),
    ({"limits": {"group_removals_only": True}}, "limits.max_adobe_only_users", "a value is required"),
    ({"limits": {"max_adobe_only_users": "ten"}}, "limits.max_adobe_only_users", "expected a whole number or a percentage"),
    ({"limits": {"max_adobe_only_users": "150%"}}, "limits.max_adobe_only_users", "at most 100%"),
    ({"limits": {"max_adobe_only_users": 5, "max_strays": 3}}, "limits.max_strays", "unknown key"),
    ({"limits": {"max_adobe_only_users": 5, "max_shrink": 20}}, "limits.max_shrink", "a share from 0 to 1"),
    ({"limits": {"max_adobe_only_users": 5, "max_shrink": "120%"}}, "limits.max_shrink", "a percentage up to 100%"),
    ({"limits": {"max_adobe_only_users": 5, "max_shrink": "a fifth"}}, "limits.max_shrink", "such as '20%'"),
    ({"colour": "blue"}, "colour", "unknown key"),
    ({"dashboard": {"owning": "x"}}, "dashboard", "User Sync 1.x section"),
    ({"post_sync": {"modules": ["sign_sync"]}}, "post_sync", "Sign Sync (post_sync) is not supported"),
    (with_section("directory_users", user_identity_type="googleID"), "directory_users.user_identity_type", "unknown identity type"),
    (with_section("directory_users", default_country_code="USA"), "directory_users.default_country_code", "two-letter"),
    (with_section("directory_users", groups=[{"directory_group": "Staff", "adobe_groups": ["org2::Apps"]}]),
     "directory_users.groups[0].adobe_groups", "'org2::Apps' names the org 'org2', which is not a secondary org"),
    (with_section("directory_users", additional_groups=[{"source": "ACL-(.+)", "target": r"org3::Grp-\1"}]),
     "directory_users.additional_groups[0].target", "not a secondary org"),
    (with_section("directory_users", groups=[{"directory_group": "Staff", "adobe_groups": ["_org_admin"]}]),
     "directory_users.groups[0].adobe_groups", "cannot be assigned"),
    (with_section("directory_users", groups=[{"adobe_groups": ["Apps"]}]), "directory_users.groups[0].directory_group",
     "a value is required"),
    (with_section("directory_users", groups=[{"directory_group": "Staff", "adobe_group": ["Apps"]}]),
     "directory_users.groups[0].adobe_group", "unknown key"),
    (with_section("directory_users", additional_groups=[{"source": "ACL-(.+", "target": "x"}]),
     "directory_users.additional_groups[0].source", "not a valid regular expression"),
    (with_section("directory_users", additional_groups=[{"source": "ACL-(.+)", "target": r"Grp-\2"}]),
     "directory_users.additional_groups[0].source", "not a valid regular expression"),
    (with_section("directory_users", connectors={"ldap": ["a.yml", "b.yml"]}), "directory_users.connectors.ldap",
     "several files"),
    (with_section("directory_users", connectors={"google": "g.yml"}), "directory_users.connectors.google", "unknown key"),
    (with_section("directory_users", group_sync_options={"auto_create": "maybe"}),
     "directory_users.group_sync_options.auto_create", "expected true or false"),
    ({"adobe_users": {"connectors": {"umapi": [{"org2": "connector-org2.yml"}, "connector-umapi.yml"]}}},
     "adobe_users.connectors.umapi", "'connector-umapi.yml' comes after a secondary org, so it has no org name"),
    ({"adobe_users": {"connectors": {"umapi": ["a.yml", {"org2": "b.yml"}, "c.yml"]}}},
     "adobe_users.connectors.umapi", "'c.yml' comes after a secondary org"),
    ({"adobe_users": {"connectors": {"umapi": [{"org2": "connector-org2.yml"}]}}},
     "adobe_users.connectors.umapi", "exactly one connector file for the primary org (got 0)"),
    ({"adobe_users": {"connectors": {"umapi": ["a.yml", {"org2": "b.yml"}, {"org2": "c.yml"}]}}},
     "adobe_users.connectors.umapi", "'org2' is listed twice"),
    ({"adobe_users": {"connectors": {"umapi": ["a.yml", {"org2": {"file": "b.yml"}}]}}},
     "adobe_users.connectors.umapi", "secondary org 'org2': expected the path of its connector file"),
    ({"adobe_users": {"connectors": {}}}, "adobe_users.connectors.umapi", "a value is required"),
    (with_section("adobe_users", exclude_identity_types=["robotID"]), "adobe_users.exclude_identity_types", "unknown identity type"),
    (with_section("adobe_users", exclude_users=["[a-"]), "adobe_users.exclude_users", "not a valid regular expression"),
    (with_section("adobe_users", exclude_adobe_groups=["org2::Admins"]), "adobe_users.exclude_adobe_groups", "primary org"),
    (with_section("adobe_users", update_attributes=["firstname", "country"]), "adobe_users.update_attributes",
     "unknown attribute(s) country"),
])
def test_config_errors_name_the_file_and_the_key(tmp_path: Path, changes: dict[str, Any], key: str, message: str) -> None:
    path = write_config(tmp_path, **changes)
    with pytest.raises(ConfigError) as caught:
        load_sync_config(path)
    error = caught.value
    assert (error.file, error.key) == (str(path), key)
    assert message in str(error)
    assert str(error).startswith(f"in {path}, key '{key}': ")
    assert error.exit_code is ExitCode.CONFIG_ERROR


def test_percentage_limit_and_exclusions_are_read(tmp_path: Path) -> None:
    path = write_config(tmp_path, limits={"max_adobe_only_users": "12.5%", "group_removals_only": "yes"},
                        adobe_users={**MINIMAL["adobe_users"], "exclude_adobe_groups": ["_org_admin", "Keep Out"],
                                     "exclude_users": [".*@partner\\.com"], "exclude_identity_types": ["adobe_id"],
                                     "update_attributes": ["Username"]})
    config = load_sync_config(path)
    assert config.limit == AdobeOnlyLimit(count=None, percent=12.5, group_removals_only=True)
    assert str(config.limit) == "12.5%"
    exclusions = config.adobe.exclusions
    assert exclusions.groups == {"_org_admin", "keep out"}
    assert exclusions.identity_types == {IdentityType.ADOBE_ID}
    assert exclusions.username_patterns[0].fullmatch("Bob@PARTNER.com")
    assert config.adobe.update_attributes == {"username"}


def test_secondary_orgs_are_read_with_user_sync_grammar(tmp_path: Path) -> None:
    """A list: the plain string is the primary's file, each ``{name: file}`` a secondary; ``name::Group``
    in ``groups`` and ``additional_groups`` targets goes to that org (issue 16)."""
    (tmp_path / "connector-org2.yml").write_text(CONNECTOR_FILES["connector-umapi.yml"].replace("o@", "o2@"))
    (tmp_path / "connector-org3.yml").write_text(CONNECTOR_FILES["connector-umapi.yml"].replace("o@", "o3@"))
    (tmp_path / "connector-csv.yml").write_text("file_path: users.csv\n")
    path = write_config(
        tmp_path,
        adobe_users={"connectors": {"umapi": ["connector-umapi.yml", {"org2": "connector-org2.yml"},
                                             {"org3": ["connector-org3.yml"]}]}},
        directory_users={**MINIMAL["directory_users"], "connectors": {"csv": "connector-csv.yml"},
                         "groups": [{"directory_group": "Staff", "adobe_groups": ["All Apps", "org2::Acrobat", "org3::Spark"]},
                                    {"directory_group": "Design", "adobe_groups": ["org2::Photoshop"]}],
                         "additional_groups": [{"source": "ACL-(.+)", "target": r"org3::ACL-Grp-\1"}]})
    config = load_sync_config(path)
    assert config.adobe.umapi_file == tmp_path / "connector-umapi.yml"
    assert config.adobe.secondary_umapi_files == {"org2": tmp_path / "connector-org2.yml",
                                                  "org3": tmp_path / "connector-org3.yml"}
    directory = config.directory
    assert directory.mapping.targets_by_directory_group == {"staff": ("All Apps",), "design": ()}
    assert directory.mapping.additional == ()
    org2, org3 = directory.secondary_mappings["org2"], directory.secondary_mappings["org3"]
    assert org2.targets_by_directory_group == {"staff": ("Acrobat",), "design": ("Photoshop",)}
    assert org3.targets_by_directory_group == {"staff": ("Spark",), "design": ()}
    assert org3.additional[0].target_for("ACL-Delta") == "ACL-Grp-Delta"
    assert directory.mapped_directory_groups == ("Staff", "Design")
    settings = load_run_settings(path, {"connector": "csv", "adobe_users": ("group", "Apps,org2::Acrobat"),
                                        "update_user_info": True})
    assert [(org.name, org.umapi.org_id, org.rules.secondary, org.adobe_groups_to_read) for org in settings.secondaries] == [
        ("org2", "o2@AdobeOrg", True, ("Acrobat",)), ("org3", "o3@AdobeOrg", True, ())]
    assert settings.adobe_groups_to_read == ("Apps",)
    assert settings.umapi.org_id == "o@AdobeOrg" and not settings.rules.secondary
    # User Sync updates attributes in the primary only
    assert settings.rules.update_user_info and not any(org.rules.update_user_info for org in settings.secondaries)
    assert settings.secondaries[0].rules.mapping.targets_by_directory_group == org2.targets_by_directory_group


def test_missing_and_broken_files_are_reported_by_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_sync_config(tmp_path / "nope.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("limits:\n  max_adobe_only_users: [1\n")
    with pytest.raises(ConfigError, match=r"broken.yml: invalid YAML at line 3"):
        load_sync_config(broken)
    latin = tmp_path / "latin.yml"  # saved by an editor in Latin-1: the message gave a byte position, not a line
    latin.write_bytes("limits:\n  max_adobe_only_users: 10\n# \u00e9quipe \u00e0 Paris\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=r"latin.yml: cannot be decoded as utf8 at line 3 \(invalid "
                                          r"continuation byte\): save it as utf8, or run with --config-file-encoding"):
        load_sync_config(latin)


def test_a_connector_file_with_an_unknown_key_is_refused_naming_that_file(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    (tmp_path / "connector-umapi.yml").write_text(
        "enterprise:\n  org_id: o@AdobeOrg\n  client_id: c\n  client_secret: s\nproxy: none\n")
    with pytest.raises(ConfigError) as caught:
        load_run_settings(config, {"connector": "csv"})
    assert (caught.value.file, caught.value.key) == (str(tmp_path / "connector-umapi.yml"), "proxy")


@pytest.mark.parametrize("value, share", [(None, 0.2), ("35%", 0.35), (0.35, 0.35), ("0.5", 0.5), (1, 1.0), ("0%", 0.0)])
def test_max_shrink_is_a_share_or_a_percentage(tmp_path: Path, value: object, share: float) -> None:
    limits = {"max_adobe_only_users": 10} | ({} if value is None else {"max_shrink": value})
    assert load_sync_config(write_config(tmp_path, limits=limits)).max_shrink == pytest.approx(share)


def test_additional_groups_source_is_read_case_sensitively(tmp_path: Path) -> None:
    """User Sync compiles ``source`` as written: ``acl-gamma`` does not fit ``ACL-([A-Za-z]+)``."""
    directory_users = {**MINIMAL["directory_users"],
                       "additional_groups": [{"source": "ACL-([A-Za-z]+)", "target": r"ACL-Grp-\1"}]}
    config = load_sync_config(write_config(tmp_path, directory_users=directory_users))
    (rule,) = config.directory.mapping.additional
    assert (rule.target_for("ACL-Delta-Extra"), rule.target_for("acl-gamma")) == ("ACL-Grp-Delta-Extra", None)


# --- logging ---------------------------------------------------------------------------------------

async def test_settings_read_user_syncs_keys_relative_to_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "user-sync-config.yml"
    config.parent.mkdir()
    config.write_text("logging:\n  log_to_file: yes\n  file_log_directory: mylogs\n"
                      "  file_log_name_format: 'sync-{:%Y}.log'\n  file_log_level: DEBUG\n"
                      "  console_log_level: loud\n  log_progress: false\n  json_log_file: out/run.jsonl\n")
    settings = log_settings(load_yaml(config).section("logging"))
    assert settings.log_to_file and not settings.log_progress
    assert settings.file_log_directory == config.parent / "mylogs"
    assert settings.json_log_file == config.parent / "out" / "run.jsonl"
    assert settings.file_log_level == "debug"
    assert settings.console_log_level == "info"
    assert settings.file_log_path(datetime(2026, 1, 2)).name == "sync-2026.log"
    warning = (f"{config}: unknown level 'loud' for 'logging.console_log_level' "
               "(expected debug|info|warning|error|critical); using info")
    assert settings.notes == (warning,)
    async with streaming_logs(settings, run_id="notes", console=None) as stream:
        pass
    assert stream.log_file.read_text().splitlines()[0].endswith(f"WARNING async_usersync.logs - {warning}")  # type: ignore[union-attr]


def test_settings_refuse_an_unknown_key_and_a_broken_name_pattern(tmp_path: Path) -> None:
    config = tmp_path / "user-sync-config.yml"
    config.write_text("logging:\n  log_to_flie: true\n")
    with pytest.raises(ConfigError, match=r"user-sync-config.yml, key 'logging.log_to_flie': unknown key"):
        log_settings(load_yaml(config).section("logging"))
    config.write_text("logging:\n  file_log_name_format: '{:%Y'\n")
    with pytest.raises(ConfigError, match="logging.file_log_name_format"):
        log_settings(load_yaml(config).section("logging"))


@pytest.mark.parametrize(("changes", "file", "typed", "meant"), [
    ({"limits": {"max_adobe_only_user": 10}}, "user-sync-config.yml", "limits.max_adobe_only_user", "max_adobe_only_users"),
    ({"limits": {"max_adobe_only_users": 10, "max_shrnk": "10%"}}, "user-sync-config.yml", "limits.max_shrnk", "max_shrink"),
    ({"adobe_users": {"conectors": {"umapi": "connector-umapi.yml"}}}, "user-sync-config.yml", "adobe_users.conectors",
     "connectors"),
])
def test_a_misspelt_key_is_named_as_typed_with_the_key_meant(tmp_path: Path, changes: dict[str, Any], file: str,
                                                             typed: str, meant: str) -> None:
    """Issue 14: a misspelt required key was reported under its right name ('a value is required')."""
    with pytest.raises(ConfigError) as caught:
        load_sync_config(write_config(tmp_path, **changes))
    assert str(caught.value) == f"in {tmp_path / file}, key '{typed}': unknown key; did you mean '{meant}'?"


def test_a_misspelt_secret_key_is_named_as_typed(tmp_path: Path) -> None:
    write_config(tmp_path)
    (tmp_path / "connector-umapi.yml").write_text(CONNECTOR_FILES["connector-umapi.yml"].replace("client_secret",
                                                                                                 "client_secrt"))
    with pytest.raises(ConfigError) as caught:
        load_run_settings(tmp_path / "user-sync-config.yml", {})
    assert str(caught.value) == (f"in {tmp_path / 'connector-umapi.yml'}, key 'enterprise.client_secrt': unknown key; "
                                 "did you mean 'client_secret'?")


def test_a_secondary_org_that_is_the_primary_or_another_secondary_again_is_refused(tmp_path: Path) -> None:
    """A secondary whose connector file reaches an org already listed (a copied file left unchanged)
    was run as a second org: two planners, with different rules, changing the same users at once."""
    (tmp_path / "connector-csv.yml").write_text("file_path: users.csv\n")
    (tmp_path / "connector-org2.yml").write_text(CONNECTOR_FILES["connector-umapi.yml"].replace("o@", "O@"))
    (tmp_path / "connector-org3.yml").write_text(CONNECTOR_FILES["connector-umapi.yml"].replace("o@", "o3@"))
    for files, earlier in ((["connector-umapi.yml", {"org2": "connector-org2.yml"}], "the primary org"),
                           (["connector-umapi.yml", {"org3": "connector-org3.yml"}, {"org2": "connector-org3.yml"}],
                            "the secondary org 'org3'")):
        path = write_config(tmp_path, adobe_users={"connectors": {"umapi": files}},
                            directory_users={**MINIMAL["directory_users"], "connectors": {"csv": "connector-csv.yml"}})
        with pytest.raises(ConfigError) as caught:
            load_run_settings(path, {"connector": "csv"})
        assert str(caught.value).startswith(
            f"in {path}, key 'adobe_users.connectors.umapi': the secondary org 'org2' reaches the same org as "
            f"{earlier} (org_id ")
