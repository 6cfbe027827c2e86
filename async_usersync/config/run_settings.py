"""Everything one ``sync`` run needs from the config files and the command line, checked together.

The pipeline calls ``load_run_settings(config_file, given)`` and gets the typed options, the
engine's rules and the group lists; the connector files are parsed through ``settings.config``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping

from async_usersync.config.options import SyncOptions, merge_options
from async_usersync.config.section import text_encoding
from async_usersync.config.sync_config import SyncConfig, load_sync_config
from async_usersync.engine.rules import Strategy, SyncRules, fold
from async_usersync.errors import ConfigError


@dataclass(frozen=True)
class RunSettings:
    config: SyncConfig
    options: SyncOptions
    rules: SyncRules
    selection: tuple[Literal["all", "mapped", "group"], tuple[str, ...]]
    """What the directory source reads (``sources.base.UserSelection`` arguments): for ``all`` the
    mapped groups are listed too, so that users carry them."""
    adobe_groups_to_read: tuple[str, ...] | None
    """None reads the whole org; otherwise the members of these groups (``--adobe-users``)."""
    user_groups_wanted: tuple[str, ...]
    """Mapped groups to create when the org lacks them (``auto_create`` with ``--process-groups``
    and the sync strategy); compare with ``engine.rules.missing_user_groups``."""


def load_run_settings(config_file: str | Path, given: Mapping[str, Any], encoding: str = "utf8") -> RunSettings:
    """Reads user-sync-config.yml, merges its invocation_defaults with ``given`` (command-line values
    by invocation_defaults name; see ``merge_options``) and checks that they fit together.
    ``encoding`` is ``--config-file-encoding``: an unknown codec is a ConfigError naming it."""
    try:
        text_encoding(encoding)
    except ValueError as error:
        raise ConfigError(f"option --config-file-encoding: {error} (for example utf8, utf-16 or cp1252)") from None
    config = load_sync_config(config_file, encoding)
    options = merge_options(config.invocation_defaults, given)
    directory = config.directory
    if options.adobe_only_user_list is None and options.connector not in directory.connector_files and options.connector != "csv":
        raise _config_error(config, f"directory_users.connectors.{options.connector}",
                            f"the {options.connector} connector is selected but has no config file here")
    if options.users == "mapped" and not directory.mapped_directory_groups:
        raise _config_error(config, "directory_users.groups", "'--users mapped' needs a group mapping")
    targets = directory.mapping.static_targets
    if options.adobe_users == "mapped" and not targets:
        raise _config_error(config, "directory_users.groups", "'--adobe-users mapped' needs a group mapping")
    return RunSettings(
        config=config,
        options=options,
        rules=build_sync_rules(config, options),
        selection=_selection(config, options),
        adobe_groups_to_read={"all": None, "mapped": targets, "group": options.adobe_user_groups}[options.adobe_users],
        user_groups_wanted=targets if (directory.auto_create and options.process_groups
                                       and options.strategy is Strategy.SYNC) else (),
    )


def build_sync_rules(config: SyncConfig, options: SyncOptions) -> SyncRules:
    group_filter: frozenset[str] | None = None
    if options.adobe_only_user_list is None and options.users in ("mapped", "group"):
        groups = config.directory.mapped_directory_groups if options.users == "mapped" else options.user_groups
        group_filter = frozenset(fold(group) for group in groups)
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


def _selection(config: SyncConfig, options: SyncOptions) -> tuple[Literal["all", "mapped", "group"], tuple[str, ...]]:
    if options.users == "group":
        return "group", options.user_groups
    if options.users == "mapped":
        return "mapped", config.directory.mapped_directory_groups
    return "all", config.directory.mapped_directory_groups


def _config_error(config: SyncConfig, key: str, message: str) -> ConfigError:
    return ConfigError(message, file=config.file, key=key)
