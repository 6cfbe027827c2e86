"""A private OpenLDAP server (slapd) on free loopback ports, for tests, benchmarks and the demo.

It runs from a temporary folder with a generated ``slapd.conf``: an mdb database, the memberOf
overlay, the core/cosine/inetorgperson/nis schemas and a private CA (made with ``cryptography``)
so it serves ``ldap://`` (with StartTLS) and ``ldaps://`` at once.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SLAPD = Path("/usr/sbin/slapd")
SLAPADD = Path("/usr/sbin/slapadd")
SCHEMA_FOLDER = Path("/etc/ldap/schema")
MODULE_FOLDER = Path("/usr/lib/ldap")


@dataclass
class LocalSlapd:
    """A running slapd. ``stop()`` ends it; ``pause()``/``resume()`` freeze it (SIGSTOP/SIGCONT)."""

    folder: Path
    base_dn: str
    admin_dn: str
    admin_password: str
    port: int
    tls_port: int
    ca_cert_file: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """``ldap://127.0.0.1:<port>``."""
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        """``ldaps://127.0.0.1:<tls_port>``, with a certificate signed by ``ca_cert_file``."""
        return f"ldaps://127.0.0.1:{self.tls_port}"

    @property
    def log_file(self) -> Path:
        """slapd's log in the server's folder."""
        return self.folder / "slapd.log"

    def searches(self) -> list[tuple[str, str]]:
        """(base, filter) of each search logged so far (needs ``log_searches``), in order."""
        pattern = re.compile(r'SRCH base="(.*)" scope=\d+ deref=\d+ filter="(.*)"$')
        return [(match.group(1), match.group(2)) for line in self.log_file.read_text(errors="replace").splitlines()
                if (match := pattern.search(line))]

    def add_ldif(self, ldif: str, manage_dsa_it: bool = False) -> None:
        """Adds entries online with ldapadd, so overlays (memberOf) see them. ``manage_dsa_it``
        sends the ManageDsaIT control, which adding a referral entry needs."""
        self._change("ldapadd", ldif, manage_dsa_it)

    def modify_ldif(self, ldif: str) -> None:
        """Changes entries online with ldapmodify (``changetype: modify`` records)."""
        self._change("ldapmodify", ldif)

    def _change(self, tool: str, ldif: str, manage_dsa_it: bool = False) -> None:
        result = subprocess.run(
            [tool, "-x", "-H", self.url, "-D", self.admin_dn, "-w", self.admin_password, *(["-M"] if manage_dsa_it else [])],
            input=ldif.encode("utf8"), capture_output=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed: {result.stderr.decode(errors='replace')}")

    def pause(self) -> None:
        """Freezes the server (SIGSTOP) and returns once it is stopped: it then accepts TCP
        connections (the kernel does) but answers nothing."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)
        stat = Path(f"/proc/{self.process.pid}/stat")
        deadline = time.monotonic() + 5
        while stat.read_text().rsplit(")", 1)[1].split()[0] not in ("T", "t") and time.monotonic() < deadline:
            time.sleep(0.005)

    def resume(self) -> None:
        """Lets a paused server run again (SIGCONT)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Ends the server (SIGTERM, SIGKILL after 10 s); does nothing when it is not running."""
        if self.process is None:
            return
        self.process.send_signal(signal.SIGCONT)
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def free_port() -> int:
    """A TCP port on 127.0.0.1 free at the time of asking."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_slapd(folder: Path, base_dn: str = "dc=example,dc=org", offline_ldif: Path | None = None,
                admin_password: str = "admin-secret", log_searches: bool = False) -> LocalSlapd:
    """Writes a config into ``folder``, bulk-loads ``offline_ldif`` with slapadd (fast, but the
    memberOf overlay does not run offline) and starts slapd. The base entry is always created.
    With ``log_searches`` the server logs every search it receives (see ``searches()``)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "db").mkdir(exist_ok=True)
    server = LocalSlapd(folder=folder, base_dn=base_dn, admin_dn=f"cn=admin,{base_dn}",
                        admin_password=admin_password, port=free_port(), tls_port=free_port(),
                        ca_cert_file=folder / "ca.pem")
    _write_certificates(folder)
    config = folder / "slapd.conf"
    config.write_text(_slapd_conf(server))
    _slapadd(config, _base_ldif(base_dn))
    if offline_ldif is not None:
        _slapadd(config, offline_ldif)
    with server.log_file.open("wb") as log:
        server.process = subprocess.Popen(
            [str(SLAPD), "-d", "stats" if log_searches else "0", "-f", str(config),
             "-h", f"{server.url}/ {server.ldaps_url}/"],
            stdout=subprocess.DEVNULL, stderr=log,
        )
    _wait_until_listening(server)
    return server


def _slapd_conf(server: LocalSlapd) -> str:
    schemas = "\n".join(f"include {SCHEMA_FOLDER / name}.schema" for name in ("core", "cosine", "inetorgperson", "nis"))
    folder = server.folder
    return f"""{schemas}
modulepath {MODULE_FOLDER}
moduleload back_mdb
moduleload memberof
pidfile {folder}/slapd.pid
argsfile {folder}/slapd.args
TLSCACertificateFile {folder}/ca.pem
TLSCertificateFile {folder}/server.pem
TLSCertificateKeyFile {folder}/server-key.pem
sizelimit unlimited
database mdb
maxsize 4294967296
suffix "{server.base_dn}"
rootdn "{server.admin_dn}"
rootpw {server.admin_password}
directory {folder}/db
dbnosync
index objectClass eq
index cn,uid,mail eq
index member,memberOf eq
overlay memberof
"""


def _base_ldif(base_dn: str) -> str:
    first_value = base_dn.split(",")[0].split("=", 1)[1]
    return f"dn: {base_dn}\nobjectClass: dcObject\nobjectClass: organization\no: {first_value}\ndc: {first_value}\n"


def _slapadd(config: Path, ldif: str | Path) -> None:
    if isinstance(ldif, Path):
        command = [str(SLAPADD), "-q", "-f", str(config), "-l", str(ldif)]
        result = subprocess.run(command, capture_output=True)
    else:
        result = subprocess.run([str(SLAPADD), "-q", "-f", str(config)], input=ldif.encode("utf8"), capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"slapadd failed: {result.stderr.decode(errors='replace')}")


def _wait_until_listening(server: LocalSlapd, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    assert server.process is not None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            error = server.log_file.read_text(errors="replace")
            raise RuntimeError(f"slapd exited with {server.process.returncode}: {error}")
        try:
            with socket.create_connection(("127.0.0.1", server.tls_port), timeout=0.2):
                pass
            with socket.create_connection(("127.0.0.1", server.port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError("slapd did not start listening in time")


def _write_certificates(folder: Path) -> None:
    """A private CA and a server certificate for 127.0.0.1 and localhost."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "async-usersync test CA")])
    ca_cert = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])).issuer_name(ca_name)
        .public_key(server_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_file = folder / "server-key.pem"
    key_file.write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                                  serialization.NoEncryption()))
    os.chmod(key_file, 0o600)
