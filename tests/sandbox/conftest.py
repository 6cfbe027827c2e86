from __future__ import annotations

import pytest

from async_usersync.sandbox import SandboxServer
from tests.support.sandbox import SandboxCaller


@pytest.fixture
def caller(sandbox: SandboxServer, sandbox_http) -> SandboxCaller:
    return SandboxCaller(sandbox_http, sandbox)
