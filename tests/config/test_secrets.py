"""Secrets: where secure_<name>_key may point, the credentials command, and no secret in any output."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator
from urllib.parse import urlencode

import keyring
import pytest

from async_usersync.config.secrets import read_secret
from async_usersync.config.section import load_yaml, ConfigSection
from async_usersync.errors import ConfigError
from async_usersync.redaction import redact
from async_usersync.config.settings import LogSettings
from async_usersync.logs.stream import streaming_logs
from tests.support.file_keyring import JsonFileKeyring

REPO = Path(__file__).parents[2]
SECRET = "s3cr3t-Va1ue/with+odd&chars"


@pytest.fixture
def file_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    store = tmp_path / "keyring.json"
    monkeypatch.setenv("ASYNC_USERSYNC_TEST_KEYRING", str(store))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.support.file_keyring.JsonFileKeyring")
    previous = keyring.get_keyring()
    keyring.set_keyring(JsonFileKeyring())
    yield store
    keyring.set_keyring(previous)


def enterprise(tmp_path: Path, text: str) -> ConfigSection:
    config = tmp_path / "connector-umapi.yml"
    config.write_text(text)
    return load_yaml(config).section("enterprise")


def secret_file(path: Path, value: str, mode: int = 0o600) -> Path:
    path.write_text(value + "\n")
    path.chmod(mode)
    return path


def test_a_secret_from_an_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UMAPI_SECRET", SECRET)
    section = enterprise(tmp_path, "enterprise:\n  secure_client_secret_key: env:UMAPI_SECRET\n")
    assert read_secret(section, "client_secret", "org@AdobeOrg") == SECRET
    monkeypatch.delenv("UMAPI_SECRET")
    with pytest.raises(ConfigError, match=r"connector-umapi.yml, key 'enterprise.secure_client_secret_key': "
                                          r"the environment variable UMAPI_SECRET is not set"):
        read_secret(section, "client_secret", "org@AdobeOrg")


def test_a_secret_from_an_owner_only_file_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    kept = secret_file(tmp_path / "secrets" / "client-secret", SECRET)
    section = enterprise(tmp_path, "enterprise:\n  secure_client_secret_key: file:secrets/client-secret\n")
    assert read_secret(section, "client_secret", "org@AdobeOrg") == SECRET
    kept.chmod(0o640)
    with pytest.raises(ConfigError) as refused:
        read_secret(section, "client_secret", "org@AdobeOrg")
    assert str(refused.value) == (f"in {tmp_path / 'connector-umapi.yml'}, key 'enterprise.secure_client_secret_key': "
                                  f"the secret file {kept} can be used by other accounts (mode 640); "
                                  f"allow its owner only: chmod 600 {kept}")
    kept.unlink()
    with pytest.raises(ConfigError, match="cannot read the secret file .*client-secret: No such file or directory"):
        read_secret(section, "client_secret", "org@AdobeOrg")


def test_a_secret_too_short_to_mask_is_used_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    section = enterprise(tmp_path, "enterprise:\n  client_secret: abc\n")
    assert read_secret(section, "client_secret", "org@AdobeOrg") == "abc"
    assert caplog.messages == [f"{tmp_path / 'connector-umapi.yml'}: the secret 'enterprise.client_secret' is shorter "
                               "than 4 characters, too short to be masked in logs"]
    assert redact("abc and bc") == "abc and bc"


def test_a_secret_from_the_keyring_and_a_clear_error_without_one(tmp_path: Path, file_keyring: Path) -> None:
    keyring.set_password("umapi-secret", "org@AdobeOrg", SECRET)
    for reference in ("umapi-secret", "keyring:umapi-secret"):
        section = enterprise(tmp_path, f"enterprise:\n  secure_client_secret_key: {reference}\n")
        assert read_secret(section, "client_secret", "org@AdobeOrg") == SECRET
    with pytest.raises(ConfigError, match="no keyring entry for service 'umapi-secret' and user 'other@AdobeOrg'"):
        read_secret(section, "client_secret", "other@AdobeOrg")
    keyring.set_keyring(keyring.backends.fail.Keyring())
    with pytest.raises(ConfigError, match="no OS keyring is available on this machine to read secrets; "
                                          "on a server without a keyring, use 'env:VARIABLE' or 'file:PATH' instead"):
        read_secret(section, "client_secret", "org@AdobeOrg")


def cli(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "async_usersync", *args], input=stdin, text=True, capture_output=True,
                          cwd=REPO, env={**os.environ, **(env or {})}, timeout=60)


def test_the_credentials_command_stores_checks_and_deletes(file_keyring: Path) -> None:
    stored = cli("credentials", "set", "umapi-secret", "--user", "org@AdobeOrg", stdin=SECRET + "\n")
    assert stored.returncode == 0, stored.stderr
    assert keyring.get_password("umapi-secret", "org@AdobeOrg") == SECRET
    checked = cli("credentials", "get", "umapi-secret", "-u", "org@AdobeOrg")
    assert (checked.returncode, checked.stdout) == (0, "")
    assert SECRET not in checked.stderr and f"{len(SECRET)} characters is stored" in checked.stderr
    assert cli("credentials", "get", "umapi-secret", "-u", "org@AdobeOrg", "--show").stdout == SECRET + "\n"
    assert cli("credentials", "delete", "umapi-secret", "-u", "org@AdobeOrg").returncode == 0
    gone = cli("credentials", "get", "umapi-secret", "-u", "org@AdobeOrg")
    assert (gone.returncode, gone.stderr) == (1, "No secret stored for service 'umapi-secret' and user 'org@AdobeOrg'.\n")


def test_the_credentials_command_without_a_keyring_says_what_to_do_instead() -> None:
    result = cli("credentials", "set", "umapi-secret", "--user", "org@AdobeOrg", stdin=SECRET,
                 env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"})
    assert result.returncode == 2
    assert result.stderr == ("error: no OS keyring is available on this machine to write secrets; "
                             "on a server without a keyring, use 'env:VARIABLE' or 'file:PATH' instead\n")
    assert SECRET not in result.stdout + result.stderr


async def test_no_secret_reaches_any_log_output_at_debug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         file_keyring: Path) -> None:
    monkeypatch.setenv("LDAP_PASSWORD", "ldap-Pa55word!")
    keyring.set_password("umapi-secret", "org@AdobeOrg", SECRET)
    secret_file(tmp_path / "priv.key", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----")
    section = enterprise(tmp_path, "enterprise:\n  secure_client_secret_key: umapi-secret\n"
                                   "  secure_password_key: env:LDAP_PASSWORD\n  secure_priv_key_data_key: file:priv.key\n"
                                   "  api_key: plain-client-id-123\n")
    secrets = [read_secret(section, name, "org@AdobeOrg")
               for name in ("client_secret", "password", "priv_key_data", "api_key")]
    console = io.StringIO()
    settings = LogSettings(log_to_file=True, file_log_directory=tmp_path / "logs", file_log_name_format="run.log",
                           file_log_level="debug", console_log_level="debug", json_log_file=tmp_path / "run.jsonl")
    captured = logging.getLogger("async_usersync.test.secrets")
    async with streaming_logs(settings, run_id="secrets", console=console) as stream:
        for secret in secrets:
            captured.debug("token request body: %s", urlencode({"client_secret": secret, "grant_type": "x"}))
            captured.debug("sending %r", {"password": secret}, extra={"request": {"headers": {"x-api-key": secret}}})
            captured.debug(f"inline {secret} in the message", extra={"password": secret})
            try:
                raise RuntimeError(f"server said: bad credentials {secret}")
            except RuntimeError:
                captured.exception("call failed")
            captured.debug("with stack", stack_info=True)
    outputs = {"file": stream.log_file.read_text(), "console": console.getvalue(),  # type: ignore[union-attr]
               "json": (tmp_path / "run.jsonl").read_text()}
    for name, text in outputs.items():
        assert text.count("********") >= 4 * len(secrets), name
        for secret in secrets:
            for line in secret.splitlines():
                assert line not in text, (name, line)


@pytest.mark.parametrize(("file", "name", "key"), [
    ("connector-umapi.yml", "client_secret", "client_secret"),
    ("connector-umapi.yml", "client_id", "client_id"),
    ("connector-umapi.yml", "api_key", "api_key"),
    ("connector-umapi.yml", "client_secret", "secure_client_secret_key"),
    ("connector-ldap.yml", "password", "password"),
    ("connector-ldap.yml", "password", "secure_password_key"),
])
@pytest.mark.parametrize(("written", "reading"), [
    ("0123456", "a number (YAML reads a leading 0 as octal and 12:30 as minutes)"),  # 42798
    ("12:30", "a number (YAML reads a leading 0 as octal and 12:30 as minutes)"),  # 750
    ("1.50", "a number (YAML reads a leading 0 as octal and 12:30 as minutes)"),
    ("yes", "true or false (YAML reads yes, no, on and off so)"),
    ("Off", "true or false (YAML reads yes, no, on and off so)"),
    ("2024-01-01", "a date or time"),
])
def test_a_secret_yaml_reads_as_another_type_is_refused_whatever_its_key(
        tmp_path: Path, file: str, name: str, key: str, written: str, reading: str) -> None:
    config = tmp_path / file
    config.write_text(f"{key}: {written}\n")
    with pytest.raises(ConfigError) as refused:
        read_secret(load_yaml(config), name, "org@AdobeOrg")
    assert str(refused.value) == (f"in {config}, key '{key}': YAML reads this value as {reading}, which would "
                                  f"change the secret; put it in quotes: {key}: '...'")
    config.write_text(f"{key}: '{written}'\n")  # quoted, it is the text as typed
    if not key.startswith("secure_"):
        assert read_secret(load_yaml(config), name, "org@AdobeOrg") == written
