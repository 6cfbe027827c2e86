"""``user-sync-config.yml``: read with User Sync's keys, checked strictly (an unknown key is an
error naming the file and the key), relative paths taken against the file that names them.

Its ``logging:`` section becomes ``LogSettings`` here; its ``invocation_defaults`` are merged with
the command line by ``options.merge_options``; the connector files it names are read by their own
modules (``connector_umapi``, ``connector_ldap``, ``connector_csv``, ``connector_adobe_console``), all
through ``run_settings``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from async_usersync.config.extension import SWITCH_VARIABLE, extensions_forbidden, read_extension
from async_usersync.config.section import UNSUPPORTED, ConfigSection, adobe_group_name, load_yaml, resolve_path, text_encoding
from async_usersync.config.settings import LEVELS, ExtensionSettings, LogSettings
from async_usersync.engine.history import DEFAULT_MAX_SHRINK
from async_usersync.engine.rules import (
    DEFAULT_UPDATE_ATTRIBUTES,
    UPDATABLE_ATTRIBUTES,
    AdditionalGroupRule,
    AdobeOnlyLimit,
    Exclusions,
    GroupMapping,
    fold,
    split_org,
)
from async_usersync.errors import ConfigError
from async_usersync.records import IdentityType

DIRECTORY_CONNECTORS = ("ldap", "csv", "okta", "adobe_console")
V1_SECTIONS = ("dashboard", "directory")


@dataclass(frozen=True)
class DirectorySettings:
    """``directory_users``: the connector files, the group mapping and the directory defaults."""

    connector_files: dict[str, Path]
    """Connector name -> its config file, as listed under ``directory_users.connectors``."""
    mapping: GroupMapping
    """The primary org's part of the mapping (its Adobe groups carry no ``org::`` prefix)."""
    mapped_directory_groups: tuple[str, ...]
    """The mapping's directory groups as the config spells them (what ``--users mapped`` reads)."""
    user_identity_type: IdentityType
    default_country_code: str | None
    auto_create: bool
    secondary_mappings: dict[str, GroupMapping] = field(default_factory=dict)
    """Secondary org name -> its part of the mapping (``org::Group`` targets, prefix taken off);
    every directory group of the mapping is a key of each, with no targets where it maps none there."""
    extension: ExtensionSettings | None = None
    """``directory_users.extension``: the hook and what it reads and assigns (None: no hook)."""


@dataclass(frozen=True)
class AdobeSettings:
    """``adobe_users``: connector-umapi.yml's path, the exclusions and the attributes to update."""

    umapi_file: Path
    """The primary org's connector-umapi.yml."""
    exclusions: Exclusions
    update_attributes: frozenset[str]
    secondary_umapi_files: dict[str, Path] = field(default_factory=dict)
    """Secondary (trustee) org name -> its connector file, in the order the config lists them."""


@dataclass(frozen=True)
class SyncConfig:
    """user-sync-config.yml, read and checked (its connector files are read by ``run_settings``)."""

    file: Path
    encoding: str
    directory: DirectorySettings
    adobe: AdobeSettings
    limit: AdobeOnlyLimit
    logging: LogSettings
    invocation_defaults: ConfigSection = field(repr=False, compare=False)
    """Read by ``options.merge_options`` (which refuses its unknown keys) together with the command line."""
    max_shrink: float = DEFAULT_MAX_SHRINK
    """``limits.max_shrink`` as a share (0.2 for 20 %): see ``engine.history``."""
    notes: list[str] = field(default_factory=list)
    """Warnings about keys of the files read so far (``ConfigSection.warn``), for the run's log."""


def load_sync_config(file: str | Path, encoding: str = "utf8") -> SyncConfig:
    """Reads and checks the main config file (not yet the connector files)."""
    root = load_yaml(file, encoding)
    for name in V1_SECTIONS:
        if name in root.data:
            raise root.error(name, "this is a User Sync 1.x section; convert the file to the 2.x layout "
                                   "(adobe_users, directory_users, limits)")
    if "post_sync" in root.data:
        raise root.error("post_sync", f"Sign Sync (post_sync) {UNSUPPORTED}")
    limits = root.section("limits", required=True)
    max_shrink = _max_shrink(limits)
    adobe = _adobe(root.section("adobe_users", required=True))
    directory = _directory(root.section("directory_users", required=True), frozenset(adobe.secondary_umapi_files), encoding)
    config = SyncConfig(
        file=root.file,
        encoding=encoding,
        directory=directory,
        adobe=adobe,
        limit=_limit(limits),
        max_shrink=max_shrink,
        logging=log_settings(root.section("logging")),
        invocation_defaults=root.section("invocation_defaults"),
        notes=root.notes,
    )
    root.finish()
    return config


# --- logging ---------------------------------------------------------------------------------------

def log_settings(section: ConfigSection) -> LogSettings:
    """Reads the ``logging`` section; relative paths are taken against the config file's folder.
    An unknown level falls back to ``info`` with a note, as User Sync warns. Raises ConfigError
    naming the file and key (a file name pattern that ``str.format`` refuses, an unknown key)."""
    defaults = LogSettings()
    notes: list[str] = []
    name_format: str = section.get("file_log_name_format", defaults.file_log_name_format, str)
    try:
        name_format.format(datetime.now())
    except (ValueError, IndexError, KeyError) as error:
        raise section.error("file_log_name_format", f"not a valid file name pattern: {error}") from None
    settings = LogSettings(
        log_to_file=section.get("log_to_file", defaults.log_to_file, bool),
        file_log_directory=section.path("file_log_directory", str(defaults.file_log_directory)),
        file_log_name_format=name_format,
        file_log_level=_level_name(section, "file_log_level", notes),
        console_log_level=_level_name(section, "console_log_level", notes),
        log_progress=section.get("log_progress", defaults.log_progress, bool),
        json_log_file=section.path("json_log_file"),
        notes=tuple(notes),
        config_file=section.file,
    )
    section.finish()
    return settings


def read_log_settings(file: str | Path, encoding: str = "utf8") -> LogSettings | None:
    """The ``logging`` section alone, for a run whose configuration could not be loaded, so that its
    error still reaches the log file the admin reads. None when the file or the section cannot be read."""
    try:
        text_encoding(encoding)
        return log_settings(load_yaml(file, encoding).section("logging"))
    except (ConfigError, ValueError):
        return None


def _level_name(section: ConfigSection, key: str, notes: list[str]) -> str:
    """The level named at ``key``; an unknown name means info, with a note (as User Sync warns)."""
    value: str = section.get(key, "info", str).strip().lower()
    if value in LEVELS:
        return value
    notes.append(f"{section.file}: unknown level '{value}' for '{section.full_key(key)}' "
                 f"(expected {'|'.join(LEVELS)}); using info")
    return "info"


# --- directory_users -------------------------------------------------------------------------------

def _directory(section: ConfigSection, orgs: frozenset[str], encoding: str) -> DirectorySettings:
    """``directory_users``; ``orgs`` are the secondary orgs' names (an ``org::`` prefix must name one)."""
    extension = _extension(section, encoding, orgs)
    pairs = _group_pairs(section, orgs)
    mappings = _mappings_by_org(pairs, _additional_groups(section, orgs),
                                extension.extended_adobe_groups if extension else ())
    options = section.section("group_sync_options")
    auto_create = options.get("auto_create", False, bool)
    options.finish()
    identity_type = section.get("user_identity_type", IdentityType.ENTERPRISE_ID, IdentityType.parse)
    settings = DirectorySettings(
        connector_files=_connector_files(section.section("connectors")),
        mapping=mappings.pop(None),
        mapped_directory_groups=tuple(dict.fromkeys(group for group, _ in pairs)),
        user_identity_type=identity_type,
        default_country_code=_country(section),
        auto_create=auto_create,
        secondary_mappings={org: mapping for org, mapping in mappings.items() if org is not None},
        extension=extension,
    )
    section.finish()
    return settings


def _mappings_by_org(pairs: list[tuple[str, list[str]]], additional: list[AdditionalGroupRule],
                     extended: tuple[str, ...]) -> dict[str | None, GroupMapping]:
    """The mapping split by org (None: the primary, always there): each org gets the Adobe groups
    named with its prefix, the prefix taken off, as User Sync files each ``AdobeGroup`` under its
    umapi name. An ``additional_groups`` target's prefix, and an ``extended_adobe_groups`` name's,
    picks its org the same way."""
    orgs: dict[str | None, None] = {None: None}
    for _, names in pairs:
        orgs.update((split_org(name)[0], None) for name in names)
    orgs.update((split_org(rule.target)[0], None) for rule in additional)
    orgs.update((split_org(name)[0], None) for name in extended)
    mappings: dict[str | None, GroupMapping] = {}
    for org in orgs:
        org_pairs = [(directory_group, [group for owner, group in map(split_org, names) if owner == org])
                     for directory_group, names in pairs]
        rules = [AdditionalGroupRule(rule.source, split_org(rule.target)[1]) for rule in additional
                 if split_org(rule.target)[0] == org]
        mappings[org] = GroupMapping.from_pairs(org_pairs, rules,
                                                [group for owner, group in map(split_org, extended) if owner == org])
    return mappings


def _extension(section: ConfigSection, encoding: str, orgs: frozenset[str]) -> ExtensionSettings | None:
    """``directory_users.extension``: the extension file named (one, or a list of one), read and
    compiled (``orgs``: the secondary orgs an ``extended_adobe_groups`` prefix may name); refused when
    this install forbids hooks (``UST_EXTENSION=0``)."""
    value = section.get("extension")
    if value is None:
        return None
    if extensions_forbidden():
        raise section.error("extension", f"extension hooks are forbidden on this install ({SWITCH_VARIABLE}="
                                         f"{os.environ.get(SWITCH_VARIABLE)}): remove the key, or run where they "
                                         "are allowed")
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, str):
        raise section.error("extension", f"expected the path of one extension file, got {value!r}")
    return read_extension(resolve_path(section.file, value), encoding, orgs)


def _connector_files(section: ConfigSection) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for name in DIRECTORY_CONNECTORS:
        value = section.get(name)
        if value is None:
            continue
        if isinstance(value, list):
            if len(value) != 1:
                raise section.error(name, "several files for one connector are not supported; merge them into one file")
            value = value[0]
        if not isinstance(value, str):
            raise section.error(name, f"expected the path of the connector's config file, got {value!r}")
        files[name] = resolve_path(section.file, value)
    section.finish()
    return files


def _group_pairs(section: ConfigSection, orgs: frozenset[str]) -> list[tuple[str, list[str]]]:
    pairs: list[tuple[str, list[str]]] = []
    for entry in _list_of_sections(section, "groups"):
        directory_group = entry.require("directory_group", str).strip()
        adobe_groups = [adobe_group_name(entry, "adobe_groups", name, orgs) for name in entry.get("adobe_groups", [], list)]
        entry.finish()
        pairs.append((directory_group, adobe_groups))
    return pairs


def _additional_groups(section: ConfigSection, orgs: frozenset[str]) -> list[AdditionalGroupRule]:
    rules: list[AdditionalGroupRule] = []
    for entry in _list_of_sections(section, "additional_groups"):
        source = entry.require("source", str)
        target = adobe_group_name(entry, "target", entry.require("target", str), orgs)
        try:
            pattern = re.compile(source)  # case-sensitive, as User Sync compiles it
            pattern.sub(target, "")  # checks the template's group references against the pattern
        except re.error as error:
            raise entry.error("source", f"not a valid regular expression (or target template): {error}") from None
        entry.finish()
        rules.append(AdditionalGroupRule(pattern, target))
    return rules


def _country(section: ConfigSection) -> str | None:
    code: str | None = section.get("default_country_code", None, str)
    if code is None:
        return None
    if not re.fullmatch(r"[A-Za-z]{2}", code.strip()):
        raise section.error("default_country_code", f"expected a two-letter ISO-3166 country code, got '{code}'")
    return code.strip().upper()


def _list_of_sections(section: ConfigSection, key: str) -> Iterable[ConfigSection]:
    items = section.get(key, [], list)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise section.error(f"{key}[{index}]", "expected a mapping of keys to values")
        yield ConfigSection(item, section.file, section.full_key(f"{key}[{index}]"))


# --- adobe_users -----------------------------------------------------------------------------------

def _adobe(section: ConfigSection) -> AdobeSettings:
    connectors = section.section("connectors", required=True)
    primary, secondaries = _umapi_files(connectors, connectors.require("umapi"))
    connectors.finish()
    settings = AdobeSettings(umapi_file=primary, exclusions=_exclusions(section),
                             update_attributes=_update_attributes(section), secondary_umapi_files=secondaries)
    section.finish()
    return settings


def _umapi_files(connectors: ConfigSection, umapi: Any) -> tuple[Path, dict[str, Path]]:
    """``adobe_users.connectors.umapi`` as User Sync reads it: one file, or a list whose plain
    strings (first) name the primary's file and whose ``{name: file}`` entries are the secondary
    (trustee) orgs. A plain string after such an entry is an error, as in User Sync ("Secondary
    umapi configuration found with no prefix"); so are a primary given by several files (User Sync
    merges them) and a name given twice."""
    items = umapi if isinstance(umapi, list) else [umapi]
    primary: list[str] = []
    secondaries: dict[str, Path] = {}
    for item in items:
        if isinstance(item, str):
            if secondaries:
                raise connectors.error("umapi", f"'{item}' comes after a secondary org, so it has no org name: "
                                                f"list the primary's file first, and each secondary as name: file")
            primary.append(item)
        elif isinstance(item, dict):
            for name, file in item.items():
                secondaries[_secondary_name(connectors, name, secondaries)] = _secondary_file(connectors, name, file)
        else:
            raise connectors.error("umapi", f"expected the path of connector-umapi.yml, got {item!r}")
    if len(primary) != 1:
        raise connectors.error("umapi", "give exactly one connector file for the primary org "
                                        f"(got {len(primary)}), before the secondary orgs")
    return resolve_path(connectors.file, primary[0]), secondaries


def _secondary_name(connectors: ConfigSection, name: Any, known: dict[str, Path]) -> str:
    if not isinstance(name, str) or not name.strip() or name != name.strip() or "::" in name:
        raise connectors.error("umapi", f"{name!r} is not a secondary org name (a word such as org2)")
    if name in known:
        raise connectors.error("umapi", f"the secondary org '{name}' is listed twice")
    return name


def _secondary_file(connectors: ConfigSection, name: str, file: Any) -> Path:
    if isinstance(file, list) and len(file) == 1:
        file = file[0]
    if not isinstance(file, str):
        raise connectors.error("umapi", f"secondary org '{name}': expected the path of its connector file "
                                        f"(one file), got {file!r}")
    return resolve_path(connectors.file, file)


def _exclusions(section: ConfigSection) -> Exclusions:
    identity_types = []
    for value in section.get("exclude_identity_types", [], list):
        try:
            identity_types.append(IdentityType.parse(str(value)))
        except ValueError as error:
            raise section.error("exclude_identity_types", str(error)) from None
    groups = []
    for value in section.get("exclude_adobe_groups", [], list):
        if not isinstance(value, str):
            raise section.error("exclude_adobe_groups", f"expected group names, got {value!r}")
        if "::" in value:
            raise section.error("exclude_adobe_groups", f"'{value}': only groups of the primary org can be excluded")
        groups.append(fold(value.strip()))
    patterns = []
    for value in section.get("exclude_users", [], list):
        try:
            patterns.append(re.compile(str(value), re.IGNORECASE))
        except re.error as error:
            raise section.error("exclude_users", f"'{value}' is not a valid regular expression: {error}") from None
    return Exclusions(frozenset(identity_types), frozenset(groups), tuple(patterns))


def _update_attributes(section: ConfigSection) -> frozenset[str]:
    values = section.get("update_attributes", None, list)
    if values is None:
        return DEFAULT_UPDATE_ATTRIBUTES
    attributes = {str(value).strip().lower() for value in values}
    unknown = attributes - set(UPDATABLE_ATTRIBUTES)
    if unknown:
        raise section.error("update_attributes", f"unknown attribute(s) {', '.join(sorted(unknown))} "
                                                 f"(expected some of {', '.join(UPDATABLE_ATTRIBUTES)})")
    return frozenset(attributes)


# --- limits ----------------------------------------------------------------------------------------

def _max_shrink(section: ConfigSection) -> float:
    """``limits.max_shrink``: a share (``0.2``) or a percentage (``'20%'``); default 20 %."""
    value = section.get("max_shrink")
    if value is None:
        return DEFAULT_MAX_SHRINK
    text = str(value).strip()
    percent = re.fullmatch(r"(\d+(?:\.\d+)?)\s*%", text)
    share = float(percent.group(1)) / 100 if percent else None
    if share is None and not isinstance(value, bool) and re.fullmatch(r"\d+(?:\.\d+)?", text):
        share = float(text)
    if share is None or share > 1:
        raise section.error("max_shrink", f"expected a share from 0 to 1 (such as 0.2) or a percentage up to 100% "
                                          f"(such as '20%'), got {value!r}")
    return share


def _limit(section: ConfigSection) -> AdobeOnlyLimit:
    value = section.require("max_adobe_only_users")
    group_removals_only = section.get("group_removals_only", False, bool)
    section.finish()
    text = str(value).strip()
    percent = re.fullmatch(r"(\d+(?:\.\d+)?)\s*%", text)
    if percent:
        share = float(percent.group(1))
        if share > 100:
            raise section.error("max_adobe_only_users", f"a percentage must be at most 100%, got '{text}'")
        return AdobeOnlyLimit(count=None, percent=share, group_removals_only=group_removals_only)
    if isinstance(value, bool) or not re.fullmatch(r"\d+", text):
        raise section.error("max_adobe_only_users", f"expected a whole number or a percentage such as '10%', got {value!r}")
    return AdobeOnlyLimit(count=int(text), group_removals_only=group_removals_only)
