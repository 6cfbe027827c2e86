"""The secret registry is process-wide: each test here starts and ends with it empty."""

from __future__ import annotations

from typing import Iterator

import pytest

from async_usersync.logs.redact import forget_secrets


@pytest.fixture(autouse=True)
def empty_secret_registry() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()
