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

from async_usersync.config.connector_csv import read_connector_csv
from async_usersync.config.connector_ldap import read_connector_ldap
from async_usersync.config.connector_okta import read_connector_okta
from async_usersync.config.connector_umapi import read_connector_umapi
from async_usersync.config.options import SyncOptions, merge_options
from async_usersync.config.section import text_encoding
from async_usersync.config.settings import (
    CsvSettings, LdapSettings, LogSettings, OktaSettings, UmapiSettings, UserSelection,
)
from async_usersync.config.user_sync_config import SyncConfig, load_sync_config
from async_usersync.engine.rules import Strategy, SyncRules, fold
from async_usersync.errors import ConfigError


@dataclass(frozen=True)
class RunSettings:
    """One run's checked settings, every file already read."""

    config: SyncConfig
    options: SyncOptions
    rules: SyncRules
    umapi: UmapiSettings
    directory: LdapSettings | CsvSettings | OktaSettings | None
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
        raise _config_error(config, f"directory_users.connectors.{options.connector}",
                            f"the {options.connector} connector is selected but has no config file here")
    if options.users == "mapped" and not config.directory.mapped_directory_groups:
        raise _config_error(config, "directory_users.groups", "'--users mapped' needs a group mapping")
    targets = config.directory.mapping.static_targets
    if options.adobe_users == "mapped" and not targets:
        raise _config_error(config, "directory_users.groups", "'--adobe-users mapped' needs a group mapping")
    notes = [*options.notes, *config.notes]
    directory = _directory_settings(config, options, notes)
    umapi, ssl_verify, umapi_notes = read_connector_umapi(config.adobe.umapi_file, encoding)
    notes.extend(umapi_notes)
    if ssl_verify is None and not options.ssl_cert_verify:
        umapi = replace(umapi, ssl_verify=False, tls_keys=replace(
            umapi.tls_keys, verify=config.invocation_defaults.where("ssl_cert_verify")))
    selection, group_filter = directory_selection(config, options)
    return RunSettings(
        config=config,
        options=options,
        rules=build_sync_rules(config, options, group_filter),
        umapi=umapi,
        directory=directory,
        selection=selection,
        adobe_groups_to_read={"all": None, "mapped": targets, "group": options.adobe_user_groups}[options.adobe_users],
        user_groups_wanted=targets if (config.directory.auto_create and options.process_groups
                                       and options.strategy is Strategy.SYNC) else (),
        notes=tuple(notes),
    )


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


def _directory_settings(config: SyncConfig, options: SyncOptions, notes: list[str]
                        ) -> LdapSettings | CsvSettings | OktaSettings | None:
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
