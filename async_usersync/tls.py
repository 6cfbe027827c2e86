"""How the tool trusts servers over TLS (IMS, UMAPI, LDAP), in one place.

Verification is on unless the user turns it off. The CA bundle is, in order: the config's
option (for a TLS-inspecting firewall, the fix the operating guide recommends), then
``REQUESTS_CA_BUNDLE`` (which User Sync honoured through requests), then ``SSL_CERT_FILE``,
then the system's store. A bundle replaces the system's store, as it does with requests.
"""

from __future__ import annotations

import logging
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from async_usersync.errors import ConfigError

ENVIRONMENT_BUNDLES = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")

logger = logging.getLogger("async_usersync.tls")


@dataclass(frozen=True)
class TlsTrust:
    """How to check a server's certificate: whether to verify at all, and the CA bundle (None: the
    system's store). ``resolve`` raises ConfigError when the bundle it picks does not exist."""
    verify: bool = True
    ca_bundle: Path | None = None
    """A PEM file, or a folder of hashed certificates; None for the system's store."""
    source: str = "the system's certificate store"
    """Where ``ca_bundle`` came from, for messages: the config key or the environment variable."""

    @classmethod
    def resolve(cls, verify: bool = True, ca_bundle: Path | None = None, *, option_name: str = "ca_file",
                environ: Mapping[str, str] = os.environ) -> "TlsTrust":
        """Picks the bundle from the option or the environment, checking that it exists."""
        if ca_bundle is not None:
            candidate, source = ca_bundle, f"'{option_name}'"
        else:
            named = next(((name, environ[name]) for name in ENVIRONMENT_BUNDLES if environ.get(name)), None)
            if named is None:
                return cls(verify=verify)
            candidate, source = Path(named[1]).expanduser(), f"the environment variable {named[0]}"
        if not candidate.exists():
            raise ConfigError(f"the CA bundle {candidate} named by {source} does not exist")
        return cls(verify=verify, ca_bundle=candidate, source=source)

    def ssl_context(self, purpose: str) -> ssl.SSLContext:
        """A client context for ``purpose`` (named in the warning when verification is off)."""
        if not self.verify:
            logger.warning("TLS certificate verification is OFF for %s: anyone on the network path can read and "
                           "change this traffic. Give the firewall's CA in a CA bundle instead and remove "
                           "ssl_cert_verify: False", purpose)
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        if self.ca_bundle is None:
            return ssl.create_default_context()
        try:
            if self.ca_bundle.is_dir():
                return ssl.create_default_context(capath=str(self.ca_bundle))
            return ssl.create_default_context(cafile=str(self.ca_bundle))
        except (ssl.SSLError, OSError) as error:
            raise ConfigError(f"the CA bundle {self.ca_bundle} named by {self.source} cannot be loaded: "
                              f"{getattr(error, 'reason', None) or error}") from None
