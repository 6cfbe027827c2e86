"""Helpers for the UMAPI client tests: settings that point the client at a running sandbox."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from async_usersync.sandbox import SandboxConfig, SandboxServer
from async_usersync.umapi import RateLimits, UmapiSettings

TIME_SCALE = 600.0
"""Each per-minute limit becomes a per-0.1-second one, so throttled tests take well under a second."""


def client_settings(server: SandboxServer, **overrides: Any) -> UmapiSettings:
    """Settings for the sandbox; the client's limits match the sandbox's unless overridden."""
    scale = server.config.time_scale
    base = UmapiSettings(
        org_id=server.org_id, client_id=server.client_id, client_secret=server.client_secret,
        host=f"{server.host}:{server.port}", auth_host=f"{server.host}:{server.port}", ca_file=server.ca_cert,
        limits=RateLimits(window=60.0 / scale), backoff_base=0.01, backoff_jitter=0.01, timeout=5.0,
    )
    return dataclasses.replace(base, **overrides)


@pytest.fixture
def sandbox_config() -> SandboxConfig:
    return SandboxConfig(port=0, users=20, groups=6, time_scale=TIME_SCALE)
