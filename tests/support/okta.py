"""Fixtures that start the project's fake Okta org (``async_usersync.sandbox.okta``).

- ``okta_directory``: the ``OktaDirectory`` the ``okta`` fixture serves (None: one seeded from
  ``okta_config``; override the fixture to serve another).
- ``okta_config``: the ``OktaSandboxConfig`` it starts with (TLS on, port 0, Okta's limits).
- ``okta``: a running in-process fake Okta org (``OktaSandboxServer``): ``.host``, ``.ca_cert``,
  ``.api_token``, ``.directory``, ``.stats(family)``, ``.sandbox.config`` (faults can change mid-test).
- ``okta_connector``: ``okta_connector(**keys)`` the connector-okta.yml mapping for it (``keys``
  replace or add keys).
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Callable

import pytest

from async_usersync.sandbox.okta import OktaDirectory, OktaSandboxConfig, OktaSandboxServer, run_okta_sandbox


@pytest.fixture
def okta_directory() -> OktaDirectory | None:
    return None


@pytest.fixture
def okta_config() -> OktaSandboxConfig:
    return OktaSandboxConfig(port=0)


@pytest.fixture
async def okta(okta_config: OktaSandboxConfig, okta_directory: OktaDirectory | None) -> AsyncIterator[OktaSandboxServer]:
    async with run_okta_sandbox(okta_config, okta_directory) as server:
        yield server


@pytest.fixture
def okta_connector(okta: OktaSandboxServer) -> Callable[..., dict[str, Any]]:
    def connector(**keys: Any) -> dict[str, Any]:
        return {"host": okta.host, "api_token": okta.api_token, "ca_file": str(okta.ca_cert),
                "rate_window": okta.sandbox.config.window} | keys
    return connector
