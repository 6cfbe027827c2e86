"""The composition root: one run's job (``SyncJob``) built from the checked settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from async_usersync.config import RunSettings
from async_usersync.config.settings import AdobeConsoleSettings, CsvSettings, OktaSettings, UmapiSettings, UserSelection
from async_usersync.engine import Strategy, SyncPlanner
from async_usersync.engine.history import RemovalGuard
from async_usersync.errors import ConfigError
from async_usersync.pipeline.adobe_only_file import read_adobe_only_users
from async_usersync.pipeline.extension import AfterMappingHook, csv_source_attributes, ldap_source_attributes
from async_usersync.pipeline.journal import Journal
from async_usersync.records import AdobeUser
from async_usersync.sources.adobe_console import AdobeConsoleSource
from async_usersync.sources.base import DirectorySource
from async_usersync.sources.csv import CsvSource
from async_usersync.sources.ldap import LdapSource
from async_usersync.sources.okta import OktaSource
from async_usersync.sources.ldap_process import LdapProcessSource, ldap_in_child_process


@dataclass(frozen=True)
class SecondaryJob:
    """A secondary (trustee) org's part of the run: its own planner (fed the same directory users),
    its connector's settings (its own client, token and throttle), and what to read and create there."""

    name: str
    planner: SyncPlanner
    umapi: UmapiSettings
    adobe_groups_to_read: tuple[str, ...] | None = None
    user_groups_wanted: tuple[str, ...] = ()


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
    listed_adobe_only_users: Mapping[str | None, list[AdobeUser]] | None = None
    """``--adobe-only-user-list``: the listed users by org (None: the primary; the list's ``umapi`` column)."""
    write_file: Path | None = None
    removal_guard: RemovalGuard | None = None
    """The run history guard (None: not applied, as with push or an Adobe-only user list)."""
    secondaries: tuple[SecondaryJob, ...] = ()
    """The secondary (trustee) orgs, in the config's order; the fields above are the primary's."""
    hook: AfterMappingHook | None = None
    """The extension hook each directory user passes through before the planner (None: no extension)."""
    journal: Journal | None = None
    """Where each command's outcome is appended, every org's (None: not journaled, as in test mode)."""
    review: bool = False
    """A review (``plan``, ``apply``'s re-read, issue 18): the commands are kept, not sent, so their
    change lines are not logged."""


def build_job(settings: RunSettings, planner_type: type[SyncPlanner] = SyncPlanner) -> SyncJob:
    """The pipeline's job from the run's settings (every file already read); only
    ``--adobe-only-user-list``'s file is read here. ``planner_type``: each org's planner (a plan's
    ``engine.reasons.ReviewPlanner`` keeps what it is given). Raises ConfigError for a bad list."""
    options = settings.options
    identity_type = settings.config.directory.user_identity_type
    extension = settings.config.directory.extension
    secondary_mappings = {org.name: org.rules.mapping for org in settings.secondaries}
    listed = None
    directory: DirectorySource | None = None
    hook = None
    if options.adobe_only_user_list is not None:
        listed = read_adobe_only_users(options.adobe_only_user_list, identity_type,
                                       frozenset(org.name for org in settings.secondaries))
    elif isinstance(settings.directory, CsvSettings):
        directory = CsvSource(settings.directory, identity_type)
        if extension is not None:
            hook = AfterMappingHook(extension, settings.rules, csv_source_attributes, secondary_mappings)
    elif isinstance(settings.directory, (AdobeConsoleSettings, OktaSettings)) and extension is not None:
        raise ConfigError(f"extension hooks are not supported with the {options.connector} source yet (ldap and "
                          "csv only)", file=settings.config.file, key="directory_users.extension")
    elif isinstance(settings.directory, AdobeConsoleSettings):
        directory = AdobeConsoleSource(settings.directory, held_groups=bool(settings.rules.mapping.additional))
    elif isinstance(settings.directory, OktaSettings):
        directory = OktaSource(settings.directory, identity_type)
    elif settings.directory is not None:
        ldap_source = LdapProcessSource if ldap_in_child_process() else LdapSource
        directory = ldap_source(settings.directory, identity_type,
                                extra_attributes=extension.extended_attributes if extension is not None else ())
        if extension is not None:
            hook = AfterMappingHook(extension, settings.rules, ldap_source_attributes, secondary_mappings)
    return SyncJob(
        planner=planner_type(settings.rules),
        umapi=settings.umapi,
        directory=directory,
        selection=settings.selection,
        push=options.strategy is Strategy.PUSH,
        test_mode=options.test_mode,
        adobe_groups_to_read=settings.adobe_groups_to_read,
        user_groups_wanted=settings.user_groups_wanted,
        listed_adobe_only_users=listed,
        write_file=options.adobe_only_write_file,
        secondaries=tuple(SecondaryJob(org.name, planner_type(org.rules), org.umapi, org.adobe_groups_to_read,
                                       org.user_groups_wanted) for org in settings.secondaries),
        hook=hook,
    )
