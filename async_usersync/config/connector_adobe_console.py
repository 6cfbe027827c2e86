"""connector-adobe-console.yml: another Admin Console org read as a directory, with User Sync's keys,
into ``AdobeConsoleSettings``.

Source: User Sync's ``user_sync/connector/directory_adobe_console.py`` (v2): the credential sits under
``integration:`` with the keys of connector-umapi.yml's ``enterprise:`` (read here by the same
reader, ``connector_umapi.connection_settings``), ``server`` has the same keys, each request gets
``server.retries`` + 1 attempts, and ``identity_type_filter`` (``all`` or one identity type) keeps
only the users of that type. ``user_identity_type`` is read and ignored there: each user's type
comes from the source org.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from async_usersync.config.connector_umapi import connection_settings
from async_usersync.config.section import ConfigSection, read_config_file
from async_usersync.config.settings import AdobeConsoleSettings
from async_usersync.records import IdentityType


def read_connector_adobe_console(file: Path, encoding: str = "utf8"
                                 ) -> tuple[AdobeConsoleSettings, bool | None, tuple[str, ...]]:
    """Reads connector-adobe-console.yml: its settings, its ``server.ssl_verify`` (None when unset:
    then ``invocation_defaults.ssl_cert_verify`` decides, as User Sync gives this connector the
    run's ``ssl_cert_verify``) and warnings for the run's log. Raises ConfigError naming the file
    and the key."""
    (settings, ssl_verify), notes = read_config_file(file, encoding, adobe_console_settings)
    return replace(settings, file=file), ssl_verify, notes


def adobe_console_settings(section: ConfigSection) -> tuple[AdobeConsoleSettings, bool | None]:
    """Reads a connector-adobe-console.yml mapping: the settings and the file's ``server.ssl_verify``
    (None when unset). Raises ConfigError naming the file and key (an ``identity_type_filter`` that
    is neither ``all`` nor an identity type, an unknown key, a credential as in connector-umapi.yml)."""
    if "user_identity_type" in section.data:
        section.warn("user_identity_type", "has no effect here: each user's identity type is the one it has "
                                           "in the source org (use identity_type_filter to keep one type)")
    if "ssl_cert_verify" in section.data:
        section.warn("ssl_cert_verify", "is not read in this file; server.ssl_verify is "
                                        "(or invocation_defaults.ssl_cert_verify)")
    filter_text: str = section.get("identity_type_filter", "all", str)
    identity_type_filter = None
    if filter_text.strip().lower() != "all":
        try:
            identity_type_filter = IdentityType.parse(filter_text)
        except ValueError as error:
            raise section.error("identity_type_filter", f"expected 'all' or an identity type: {error}") from None
    if "enterprise" in section and "integration" not in section:
        raise section.error("enterprise", "this file takes the source org's credential under 'integration:' "
                                          "(with the keys of connector-umapi.yml's 'enterprise:')")
    umapi, ssl_verify = connection_settings(section, "integration")
    section.ignore("user_identity_type", "ssl_cert_verify")
    return AdobeConsoleSettings(umapi=replace(umapi, retries=umapi.retries + 1),
                                identity_type_filter=identity_type_filter), ssl_verify
