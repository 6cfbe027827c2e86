"""``make demo``: the main job end to end on an embedded default, from a fresh clone.

It starts a private slapd holding a generated directory (5,000 users in 20 groups, two of them
nesting others), and a sandbox org at time-scale 60 (UMAPI's per-minute limits become per-second)
already holding 3,000 users: most match the directory, some carry stale groups, some have left
the directory. It writes User Sync's config files into a fresh folder and runs the real command

    async-usersync sync --users mapped --process-groups --adobe-only-user-action remove

as a subprocess, with its live progress, then shows the lines of its log a cron mail would keep
(the log file has every change), what changed in the org and where the log is. The
servers are stopped on every exit (end, error, Ctrl-C, SIGTERM); the folder with the config
files and the log is kept for you to read.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

from async_usersync.demo.slapd import LocalSlapd, start_slapd
from async_usersync.demo.directory_data import COUNTRIES, generated_users, group_ldif, people_ou_ldif

BASE_DN = "dc=example,dc=org"
DOMAIN = "example.org"
DIRECTORY_USERS = 5_000
GROUPED_USERS = 4_800
"""Users 0..4,799 are in one of the 18 leaf groups; the last 200 are in none, so ``mapped`` skips them."""
LEAF_GROUPS = 18
ADOBE_MATCHING = 2_400
"""Directory users 0..2,399 already exist in the org; 2,400..4,799 are to be created."""
ADOBE_DEPARTED = 597
ADOBE_VISITORS = 3
"""Adobe IDs, an excluded identity type: never touched."""
TIME_SCALE = 60.0
SYNC_ARGUMENTS = ("--users", "mapped", "--process-groups", "--adobe-only-user-action", "remove")


def leaf_group(number: int) -> str:
    """The leaf group of generated user ``number``: ``Team 01`` to ``Team 18`` in turn."""
    return f"Team {number % LEAF_GROUPS + 1:02d}"


def uid(number: int) -> str:
    """The uid of generated user ``number`` (``user0000042``), as ``generated_users`` names it."""
    return f"user{number:07d}"


def directory_ldif(path: Path) -> None:
    """The generated directory, loaded offline: 20 groupOfNames, "Team 19" nesting Teams 01-03 and
    "Team 20" nesting "Team 19" and Team 04 (read with two_steps_lookup and nested_group)."""
    members: dict[str, list[str]] = {}
    for number in range(GROUPED_USERS):
        members.setdefault(leaf_group(number), []).append(f"uid={uid(number)},ou=people,{BASE_DN}")
    group_dn = f"ou=groups,{BASE_DN}"
    members["Team 19"] = [f"cn=Team {n:02d},{group_dn}" for n in (1, 2, 3)]
    members["Team 20"] = [f"cn=Team 19,{group_dn}", f"cn=Team 04,{group_dn}"]
    with path.open("w", encoding="utf8") as stream:
        stream.write(people_ou_ldif(BASE_DN))
        stream.writelines(generated_users(BASE_DN, DIRECTORY_USERS, domain=DOMAIN))
        stream.write(people_ou_ldif(BASE_DN, "groups"))
        stream.writelines(group_ldif(BASE_DN, name, dns) for name, dns in sorted(members.items()))


def group_mapping() -> list[dict[str, Any]]:
    """connector-ldap's ``groups`` for the demo: each leaf team to the Adobe group of the same name,
    ``Team 19`` to ``Photoshop Users`` and ``Team 20`` to ``All Apps``."""
    mapping = [{"directory_group": f"Team {n:02d}", "adobe_groups": [f"Team {n:02d}"]} for n in range(1, LEAF_GROUPS + 1)]
    mapping.append({"directory_group": "Team 19", "adobe_groups": ["Photoshop Users"]})
    mapping.append({"directory_group": "Team 20", "adobe_groups": ["All Apps"]})
    return mapping


def desired_groups(number: int) -> list[str]:
    """The Adobe groups generated user ``number`` should end with (sorted), through the nesting of
    Teams 19 and 20."""
    leaf = leaf_group(number)
    wanted = [leaf]
    if leaf in ("Team 01", "Team 02", "Team 03"):
        wanted += ["Photoshop Users", "All Apps"]
    if leaf == "Team 04":
        wanted.append("All Apps")
    return sorted(wanted)


def adobe_org(org_id: str) -> dict[str, Any]:
    """3,000 users: 2,400 matching (every seventh with a stale group instead of its own), 597 who
    left the directory, 3 Adobe IDs."""
    groups = [{"groupName": f"Team {n:02d}", "type": "USER_GROUP"} for n in range(1, LEAF_GROUPS + 1)]
    groups += [{"groupName": name, "type": "PRODUCT_PROFILE", "productName": "Creative Cloud (Sandbox)"}
               for name in ("Photoshop Users", "All Apps")]
    users = []
    for number in range(ADOBE_MATCHING):
        groups_now = desired_groups(number)
        if number % 7 == 0:
            groups_now = sorted({leaf_group(number + 5), *groups_now[1:]})
        users.append(_adobe_user(f"{uid(number)}@{DOMAIN}", f"Given{number}", f"Surname{number}",
                                 COUNTRIES[number % len(COUNTRIES)], groups_now))
    for number in range(ADOBE_DEPARTED):
        users.append(_adobe_user(f"left{number:04d}@{DOMAIN}", "Former", f"Colleague{number}", "US",
                                 [leaf_group(number)] if number % 2 else []))
    for number in range(ADOBE_VISITORS):
        users.append(_adobe_user(f"visitor{number}@example.net", "Visiting", f"Partner{number}", "US", ["All Apps"],
                                 identity_type="adobeID"))
    return {"org_id": org_id, "groups": groups, "users": users}


def _adobe_user(email: str, firstname: str, lastname: str, country: str, groups: list[str],
                identity_type: str = "federatedID") -> dict[str, Any]:
    return {"email": email, "username": email, "domain": email.rpartition("@")[2], "type": identity_type,
            "firstname": firstname, "lastname": lastname, "country": country, "groups": groups}


@dataclass
class Sandbox:
    """The sandbox subprocess the demo started, with its URL, CA certificate and credentials."""
    process: subprocess.Popen[str]
    url: str
    ca_cert: Path
    org_id: str
    client_id: str
    client_secret: str

    @property
    def host(self) -> str:
        """``host:port`` of the sandbox's URL."""
        return self.url.split("://", 1)[1]

    def get(self, what: str) -> Any:
        """GET ``/_sandbox/<what>`` (``state``, ``stats``) as decoded JSON, trusting the sandbox's CA."""
        context = ssl.create_default_context(cafile=str(self.ca_cert))
        with urllib.request.urlopen(f"{self.url}/_sandbox/{what}", context=context, timeout=30) as response:
            return json.load(response)


@contextlib.contextmanager
def running_sandbox(state_file: Path) -> Iterator[Sandbox]:
    """``async-usersync sandbox`` as a subprocess, stopped (SIGTERM, then SIGKILL) on exit."""
    credentials = {"org_id": json.loads(state_file.read_text())["org_id"], "client_id": "demo-client",
                   "client_secret": "demo-secret"}
    process = subprocess.Popen(
        [sys.executable, "-m", "async_usersync", "sandbox", "--port", "0", "--time-scale", str(TIME_SCALE),
         "--state-file", str(state_file), "--client-id", credentials["client_id"],
         "--client-secret", credentials["client_secret"]],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        listening = process.stdout.readline().split()
        ca_line = process.stdout.readline().split()
        if listening[:3] != ["sandbox", "listening", "on"] or ca_line[:2] != ["sandbox", "ca-cert"]:
            raise RuntimeError(f"the sandbox did not start (exit code {process.poll()})")
        yield Sandbox(process, listening[3], Path(ca_line[2]), **credentials)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def write_config(folder: Path, slapd: LocalSlapd, sandbox: Sandbox) -> Path:
    """User Sync's three files, as an admin would write them for this directory and org."""
    files = {
        "connector-ldap.yml": {
            "host": slapd.url, "base_dn": slapd.base_dn, "username": slapd.admin_dn, "password": slapd.admin_password,
            "all_users_filter": "(objectClass=inetOrgPerson)", "search_page_size": 500,
            "two_steps_lookup": {"group_member_attribute_name": "member", "nested_group": True},
        },
        "connector-umapi.yml": {
            "authentication_method": "oauth",
            "enterprise": {"org_id": sandbox.org_id, "client_id": sandbox.client_id, "client_secret": sandbox.client_secret},
            "server": {"host": sandbox.host, "auth_host": sandbox.host, "ca_file": str(sandbox.ca_cert),
                       # the sandbox runs 60 times faster than Adobe: its per-minute limits last a second
                       "limits": {"window": 60.0 / TIME_SCALE}},
        },
        "user-sync-config.yml": {
            "adobe_users": {"connectors": {"umapi": "connector-umapi.yml"}, "exclude_identity_types": ["adobeID"],
                            "exclude_adobe_groups": ["_org_admin"]},
            "directory_users": {"user_identity_type": "federatedID", "default_country_code": "US",
                                "connectors": {"ldap": "connector-ldap.yml"}, "groups": group_mapping()},
            "limits": {"max_adobe_only_users": 1000},
            "logging": {"log_to_file": True, "file_log_directory": "logs", "file_log_name_format": "sync-{:%Y-%m-%d}.log",
                        "console_log_level": "warning"},
        },
    }
    for name, data in files.items():
        (folder / name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf8")
    return folder / "user-sync-config.yml"


CRON_MAIL_LINES = re.compile(r"CRITICAL|WARNING|ERROR|=====|-----|Number of")
"""What the operating guide's cron example keeps of a run's log."""


def cron_mail(log_file: Path) -> list[str]:
    """The lines of the log an admin's cron mail would show (every change is in the full log)."""
    with log_file.open(encoding="utf8") as stream:
        return [line.rstrip("\n") for line in stream if CRON_MAIL_LINES.search(line)]


def org_overview(sandbox: Sandbox) -> tuple[int, int]:
    """(users in the org, group memberships)."""
    users = sandbox.get("state")["users"]
    return len(users), sum(len(user.get("groups", [])) for user in users)


def main() -> int:
    """Runs the demo end to end and returns the sync's exit code (1 when a server could not be
    started, 130 on Ctrl-C); everything is cleaned up but the config files, log and summary."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up below on SIGTERM too
    folder = Path(tempfile.mkdtemp(prefix="async-usersync-demo-"))
    scratch = folder / "servers"
    slapd: LocalSlapd | None = None
    try:
        step(f"Generating a directory of {DIRECTORY_USERS:,} users in 20 groups and starting a private slapd")
        ldif = scratch / "directory.ldif"
        scratch.mkdir(parents=True)
        directory_ldif(ldif)
        slapd = start_slapd(scratch / "slapd", BASE_DN, offline_ldif=ldif)
        state_file = scratch / "org.json"
        state_file.write_text(json.dumps(adobe_org("DEMO0000000000000000DEMO@AdobeOrg")))
        step(f"Starting a sandbox org at time-scale {TIME_SCALE:g} holding {ADOBE_MATCHING + ADOBE_DEPARTED + ADOBE_VISITORS:,} users")
        with running_sandbox(state_file) as sandbox:
            config_file = write_config(folder, slapd, sandbox)
            users_before, memberships_before = org_overview(sandbox)
            command = [sys.executable, "-m", "async_usersync", "sync", *SYNC_ARGUMENTS, "-c", str(config_file),
                       "--summary-json", str(folder / "summary.json")]
            step("Running: async-usersync sync " + " ".join(SYNC_ARGUMENTS))
            started = time.monotonic()
            code = subprocess.run(command, cwd=folder).returncode  # its console shows progress and warnings
            elapsed = time.monotonic() - started
            users_after, memberships_after = org_overview(sandbox)
            actions = sandbox.get("stats")["families"]["action"]
        logs = sorted((folder / "logs").glob("*.log"))
        if logs:
            step("What a cron mail would show of the log")
            print("\n".join(cron_mail(logs[-1])))
        step(f"Done in {elapsed:.1f} s, exit code {code}")
        print(f"  org users:          {users_before:,} -> {users_after:,}")
        print(f"  group memberships:  {memberships_before:,} -> {memberships_after:,}")
        print(f"  action requests:    {actions['requests']:,} (throttled: {actions['throttled']}); at Adobe's real limit "
              f"of 10 a minute they take {actions['requests'] / 10:.0f} min, here {TIME_SCALE:g} times faster")
        print(f"  config files:       {folder}")
        print(f"  log:                {logs[-1] if logs else '(none)'}")
        print(f"  summary (JSON):     {folder / 'summary.json'}")
        return code
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (OSError, RuntimeError) as error:
        print(f"demo failed: {error}", file=sys.stderr)
        return 1
    finally:
        if slapd is not None:
            slapd.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def step(text: str) -> None:
    """Prints a ``==>`` heading for the next step of the demo."""
    print(f"\n==> {text}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
