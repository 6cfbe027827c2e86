"""Everything one ``sync`` run needs from the config files and the command line, read and checked
together at start: the only entry to ``config/`` for a run.

``load_run_settings(config_file, given)`` reads user-sync-config.yml, merges its
``invocation_defaults`` with the command line, reads the selected directory connector's file and
connector-umapi.yml, and applies the command line's overrides of those files here (never in their
readers): ``--users file F`` / ``--connector csv F`` replace ``file_path``, and
``invocation_defaults.ssl_cert_verify`` applies where ``server.ssl_verify`` is not set.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from async_usersync.config.connector_adobe_console import read_connector_adobe_console
from async_usersync.config.connector_csv import read_connector_csv
from async_usersync.config.connector_ldap import read_connector_ldap
from async_usersync.config.connector_okta import read_connector_okta
from async_usersync.config.connector_umapi import read_connector_umapi
from async_usersync.config.options import SyncOptions, merge_options
from async_usersync.config.section import text_encoding
from async_usersync.config.settings import (
    AdobeConsoleSettings,
    CsvSettings,
    LdapSettings,
    LogSettings,
    OktaSettings,
    UmapiSettings,
    UserSelection,
)
from async_usersync.config.user_sync_config import SyncConfig, load_sync_config
from async_usersync.engine.rules import GroupMapping, Strategy, SyncRules, fold, split_org
from async_usersync.errors import ConfigError


@dataclass(frozen=True)
class SecondaryOrg:
    """A secondary (trustee) org of the run: its name (the ``org`` of ``org::Group``), its
    connector file's settings, its rules (its part of the mapping, ``SyncRules.secondary``) and,
    as ``RunSettings`` has them for the primary, the groups to read and to create."""

    name: str
    umapi: UmapiSettings
    rules: SyncRules
    adobe_groups_to_read: tuple[str, ...] | None
    user_groups_wanted: tuple[str, ...]


@dataclass(frozen=True)
class RunSettings:
    """One run's checked settings, every file already read."""

    config: SyncConfig
    options: SyncOptions
    rules: SyncRules
    umapi: UmapiSettings
    directory: LdapSettings | CsvSettings | OktaSettings | AdobeConsoleSettings | None
    """The selected directory connector's settings; None with ``--adobe-only-user-list``."""
    selection: UserSelection
    """What the directory source reads: see ``directory_selection``."""
    adobe_groups_to_read: tuple[str, ...] | None
    """None reads the whole org; otherwise the members of these groups (``--adobe-users``)."""
    user_groups_wanted: tuple[str, ...]
    """Mapped groups to create when the org lacks them (``auto_create`` with ``--process-groups``
    and the sync strategy); compare with ``engine.rules.missing_user_groups``."""
    notes: tuple[str, ...] = ()
    """Warnings about the options and the files' keys, for the run's log (in the order read)."""
    secondaries: tuple[SecondaryOrg, ...] = ()
    """The secondary (trustee) orgs, in the order the config lists them."""

    @property
    def logging(self) -> LogSettings:
        """The ``logging:`` section of user-sync-config.yml."""
        return self.config.logging


def load_run_settings(config_file: str | Path, given: Mapping[str, Any], encoding: str = "utf8") -> RunSettings:
    """Reads user-sync-config.yml, merges its invocation_defaults with ``given`` (command-line values
    by invocation_defaults name; see ``merge_options``), reads the connector files the run uses and
    checks that they fit together. ``encoding`` is ``--config-file-encoding`` (for every file).
    Raises ConfigError naming the file and key, or the option (an unknown codec names it)."""
    try:
        text_encoding(encoding)
    except ValueError as error:
        raise ConfigError(f"option --config-file-encoding: {error} (for example utf8, utf-16 or cp1252)") from None
    config = load_sync_config(config_file, encoding)
    options = merge_options(config.invocation_defaults, given)
    files = config.directory.connector_files
    if options.adobe_only_user_list is None and options.connector not in files and options.connector != "csv":
        chosen = (f" ({options.named_by['connector']})" if "connector" in options.named_by
                  else ", the default when neither --connector nor --users file is given,")
        named = (f" (this file names: {', '.join(files)}; choose one with --connector, e.g. --connector csv FILE)"
                 if files else "")
        raise _config_error(config, f"directory_users.connectors.{options.connector}",
                            f"the {options.connector} connector{chosen} has no config file here{named}")
    if options.users == "mapped" and not config.directory.mapped_directory_groups:
        raise _config_error(config, "directory_users.groups", "'--users mapped' needs a group mapping")
    targets = config.directory.mapping.static_targets
    if options.adobe_users == "mapped" and not targets:
        raise _config_error(config, "directory_users.groups", "'--adobe-users mapped' needs a group mapping")
    notes = [*options.notes, *config.notes]
    directory = _directory_settings(config, options, notes)
    umapi = _umapi_settings(config, config.adobe.umapi_file, encoding, options, notes)
    selection, group_filter = directory_selection(config, options)
    rules = build_sync_rules(config, options, group_filter)
    secondaries = tuple(
        SecondaryOrg(name, _umapi_settings(config, file, encoding, options, notes), _secondary_rules(rules, mapping),
                     _adobe_groups_to_read(options, name, mapping.static_targets),
                     _user_groups_wanted(config, options, mapping.static_targets))
        for name, file in config.adobe.secondary_umapi_files.items()
        for mapping in (config.directory.secondary_mappings.get(name, GroupMapping()),))
    _refuse_an_org_listed_twice(config, umapi, secondaries)
    return RunSettings(
        config=config,
        options=options,
        rules=rules,
        umapi=umapi,
        directory=directory,
        selection=selection,
        adobe_groups_to_read=_adobe_groups_to_read(options, None, targets),
        user_groups_wanted=_user_groups_wanted(config, options, targets),
        notes=tuple(notes),
        secondaries=secondaries,
    )


def _refuse_an_org_listed_twice(config: SyncConfig, primary: UmapiSettings,
                                secondaries: tuple[SecondaryOrg, ...]) -> None:
    """Raises ConfigError when a secondary's connector file reaches an org listed before it (the
    same ``org_id``, in any case, at the same UMAPI host): its rules and the other org's would
    change the same users at once (a connector file copied and left unchanged, say)."""
    listed = {(primary.host.lower(), primary.org_id.lower()): "the primary org"}
    for org in secondaries:
        reached = (org.umapi.host.lower(), org.umapi.org_id.lower())
        if reached in listed:
            raise _config_error(config, "adobe_users.connectors.umapi",
                                f"the secondary org '{org.name}' reaches the same org as {listed[reached]} (org_id "
                                f"{org.umapi.org_id} at {org.umapi.host}): list each org once")
        listed[reached] = f"the secondary org '{org.name}'"


def _umapi_settings(config: SyncConfig, file: Path, encoding: str, options: SyncOptions,
                    notes: list[str]) -> UmapiSettings:
    """One org's connector file, read; ``ssl_cert_verify`` applies where ``server.ssl_verify`` is not
    set, and is then the key its TLS warning names."""
    umapi, ssl_verify, umapi_notes = read_connector_umapi(file, encoding)
    notes.extend(umapi_notes)
    return _invocation_ssl_verify(config, options, umapi, ssl_verify)


def _adobe_groups_to_read(options: SyncOptions, org: str | None, targets: tuple[str, ...]) -> tuple[str, ...] | None:
    """``--adobe-users``: None (the whole org), the org's mapped groups, or the named groups that
    belong to this org (``org2::Group`` names a secondary's, as in User Sync)."""
    if options.adobe_users == "all":
        return None
    if options.adobe_users == "mapped":
        return targets
    return tuple(group for owner, group in map(split_org, options.adobe_user_groups) if owner == org)


def _user_groups_wanted(config: SyncConfig, options: SyncOptions, targets: tuple[str, ...]) -> tuple[str, ...]:
    """``auto_create`` with ``--process-groups`` and the sync strategy: the org's mapped groups."""
    if config.directory.auto_create and options.process_groups and options.strategy is Strategy.SYNC:
        return targets
    return ()


def _secondary_rules(primary: SyncRules, mapping: GroupMapping) -> SyncRules:
    """A secondary org's rules: the primary's, with the secondary's part of the mapping, no attribute
    update, and only the account exclusions (``exclude_adobe_groups`` names primary groups; the
    users the primary excludes are passed on at ``SyncPlanner.finish``)."""
    exclusions = replace(primary.exclusions, groups=frozenset())
    return replace(primary, mapping=mapping, exclusions=exclusions, update_user_info=False, secondary=True)


def directory_selection(config: SyncConfig, options: SyncOptions) -> tuple[UserSelection, frozenset[str] | None]:
    """User Sync's ``--users`` rule, in one place: what the directory source reads, and the
    planner's directory group filter (folded names; None keeps every user read).

    - ``all``: every user, the mapped groups listed so that users carry them.
    - ``mapped``: the members of the mapped groups, and only those.
    - ``group A,B``: the members of A and B. As User Sync, with ``--process-groups`` the members of
      the mapped groups are read too, so that a selected user carries every mapped group it belongs
      to; the filter keeps the members of A and B. Without it only A and B are read (and counted
      as read), so ``--exclude-unmapped-users`` sees only those groups, as in User Sync.
    With ``--adobe-only-user-list`` the directory is not read and nothing is filtered.
    """
    mapped = config.directory.mapped_directory_groups
    if options.adobe_only_user_list is not None:
        return UserSelection("all", mapped), None
    if options.users == "group":
        read = tuple(dict.fromkeys((*options.user_groups, *(mapped if options.process_groups else ()))))
        return UserSelection("group", read), frozenset(fold(group) for group in options.user_groups)
    if options.users == "mapped":
        return UserSelection("mapped", mapped), frozenset(fold(group) for group in mapped)
    return UserSelection("all", mapped), None


def build_sync_rules(config: SyncConfig, options: SyncOptions, group_filter: frozenset[str] | None) -> SyncRules:
    """The engine's rules from the config, the options and ``directory_selection``'s group filter."""
    return SyncRules(
        mapping=config.directory.mapping,
        exclusions=config.adobe.exclusions,
        limit=config.limit,
        strategy=options.strategy,
        process_groups=options.process_groups,
        update_user_info=options.update_user_info,
        update_attributes=config.adobe.update_attributes,
        adobe_only_action=options.adobe_only_user_action,
        directory_group_filter=group_filter,
        user_filter=options.user_filter,
        exclude_unmapped_users=options.exclude_unmapped_users,
        default_country_code=config.directory.default_country_code,
    )


def _invocation_ssl_verify(config: SyncConfig, options: SyncOptions, umapi: UmapiSettings,
                           ssl_verify: bool | None) -> UmapiSettings:
    """``umapi`` with ``invocation_defaults.ssl_cert_verify`` (or ``--ssl-cert-verify``) applied
    where its file's ``server.ssl_verify`` (``ssl_verify``, None when unset) does not decide."""
    if ssl_verify is not None or options.ssl_cert_verify:
        return umapi
    return replace(umapi, ssl_verify=False, tls_keys=replace(
        umapi.tls_keys, verify=config.invocation_defaults.where("ssl_cert_verify")))


def _directory_settings(config: SyncConfig, options: SyncOptions, notes: list[str]
                        ) -> LdapSettings | CsvSettings | OktaSettings | AdobeConsoleSettings | None:
    """The selected connector's file, read; the command line's CSV file replaces ``file_path``
    (with a warning when the file names one). Raises ConfigError when ``additional_groups`` rules
    are set and the LDAP connector does not read each user's groups, or the connector is Okta's,
    as User Sync does."""
    if options.adobe_only_user_list is not None:
        return None
    encoding = config.encoding
    if options.connector == "csv":
        file = config.directory.connector_files.get("csv")
        csv, csv_notes = read_connector_csv(file, encoding)
        notes.extend(csv_notes)
        if options.csv_file is None:
            return csv
        if csv.file_path is not None:
            notes.append(str(ConfigError(f"not read: the command line names {options.csv_file}, which is read instead",
                                         file=file, key="file_path")))
        return replace(csv, file_path=options.csv_file)
    if options.connector == "adobe_console":
        console, ssl_verify, console_notes = read_connector_adobe_console(
            config.directory.connector_files["adobe_console"], encoding)
        notes.extend(console_notes)
        return replace(console, umapi=_invocation_ssl_verify(config, options, console.umapi, ssl_verify))
    if options.connector == "okta":
        if config.directory.mapping.additional:
            raise _config_error(config, "directory_users.additional_groups",
                                "additional group rules are not supported by the okta connector, as in User Sync")
        okta, okta_notes = read_connector_okta(config.directory.connector_files["okta"], encoding)
        notes.extend(okta_notes)
        return okta
    ldap_file = config.directory.connector_files["ldap"]
    ldap, ldap_notes = read_connector_ldap(ldap_file, encoding)
    notes.extend(ldap_notes)
    if config.directory.mapping.additional and not ldap.dynamic_group_member_attribute:
        # As User Sync: without it the rules never see a group, and --process-groups would
        # then remove every membership they manage.
        raise ConfigError("directory_users.additional_groups needs the LDAP connector to read each user's groups: "
                          "set dynamic_group_member_attribute (memberOf on Active Directory)",
                          file=ldap_file, key="dynamic_group_member_attribute")
    return ldap


def _config_error(config: SyncConfig, key: str, message: str) -> ConfigError:
    return ConfigError(message, file=config.file, key=key)
