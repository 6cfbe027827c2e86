"""A local stand-in for UMAPI and Adobe IMS, faithful enough for Adobe's umapi-client 3.0.1.

Use ``async with run_sandbox(SandboxConfig(...)) as server`` in-process, or ``async-usersync sandbox``.
"""

from async_usersync.sandbox.config import RateLimit, SandboxConfig
from async_usersync.sandbox.server import SandboxServer, run_sandbox

__all__ = ["RateLimit", "SandboxConfig", "SandboxServer", "run_sandbox"]
