"""The composition root: one run's job (``SyncJob``) built from the checked settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from async_usersync.config import RunSettings
from async_usersync.engine import Strategy, SyncPlanner
from async_usersync.engine.history import RemovalGuard
from async_usersync.pipeline.adobe_only_file import read_adobe_only_users
from async_usersync.records import AdobeUser
from async_usersync.sources.base import DirectorySource, UserSelection
from async_usersync.sources.csv import CsvSource
from async_usersync.sources.ldap import LdapSource
from async_usersync.sources.ldap_process import LdapProcessSource, ldap_in_child_process
from async_usersync.umapi import UmapiSettings


@dataclass(frozen=True)
class SyncJob:
    """What one run does, already checked against the configuration and the options."""

    planner: SyncPlanner
    umapi: UmapiSettings
    directory: DirectorySource | None
    """None with ``--adobe-only-user-list``."""
    selection: UserSelection
    push: bool = False
    test_mode: bool = False
    adobe_groups_to_read: tuple[str, ...] | None = None
    """None reads the whole org; a tuple reads the members of these groups (``--adobe-users``)."""
    user_groups_wanted: tuple[str, ...] = ()
    """Mapped user groups to create when missing (``auto_create`` with ``--process-groups``)."""
    listed_adobe_only_users: tuple[AdobeUser, ...] | None = None
    write_file: Path | None = None
    removal_guard: RemovalGuard | None = None
    """The run history guard (None: not applied, as with push or an Adobe-only user list)."""



def build_job(settings: RunSettings) -> SyncJob:
    """The pipeline's job from the checked settings; connector files are read (and checked) here."""
    config, options = settings.config, settings.options
    identity_type = config.directory.user_identity_type
    listed = None
    directory: DirectorySource | None = None
    if options.adobe_only_user_list is not None:
        listed = tuple(read_adobe_only_users(options.adobe_only_user_list, identity_type))
    elif options.connector == "csv":
        directory = CsvSource(config.csv_settings(options.csv_file), identity_type)
    else:
        ldap_source = LdapProcessSource if ldap_in_child_process() else LdapSource
        directory = ldap_source(config.ldap_settings(), identity_type)
    kind, groups = settings.selection
    if kind == "group":
        # As User Sync: members of the mapped groups are read too, so that a selected user carries
        # every mapped group it belongs to; the planner's group filter then does the selecting.
        groups = tuple(dict.fromkeys((*groups, *config.directory.mapped_directory_groups)))
    return SyncJob(
        planner=SyncPlanner(settings.rules),
        umapi=config.umapi_settings(options.ssl_cert_verify),
        directory=directory,
        selection=UserSelection(kind, groups),
        push=options.strategy is Strategy.PUSH,
        test_mode=options.test_mode,
        adobe_groups_to_read=settings.adobe_groups_to_read,
        user_groups_wanted=settings.user_groups_wanted,
        listed_adobe_only_users=listed,
        write_file=options.adobe_only_write_file,
    )
