"""Secrets from config files: a plain value, or ``secure_<name>_key`` naming an OS keyring entry."""

from __future__ import annotations

from async_usersync.config.section import ConfigSection


def read_secret(section: ConfigSection, name: str, keyring_user: str | None, required: bool = True) -> str | None:
    """The secret ``name`` of ``section``: given in plain text, or in the keyring under
    service ``secure_<name>_key`` and user ``keyring_user`` (as User Sync looks it up).

    Error messages name the key and the keyring service, never the value.
    """
    secure_key = f"secure_{name}_key"
    plain = section.get(name, kind=str)
    service = section.get(secure_key, kind=str)
    if plain is not None and service is not None:
        raise section.error(name, f"give either '{name}' or '{secure_key}', not both")
    if plain is not None:
        return plain
    if service is None:
        if required:
            raise section.error(name, f"a value is required (or '{secure_key}' naming a keyring entry)")
        return None
    import keyring
    from keyring.errors import KeyringError

    try:
        value = keyring.get_password(service, keyring_user or "")
    except KeyringError as error:
        raise section.error(secure_key, f"the OS keyring could not be read ({type(error).__name__}); "
                                        "install a keyring backend or give the value another way") from None
    if value is None:
        raise section.error(secure_key, f"no keyring entry for service '{service}' and user '{keyring_user}'")
    return value
