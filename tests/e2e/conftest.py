"""End-to-end harness: a real slapd holding a small directory, an in-process sandbox org, the config
files User Sync would read, and the real ``async-usersync`` command run as a subprocess.

The directory (mapped groups in brackets):
    alice [Sales], bob [Sales, Engineering], carol [Engineering], dave [Platform, nested in
    Engineering], erin [no group], frank [Marketing, not mapped]
The org (``starting_org``):
    alice (up to date), bob (lacks Eng Team and Photoshop), carol (has a stale Sales Team),
    gone1 and gone2 (Adobe-only, gone2 without groups), keeper (Adobe-only, in the excluded group
    Keep), visitor (an Adobe ID, an excluded type), and no dave, erin or frank.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import aiohttp
import pytest
import yaml

from async_usersync.sandbox import SandboxConfig, SandboxServer, run_sandbox
from async_usersync.demo.slapd import LocalSlapd, start_slapd
from async_usersync.demo.directory_data import group_ldif, people_ou_ldif, user_ldif

BASE_DN = "dc=e2e,dc=test"
GROUPS_DN = f"ou=groups,{BASE_DN}"
DOMAIN = "e2e.test"
MAPPING = [
    {"directory_group": "Sales", "adobe_groups": ["Sales Team"]},
    {"directory_group": "Engineering", "adobe_groups": ["Eng Team", "Photoshop"]},
]


def email(name: str) -> str:
    return f"{name}@{DOMAIN}"


def directory_ldif(more_sales: tuple[tuple[str, ...], ...] = ()) -> str:
    """The directory above; ``more_sales`` adds (uid, given name, surname[, email]) people to Sales
    (the email defaults to uid@e2e.test)."""
    def dn(uid: str) -> str:
        return f"uid={uid},ou=people,{BASE_DN}"

    people = [user_ldif(BASE_DN, uid, uid.title(), "Tester", email(uid), "US")
              for uid in ("alice", "bob", "carol", "dave", "erin", "frank")]
    people += [user_ldif(BASE_DN, uid, given_name, surname, (mail or [email(uid)])[0], "US")
               for uid, given_name, surname, *mail in more_sales]
    groups = [
        group_ldif(BASE_DN, "Sales", [dn("alice"), dn("bob"), *(dn(person[0]) for person in more_sales)]),
        group_ldif(BASE_DN, "Platform", [dn("dave")]),
        group_ldif(BASE_DN, "Engineering", [dn("bob"), dn("carol"), f"cn=Platform,{GROUPS_DN}"]),
        group_ldif(BASE_DN, "Marketing", [dn("frank")]),
    ]
    return "".join([people_ou_ldif(BASE_DN), *people, people_ou_ldif(BASE_DN, "groups"), *groups])


@pytest.fixture(scope="session")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSlapd]:
    server = start_slapd(tmp_path_factory.mktemp("e2e-slapd"), BASE_DN)
    try:
        server.add_ldif(directory_ldif())
        yield server
    finally:
        server.stop()


def adobe_user(name: str, groups: list[str], identity_type: str = "federatedID", domain: str = DOMAIN) -> dict[str, Any]:
    return {"email": f"{name}@{domain}", "username": f"{name}@{domain}", "domain": domain, "type": identity_type,
            "firstname": name.title(), "lastname": "Tester", "country": "US", "groups": groups}


def starting_org() -> dict[str, Any]:
    groups = [{"groupName": name, "type": "USER_GROUP"} for name in ("Sales Team", "Eng Team", "Keep", "Other Team")]
    groups.append({"groupName": "Photoshop", "type": "PRODUCT_PROFILE", "productName": "Photoshop"})
    return {
        "org_id": SandboxConfig().org_id,
        "groups": groups,
        "users": [
            adobe_user("alice", ["Sales Team"]),
            adobe_user("bob", ["Sales Team"]),
            adobe_user("carol", ["Sales Team", "Eng Team", "Photoshop", "Other Team"]),
            adobe_user("gone1", ["Sales Team", "Other Team"]),
            adobe_user("gone2", []),
            adobe_user("keeper", ["Keep", "Sales Team"]),
            adobe_user("visitor", ["Sales Team"], identity_type="adobeID", domain="example.net"),
        ],
    }


@pytest.fixture
async def org(tmp_path: Path) -> AsyncIterator[SandboxServer]:
    """A sandbox holding ``starting_org()``, its own throttle off (the client still paces itself)."""
    state_file = tmp_path / "org.json"
    state_file.write_text(json.dumps(starting_org()))
    async with run_sandbox(SandboxConfig(port=0, throttle=False, state_file=str(state_file))) as server:
        yield server


def connector_umapi(org: SandboxServer, server: dict[str, Any] | None = None) -> dict[str, Any]:
    """connector-umapi.yml for a sandbox org; ``server`` entries replace keys of its ``server``."""
    return {
        "authentication_method": "oauth",
        "enterprise": {"org_id": org.org_id, "client_id": org.client_id, "client_secret": org.client_secret},
        "server": {"host": f"{org.host}:{org.port}", "endpoint": "/v2/usermanagement", "auth_host": f"{org.host}:{org.port}",
                   "auth_endpoint": "/ims/token/v2", "ca_file": str(org.ca_cert), "retries": 2, "timeout": 20,
                   "limits": {"window": 0.01}} | (server or {}),
    }


@dataclass
class Setup:
    folder: Path
    directory: LocalSlapd
    org: SandboxServer

    @property
    def config_file(self) -> Path:
        return self.folder / "user-sync-config.yml"

    def write(self, main: dict[str, Any] | None = None, ldap: dict[str, Any] | None = None,
              server: dict[str, Any] | None = None) -> None:
        """Writes the three config files; ``main``/``ldap`` entries replace whole top-level keys,
        ``server`` entries replace keys of connector-umapi.yml's ``server``."""
        umapi = connector_umapi(self.org, server)
        connector_ldap = {
            "host": self.directory.url, "base_dn": self.directory.base_dn, "username": self.directory.admin_dn,
            "password": self.directory.admin_password, "all_users_filter": "(objectClass=inetOrgPerson)",
            "two_steps_lookup": {"group_member_attribute_name": "member", "nested_group": True},
        } | (ldap or {})
        config = {
            "adobe_users": {"connectors": {"umapi": "connector-umapi.yml"}, "exclude_identity_types": ["adobeID"],
                            "exclude_adobe_groups": ["Keep"]},
            "directory_users": {"user_identity_type": "federatedID", "default_country_code": "US",
                                "connectors": {"ldap": "connector-ldap.yml"}, "groups": MAPPING},
            "limits": {"max_adobe_only_users": 10},
            "logging": {"log_to_file": True, "file_log_directory": "logs", "file_log_name_format": "sync.log"},
        } | (main or {})
        for name, data in (("connector-umapi.yml", umapi), ("connector-ldap.yml", connector_ldap),
                           ("user-sync-config.yml", config)):
            (self.folder / name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf8")

    async def sync(self, *arguments: str, env: dict[str, str] | None = None) -> "Run":
        """Runs ``async-usersync [arguments] -c <config>`` (sync is the default command), with
        ``env`` added to this process's environment."""
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "async_usersync", *arguments, "-c", str(self.config_file),
            "--lock-file", str(self.folder / "sync.lock"),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=self.folder,
            env=None if env is None else {**os.environ, **env})
        stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode is not None
        return Run(process.returncode, stdout.decode(), stderr.decode())

    async def users(self, org: SandboxServer | None = None) -> dict[str, list[str]]:
        """The org's users now (GET /_sandbox/state; ``org``: another sandbox): email -> sorted groups."""
        return {email: sorted(user["groups"]) for email, user in (await self.org_users(org)).items()}

    async def org_users(self, org: SandboxServer | None = None) -> dict[str, dict[str, Any]]:
        """The org's users now (GET /_sandbox/state; ``org``: another sandbox): email -> the user as
        the sandbox holds it."""
        state = await self._get("state", org)
        return {user["email"]: user for user in state["users"]}

    async def requests(self, family: str) -> int:
        """Requests the org has received for one endpoint family (GET /_sandbox/stats)."""
        return int((await self._get("stats"))["families"][family]["requests"])

    async def _get(self, what: str, org: SandboxServer | None = None) -> Any:
        server = org or self.org
        context = ssl.create_default_context(cafile=str(server.ca_cert))
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.base_url}/_sandbox/{what}", ssl=context) as response:
                assert response.status == 200
                return await response.json()


@dataclass
class Run:
    code: int
    out: str
    err: str

    def summary(self) -> dict[str, str]:
        """The Action Summary's lines: label -> value."""
        lines = {}
        for line in self.out.splitlines():
            if " - " in line and "Number of" in line:
                label, _, value = line.split(" - ", 1)[1].partition(": ")
                lines[label.strip()] = value.strip()
        return lines


@pytest.fixture
def setup(tmp_path: Path, directory: LocalSlapd, org: SandboxServer) -> Setup:
    result = Setup(tmp_path, directory, org)
    result.write()
    return result
