"""A real keyring backend for tests: this machine has no OS keyring (no D-Bus Secret Service).

It keeps entries in the JSON file named by ``ASYNC_USERSYNC_TEST_KEYRING``, so a CLI run in a
subprocess (selected with ``PYTHON_KEYRING_BACKEND=tests.ops.file_keyring.JsonFileKeyring``)
and the test share them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class JsonFileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    @property
    def _file(self) -> Path:
        return Path(os.environ["ASYNC_USERSYNC_TEST_KEYRING"])

    def _entries(self) -> dict[str, str]:
        return json.loads(self._file.read_text()) if self._file.exists() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._entries().get(f"{service}\0{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        self._file.write_text(json.dumps({**self._entries(), f"{service}\0{username}": password}))

    def delete_password(self, service: str, username: str) -> None:
        entries = self._entries()
        if entries.pop(f"{service}\0{username}", None) is None:
            raise PasswordDeleteError("no such entry")
        self._file.write_text(json.dumps(entries))
