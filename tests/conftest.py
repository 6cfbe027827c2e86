"""Fixtures live in tests/support, one module per real server the tests start.

The secret registry is process-wide: each test starts and ends with it empty."""

from __future__ import annotations

from typing import Iterator

import pytest

from async_usersync.redaction import forget_secrets

pytest_plugins = ["tests.support.slapd", "tests.support.sandbox", "tests.support.okta"]


@pytest.fixture(autouse=True)
def empty_secret_registry() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()
