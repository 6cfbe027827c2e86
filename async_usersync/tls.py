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
class TlsKeys:
    """The config keys that set one connection's trust, as messages name them: the key that turns
    verification off and the key that names a CA bundle, each as ``KEY in FILE`` once a config file
    was read (``server.ssl_verify in /etc/async-usersync/connector-umapi.yml``)."""
    verify: str = "ssl_verify"
    ca_bundle: str = "ca_file"
    environment: bool = True
    """Whether ``REQUESTS_CA_BUNDLE`` / ``SSL_CERT_FILE`` apply (not to LDAP: libldap has its own ldap.conf)."""


@dataclass(frozen=True)
class TlsTrust:
    """How to check a server's certificate: whether to verify at all, and the CA bundle (None: the
    system's store). ``resolve`` raises ConfigError when the bundle it picks does not exist."""
    verify: bool = True
    ca_bundle: Path | None = None
    """A PEM file, or a folder of hashed certificates; None for the system's store."""
    source: str = "the system's certificate store"
    """Where ``ca_bundle`` came from, for messages: the config key or the environment variable."""
    keys: TlsKeys = TlsKeys()
    """The keys the messages name: the one that turns verification off, the one that names a CA."""

    @classmethod
    def resolve(cls, verify: bool = True, ca_bundle: Path | None = None, *, keys: TlsKeys = TlsKeys(),
                environ: Mapping[str, str] = os.environ) -> "TlsTrust":
        """Picks the bundle from the option (``keys.ca_bundle``) or, where ``keys.environment``, the
        environment, checking that it exists."""
        if ca_bundle is not None:
            candidate, source = ca_bundle, keys.ca_bundle
        else:
            named = next(((name, environ[name]) for name in ENVIRONMENT_BUNDLES if environ.get(name)), None)
            if named is None or not keys.environment:
                return cls(verify=verify, keys=keys)
            candidate, source = Path(named[1]).expanduser(), f"the environment variable {named[0]}"
        if not candidate.exists():
            raise ConfigError(f"the CA bundle {candidate} named by {source} does not exist")
        return cls(verify=verify, ca_bundle=candidate, source=source, keys=keys)

    def warn_if_unverified(self, purpose: str) -> None:
        """Logs the loud warning of a connection to ``purpose`` (``UMAPI and Adobe IMS``, ``the LDAP
        server at ...``) that does not verify certificates, naming the key that turned it off."""
        if not self.verify:
            logger.warning("TLS certificate verification is OFF for %s (%s is false): anyone on the network path "
                           "can read and change this traffic. Give the CA that signed the server's certificate in "
                           "%s instead, and set %s back to true", purpose, self.keys.verify, self.keys.ca_bundle,
                           self.keys.verify)

    def remedy(self) -> str:
        """What to do about a server certificate this trust does not accept, naming the keys to set."""
        if self.ca_bundle is not None:
            fix = f"add the CA that signed it to {self.ca_bundle} (named by {self.source})"
        else:
            also = f" (or {' / '.join(ENVIRONMENT_BUNDLES)})" if self.keys.environment else ""
            fix = f"give the CA that signed it in {self.keys.ca_bundle}{also}"
        return f"{fix}; set {self.keys.verify} to false only for a test server"

    def untrusted(self, server: str, detail: str) -> str:
        """The message for a certificate of ``server`` (``Adobe IMS at host``) that was not accepted,
        ``detail`` being the TLS library's reason, with ``remedy()``."""
        return f"the TLS certificate of {server} is not trusted ({detail}); {self.remedy()}"

    def ssl_context(self, purpose: str) -> ssl.SSLContext:
        """A client context for ``purpose`` (named in the warning when verification is off)."""
        if not self.verify:
            self.warn_if_unverified(purpose)
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
