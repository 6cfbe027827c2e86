"""A local stand-in for UMAPI and Adobe IMS, faithful enough for Adobe's umapi-client 3.0.1.

In-process: ``async with run_sandbox(SandboxConfig(port=0)) as server:`` then ``server.url`` (UMAPI
base), ``server.ims_host``, ``server.ca_cert``, ``server.state``. As a process: ``async-usersync sandbox``.

Modules: ``config`` (settings, run-time changes), ``state`` (the org and its indexes, the seeded org),
``actions`` + ``validation`` (POST /action), ``throttle``, ``faults``, ``ims`` (tokens), ``stats``,
``app`` (the aiohttp routes and the request gate), ``tls`` (the self-signed certificate), ``server``;
``okta``, a fake Okta org for the Okta source (``async-usersync okta-sandbox``).
The package imports nothing else from async_usersync, so it can serve any client.
"""

from async_usersync.sandbox.config import RateLimit, SandboxConfig
from async_usersync.sandbox.server import SandboxServer, run_sandbox

__all__ = ["RateLimit", "SandboxConfig", "SandboxServer", "run_sandbox"]
