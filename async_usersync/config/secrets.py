"""Secrets from config files: a plain value, or ``secure_<name>_key`` saying where the secret is kept.

``secure_<name>_key`` takes one of:

* ``SERVICE`` or ``keyring:SERVICE``: the OS keyring entry of that service, under the user User
  Sync uses (``org_id`` for UMAPI secrets, the LDAP ``username`` for its password);
* ``env:VARIABLE``: an environment variable (for containers and systemd ``Environment=``);
* ``file:PATH``: a file readable by its owner only (``chmod 600``), one trailing newline dropped;
  a relative path is taken against the config file (suits systemd credentials and Docker secrets).

Every secret read is registered with the log redactor, and no error message ever holds a value.
Both keys must be text as written: a value YAML reads as something else (``0123456`` is the octal
number 42798, ``yes`` is true, ``12:30`` is 750 and ``2024-01-01`` a date) is refused, because
turning it back into text would not give what was typed.
"""

from __future__ import annotations

import logging
import os
import stat
from datetime import date, datetime
from pathlib import Path
from types import ModuleType
from typing import Callable, Literal, TypeVar, overload

from async_usersync.config.section import ConfigSection, resolve_path
from async_usersync.errors import ConfigError
from async_usersync.redaction import MIN_MASKED_LENGTH, register_secret

T = TypeVar("T")
logger = logging.getLogger("async_usersync.config")
HEADLESS_HINT = "on a server without a keyring, use 'env:VARIABLE' or 'file:PATH' instead"


@overload
def read_secret(section: ConfigSection, name: str, keyring_user: str | None, required: Literal[True] = True) -> str: ...
@overload
def read_secret(section: ConfigSection, name: str, keyring_user: str | None, required: bool) -> str | None: ...


def read_secret(section: ConfigSection, name: str, keyring_user: str | None, required: bool = True) -> str | None:
    """The secret ``name`` of ``section``: given in plain text, or where ``secure_<name>_key`` points
    (``keyring:``/a bare service name, ``env:VARIABLE``, ``file:PATH``); None only when not ``required``.

    Raises ConfigError naming the file and key and where the secret was looked for, never the value.
    """
    secure_key = f"secure_{name}_key"
    plain = _written_text(section, name)
    reference = _written_text(section, secure_key)
    if plain is not None and reference is not None:
        raise section.error(name, f"give either '{name}' or '{secure_key}', not both")
    if plain is not None:
        return _registered(section, name, plain)
    if reference is None:
        if required:
            raise section.missing(name, f"a value is required (or '{secure_key}' saying where it is kept)")
        return None
    try:
        value = _resolve(reference.strip(), section.file, keyring_user or "")
    except ConfigError as error:
        raise section.error(secure_key, str(error)) from None
    return _registered(section, name, value)


_YAML_READINGS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "true or false (YAML reads yes, no, on and off so)"),
    ((int, float), "a number (YAML reads a leading 0 as octal and 12:30 as minutes)"),
    ((date, datetime), "a date or time"),
)


def _written_text(section: ConfigSection, key: str) -> str | None:
    """The text at ``key`` (None when absent), refusing a value YAML has read as another type. The
    error names the file and key and says to quote the value; it never shows the value."""
    value = section.get(key)
    for kinds, reading in _YAML_READINGS:
        if isinstance(value, kinds):
            raise section.error(key, f"YAML reads this value as {reading}, which would change the secret; "
                                     f"put it in quotes: {key}: '...'")
    return None if value is None else section.get(key, kind=str)


def _registered(section: ConfigSection, name: str, value: str) -> str:
    """``value``, once the log redactor knows it."""
    if len(value) < MIN_MASKED_LENGTH:
        logger.warning("%s: the secret '%s' is shorter than %d characters, too short to be masked in logs",
                       section.file, section.full_key(name), MIN_MASKED_LENGTH)
    register_secret(value)
    return value


def _resolve(reference: str, config_file: Path, keyring_user: str) -> str:
    kind, _, where = reference.partition(":")
    if kind == "env" and where:
        return _from_environment(where)
    if kind == "file" and where:
        return read_secret_file(resolve_path(config_file, where))
    service = where if kind == "keyring" and where else reference
    value = keyring_get(service, keyring_user)
    if value is None:
        raise ConfigError(f"no keyring entry for service '{service}' and user '{keyring_user}' "
                          f"(store one with: async-usersync credentials set '{service}' --user '{keyring_user}')")
    return value


def _from_environment(variable: str) -> str:
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(f"the environment variable {variable} is {'empty' if value == '' else 'not set'}")
    return value


def read_secret_file(path: Path) -> str:
    """A secret kept in a file that only its owner, the account running the sync, may read."""
    try:
        with open(path, "rb") as file:
            info = os.fstat(file.fileno())
            if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise ConfigError(f"the secret file {path} can be used by other accounts (mode "
                                  f"{stat.S_IMODE(info.st_mode):o}); allow its owner only: chmod 600 {path}")
            if info.st_uid != os.geteuid():
                raise ConfigError(f"the secret file {path} belongs to uid {info.st_uid}, "
                                  f"not to the account running the sync (uid {os.geteuid()})")
            data = file.read()
    except OSError as error:
        raise ConfigError(f"cannot read the secret file {path}: {error.strerror}") from None
    try:
        value = data.decode("utf-8").removesuffix("\n").removesuffix("\r")
    except UnicodeDecodeError:
        raise ConfigError(f"the secret file {path} is not UTF-8 text") from None
    if not value:
        raise ConfigError(f"the secret file {path} is empty")
    return value


# -- the OS keyring ---------------------------------------------------------------------------

def keyring_get(service: str, user: str) -> str | None:
    """The keyring's secret for ``service`` and ``user`` (None when it has none). Raises ConfigError
    when no keyring is usable, saying what to use instead."""
    value: str | None = _keyring_call("read", lambda keyring: keyring.get_password(service, user))
    return value


def keyring_set(service: str, user: str, value: str) -> None:
    """Stores ``value`` in the OS keyring under ``service`` and ``user``. Raises ConfigError when no
    keyring is usable, saying what to use instead."""
    _keyring_call("write", lambda keyring: keyring.set_password(service, user, value))


def keyring_delete(service: str, user: str) -> bool:
    """Deletes an entry; False when there was none."""
    from keyring.errors import PasswordDeleteError

    def delete(keyring: ModuleType) -> bool:
        try:
            keyring.delete_password(service, user)
        except PasswordDeleteError:
            return False
        return True

    return _keyring_call("change", delete)


def _keyring_call(action: str, call: Callable[[ModuleType], T]) -> T:
    """Runs ``call(keyring)``, turning keyring's failures into errors that say what to do."""
    import keyring
    from keyring.errors import KeyringError, NoKeyringError

    try:
        return call(keyring)
    except NoKeyringError:
        raise ConfigError(f"no OS keyring is available on this machine to {action} secrets; {HEADLESS_HINT}") from None
    except KeyringError as error:
        raise ConfigError(f"the OS keyring could not {action} the secret ({type(error).__name__}); {HEADLESS_HINT}") from None
