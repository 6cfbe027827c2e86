"""Scale benchmark: an N-user directory against an N-user Adobe org, through the real pipeline.

For each N it generates, in a scratch folder:
  - the directory: an LDIF bulk-loaded into a private slapd with slapadd, and the same users as a
    CSV file. Each user carries its groups in ``memberOf`` (as Active Directory, or slapd's memberOf
    overlay, would), read through ``dynamic_group_member_attribute``;
  - the Adobe org: a sandbox state file, served by the sandbox as a separate process with its
    throttling off (``--no-throttle``) and the client's own limits raised, so only our cost shows.

Population (both sides N users): directory users 0..N-1, Adobe users 0.05N..1.05N-1, so 5% are new
(created), 5% are gone (removed from the org, the Adobe-only limit set to 20%), and of the 95% that
match, 3% have a changed last name and 5% changed groups (20 mapped groups, users in 1-3 of them).
Each entry also has a business code (``businessCategory``) and a company (``o``), which the
extension example reads; the org already has what that hook gives (a company user group for two
companies in three, the country), so the sync with the hook plans the same commands as without.
The org lists its users in a shuffled order, unrelated to the directory's, as a real org does: the
planner holds whichever side is ahead.

Each measurement runs in a process of its own (so its peak RSS is its own), one after the other on
the same servers: the directory read alone (LDAP, through the same source as the sync: by default
the child-process reader, ``LdapProcessSource``), the in-process LDAP reader alone (``LdapSource``,
for comparison), the Adobe read alone, the CSV read alone, then a whole sync: ``run_stages`` with the
LDAP source and the Adobe read, the real ``SyncPlanner``, and a sink that counts the commands
instead of sending them (sending is the push benchmark's subject); then the same sync with User
Sync's example extension hook (``example-config``'s ``extension-config.yml``, which does what User
Sync's example does: the country from the business code, a company's group from ``o``). ``--ldap-in-process`` makes the
sync (and "directory alone") use the in-process reader, as before the child existed.

Figures, per phase: wall seconds, CPU seconds of our process (all threads), peak RSS from the OS
(VmHWM), commands planned. The LDAP reader child's CPU and peak RSS (``RUSAGE_CHILDREN``, read once
it has exited) are shown apart; the whole footprint counted is our peak plus the child's peak, an
upper bound since the two need not peak at the same moment. Engine CPU is the event-loop thread's CPU inside the planner's calls
(``time.thread_time``), less the cost of the clock reads themselves, measured in the same process;
the garbage collections that happened to start inside those calls are shown apart. With the hook,
the hook's calls (``AfterMappingHook.apply``, timed the same way) are engine CPU too.

    .venv/bin/python benchmarks/scale.py 10000 100000 1000000 [--json benchmarks/results/scale.json]
                                         [--ldap-in-process] [--hook-pairs N]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from async_usersync.engine import AdobeOnlyAction, AdobeOnlyLimit, GroupMapping, SyncPlanner, SyncRules  # noqa: E402
from async_usersync.config.example import EXAMPLE_FILES  # noqa: E402
from async_usersync.config.extension import read_extension  # noqa: E402
from async_usersync.pipeline.extension import AfterMappingHook, ldap_source_attributes  # noqa: E402
from async_usersync.pipeline.job import SyncJob  # noqa: E402
from async_usersync.pipeline.stages import run_stages  # noqa: E402
from async_usersync.records import CommandResult, DirectoryRecord, IdentityType, UserCommand  # noqa: E402
from async_usersync.sandbox import SandboxConfig  # noqa: E402
from async_usersync.config.settings import CsvSettings, LdapSettings, UserSelection  # noqa: E402
from async_usersync.sources.csv import CsvSource  # noqa: E402
from async_usersync.sources.ldap import LdapSource  # noqa: E402
from async_usersync.sources.ldap_process import LdapProcessSource  # noqa: E402
from async_usersync.demo.slapd import start_slapd  # noqa: E402
from async_usersync.umapi import ActionTotals, RateLimits, UmapiClient, UmapiSettings  # noqa: E402

BASE_DN = "dc=example,dc=org"
GROUP_COUNT = 20
GROUP_SETS = 200
NEW_SHARE = 0.05
"""Of N: directory users not in the org (the org's extra users, as many, are gone)."""
RENAMED_EVERY = 33
"""Every 33rd matched user has a new last name (3%)."""
REGROUPED_EVERY = 20
"""Every 20th matched user (not renamed) has other groups (5%)."""
PAGE_SIZE = 1000
"""LDAP search page size."""
COMPANY_GROUPS = ("Company 1 Users", "Company 2 Users")


# --- the generated population -------------------------------------------------------------------

def directory_group(index: int) -> str:
    return f"Dept {index:02d}"


def adobe_group(index: int) -> str:
    return f"Profile {index:02d}"


def group_sets() -> list[tuple[int, ...]]:
    """200 distinct-enough sets of 1 to 3 group indexes, shared by the users (as real departments are)."""
    rng = random.Random(7)
    return [tuple(sorted(rng.sample(range(GROUP_COUNT), rng.randint(1, 3)))) for _ in range(GROUP_SETS)]


def company(number: int) -> int:
    """The company (1, 2 or 3) of a user; companies 1 and 2 have a user group, as in User Sync's example."""
    return number % 3 + 1


def email(number: int) -> str:
    return f"user{number:07d}@example.com"


def lastname(number: int, renamed: bool) -> str:
    return f"Married{number}" if renamed else f"Surname{number}"


def is_renamed(number: int) -> bool:
    return number % RENAMED_EVERY == 0


def is_regrouped(number: int) -> bool:
    return number % REGROUPED_EVERY == 0 and not is_renamed(number)


def write_directory(folder: Path, count: int) -> tuple[Path, Path]:
    """The directory's users 0..count-1 as LDIF (for slapadd) and as CSV; streamed, no list of users."""
    sets = group_sets()
    ldif_path, csv_path = folder / "directory.ldif", folder / "directory.csv"
    group_dns = [f"cn={directory_group(index)},ou=groups,{BASE_DN}" for index in range(GROUP_COUNT)]
    with ldif_path.open("w", encoding="utf8") as ldif, csv_path.open("w", encoding="utf8", newline="") as csv_file:
        ldif.write(f"dn: ou=people,{BASE_DN}\nobjectClass: organizationalUnit\nou: people\n\n")
        table = csv.writer(csv_file)
        table.writerow(["email", "firstname", "lastname", "country", "groups"])
        for number in range(count):
            groups = sets[number % GROUP_SETS]
            address, surname = email(number), lastname(number, is_renamed(number))
            member_of = "".join(f"memberOf: {group_dns[index]}\n" for index in groups)
            ldif.write(f"dn: uid=user{number:07d},ou=people,{BASE_DN}\nobjectClass: inetOrgPerson\n"
                       f"objectClass: extensibleObject\nuid: user{number:07d}\ncn: Given{number} {surname}\n"
                       f"givenName: Given{number}\nsn: {surname}\nmail: {address}\nc: US\n"
                       f"businessCategory: US{number:07d}\no: Company {company(number)}\n{member_of}\n")
            table.writerow([address, f"Given{number}", surname, "US", ",".join(directory_group(index) for index in groups)])
    return ldif_path, csv_path


def write_org(folder: Path, count: int, org_id: str) -> Path:
    """The sandbox state: users 0.05N..1.05N-1 in a shuffled order, as UMAPI lists them."""
    import orjson

    sets = group_sets()
    first = int(count * NEW_SHARE)
    numbers = list(range(first, first + count))
    random.Random(11).shuffle(numbers)
    users = []
    for number in numbers:
        address = email(number)
        groups = sets[(number + 1) % GROUP_SETS] if is_regrouped(number) else sets[number % GROUP_SETS]
        company_group = COMPANY_GROUPS[company(number) - 1:company(number)]
        users.append({"id": f"{number:016X}@sandbox.e", "type": "federatedID", "email": address, "username": address,
                      "domain": "example.com", "firstname": f"Given{number}", "lastname": lastname(number, False),
                      "country": "US", "status": "active",
                      "groups": [*(adobe_group(index) for index in groups), *company_group]})
    org_groups = [{"groupName": adobe_group(index), "type": "PRODUCT_PROFILE", "productName": "Scale (Sandbox)",
                   "licenseQuota": "UNLIMITED"} for index in range(GROUP_COUNT)]
    org_groups += [{"groupName": name, "type": "USER_GROUP"} for name in COMPANY_GROUPS]
    path = folder / "org.json"
    path.write_bytes(orjson.dumps({"org_id": org_id, "users": users, "groups": org_groups}))
    return path


def expected_commands(count: int) -> dict[str, int]:
    """What a correct plan holds for this population (checked against the planner's output)."""
    sets = group_sets()
    first = int(count * NEW_SHARE)
    matched = range(first, count)
    return {"create": first, "remove": first,
            "update": sum(1 for number in matched if is_renamed(number)),
            "groups": sum(1 for number in matched if is_regrouped(number)
                          and sets[number % GROUP_SETS] != sets[(number + 1) % GROUP_SETS])}


def sync_rules(extended_groups: tuple[str, ...] = ()) -> SyncRules:
    mapping = GroupMapping.from_pairs(((directory_group(index), [adobe_group(index)]) for index in range(GROUP_COUNT)),
                                      extended=extended_groups)
    return SyncRules(mapping=mapping, process_groups=True, update_user_info=True,
                     adobe_only_action=AdobeOnlyAction.REMOVE, limit=AdobeOnlyLimit(count=None, percent=20))


# --- what the child processes measure -------------------------------------------------------------

@dataclass(frozen=True)
class Servers:
    """Where the children find the servers (passed to them as JSON)."""

    ldap_url: str
    admin_dn: str
    admin_password: str
    sandbox_host: str
    ca_cert: str
    org_id: str
    client_id: str
    client_secret: str
    csv_path: str
    ldap_in_child: bool
    """The sync (and "directory alone") read LDAP in a child process."""


def peak_rss_mb() -> float:
    """VmHWM: the most resident memory this process has had, as the kernel counts it."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def process_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_of(pid: int) -> float:
    """CPU seconds another process (a server) has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    """CPU of our exited (waited-for) children: the LDAP reader process."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def children_peak_rss_mb() -> float:
    """The largest peak RSS among our exited children (Linux reports it in KiB)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def ldap_source(servers: Servers, in_child: bool | None = None,
                extra_attributes: tuple[str, ...] = ()) -> LdapSource | LdapProcessSource:
    """The sync's LDAP source (``in_child`` None), or the one asked for."""
    settings = LdapSettings(host=servers.ldap_url, base_dn=BASE_DN, username=servers.admin_dn,
                            password=servers.admin_password, all_users_filter="(objectClass=inetOrgPerson)",
                            search_page_size=PAGE_SIZE, dynamic_group_member_attribute="memberOf")
    source_type = LdapProcessSource if (servers.ldap_in_child if in_child is None else in_child) else LdapSource
    return source_type(settings, IdentityType.FEDERATED_ID, extra_attributes=extra_attributes)


def umapi_settings(servers: Servers) -> UmapiSettings:
    unlimited = RateLimits(action=1e9, users=1e9, groups=1e9)
    return UmapiSettings(org_id=servers.org_id, client_id=servers.client_id, client_secret=servers.client_secret,
                         host=servers.sandbox_host, auth_host=servers.sandbox_host, ca_file=Path(servers.ca_cert),
                         limits=unlimited)


def command_kind(command: UserCommand) -> str:
    if command.create is not None:
        return "create"
    if command.remove_from_org:
        return "remove"
    return "update" if command.update else "groups"


class CountingSink:
    """Stands in for the action sink: counts the commands and reports each completed, sending nothing."""

    def __init__(self, on_result: Callable[[CommandResult], None] | None) -> None:
        self.totals = ActionTotals()
        self._on_result = on_result

    async def __aenter__(self) -> "CountingSink":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        return None

    async def send(self, command: UserCommand) -> None:
        self.totals.sent += 1
        self.totals.completed += 1
        if self._on_result is not None:
            self._on_result(CommandResult(command))


class CountingClient(UmapiClient):
    """The real client for the reads; its action sink counts instead of sending."""

    def action_sink(self, on_result: Callable[[CommandResult], None] | None = None,  # type: ignore[override]
                    linger: float = 0.5) -> CountingSink:
        return CountingSink(on_result)


class TimedPlanner(SyncPlanner):
    """The real planner, adding up the CPU its calls take on the event-loop thread and counting
    the commands it plans by kind."""

    def __init__(self, rules: SyncRules) -> None:
        super().__init__(rules)
        self.cpu_seconds = 0.0
        self.collection_seconds = 0.0
        """Of ``cpu_seconds``: garbage collections that started inside a planner call. Whichever
        allocation crosses the threshold pays for collecting everyone's young objects."""
        self.calls = 0
        self.planned: Counter[str] = Counter()
        self._inside = False
        self._thread = threading.get_ident()
        self._collection_started = 0.0
        gc.callbacks.append(self._on_collection)  # for the life of the (single-use) process
        self.reads_done: dict[str, float] = {}
        """After both done-calls: wall clock, process CPU and peak RSS at that moment."""

    def _timed(self, call: Callable[..., list[UserCommand]], *args: Any) -> list[UserCommand]:
        started = time.thread_time()
        self._inside = True
        commands = call(*args)
        self._inside = False
        self.cpu_seconds += time.thread_time() - started
        self.calls += 1
        for command in commands:
            self.planned[command_kind(command)] += 1
        return commands

    def add_directory_user(self, user: Any) -> list[UserCommand]:
        return self._timed(super().add_directory_user, user)

    def add_adobe_user(self, user: Any) -> list[UserCommand]:
        return self._timed(super().add_adobe_user, user)

    def directory_done(self) -> list[UserCommand]:  # type: ignore[override]
        commands = self._timed(lambda: list(super(TimedPlanner, self).directory_done()))  # built here, so timed
        self._mark_reads()
        return commands

    def adobe_done(self) -> list[UserCommand]:
        commands = self._timed(super().adobe_done)
        self._mark_reads()
        return commands

    def finish(self) -> list[UserCommand]:
        return self._timed(super().finish)

    def _on_collection(self, phase: str, info: dict[str, int]) -> None:
        if not self._inside or threading.get_ident() != self._thread:
            return
        if phase == "start":
            self._collection_started = time.thread_time()
        else:
            self.collection_seconds += time.thread_time() - self._collection_started

    def _mark_reads(self) -> None:
        if self._directory_done and self._adobe_done:
            self.reads_done = {"wall": time.monotonic(), "cpu": process_cpu(), "rss_mb": peak_rss_mb()}


class TimedHook(AfterMappingHook):
    """The real hook runner, adding up the CPU its calls take (as ``TimedPlanner`` does)."""

    cpu_seconds = 0.0
    calls = 0

    def apply(self, user: DirectoryRecord) -> DirectoryRecord:
        started = time.thread_time()
        result = super().apply(user)
        self.cpu_seconds += time.thread_time() - started
        self.calls += 1
        return result


def clock_read_cost(samples: int = 200_000) -> float:
    """Seconds of thread CPU that one ``_timed`` wrapper adds beyond the call it wraps."""
    planner_like = TimedPlanner(SyncRules())
    for _ in range(samples):
        planner_like._timed(list)
    return planner_like.cpu_seconds / samples


async def count_users(users: Any) -> int:
    count = 0
    async for _ in users:
        count += 1
    return count


async def measure_directory_alone(servers: Servers) -> dict[str, Any]:
    return {"users": await count_users(ldap_source(servers).users(UserSelection("all")))}


async def measure_directory_in_process_alone(servers: Servers) -> dict[str, Any]:
    return {"users": await count_users(ldap_source(servers, in_child=False).users(UserSelection("all")))}


async def measure_csv_alone(servers: Servers) -> dict[str, Any]:
    source = CsvSource(CsvSettings(file_path=Path(servers.csv_path)), IdentityType.FEDERATED_ID)
    return {"users": await count_users(source.users(UserSelection("all")))}


async def measure_adobe_alone(servers: Servers) -> dict[str, Any]:
    async with UmapiClient(umapi_settings(servers)) as client:
        await client.transport.token.get()  # the IMS call is not part of the read
        return {"users": await count_users(client.users())}


async def measure_sync(servers: Servers, with_hook: bool = False) -> dict[str, Any]:
    timer_cost = clock_read_cost()
    hook = None
    if with_hook:
        with tempfile.TemporaryDirectory() as folder:
            extension_file = Path(folder) / "extension-config.yml"
            extension_file.write_text(EXAMPLE_FILES["extension-config.yml"])
            extension = read_extension(extension_file)
        rules = sync_rules(extension.extended_adobe_groups)
        hook = TimedHook(extension, rules, ldap_source_attributes)
        directory = ldap_source(servers, extra_attributes=extension.extended_attributes)
    else:
        rules = sync_rules()
        directory = ldap_source(servers)
    planner = TimedPlanner(rules)
    job = SyncJob(planner=planner, umapi=umapi_settings(servers), directory=directory, selection=UserSelection("all"),
                  hook=hook)
    started, cpu_started = time.monotonic(), process_cpu()
    result = await run_stages(job, client_type=CountingClient)
    finished, cpu_finished = time.monotonic(), process_cpu()
    child_cpu = children_cpu()
    if result.read_failure is not None:
        raise SystemExit(f"a read failed: {result.read_failure}")
    reads = planner.reads_done
    return {
        "reads_wall": reads["wall"] - started, "reads_cpu": reads["cpu"] - cpu_started, "reads_rss_mb": reads["rss_mb"],
        "directory_read": result.durations["directory_read"], "adobe_read": result.durations["adobe_read"],
        "engine_cpu": planner.cpu_seconds - planner.calls * timer_cost, "engine_cpu_raw": planner.cpu_seconds,
        "hook_cpu": hook.cpu_seconds - hook.calls * timer_cost if hook is not None else 0.0,
        "engine_collection_cpu": planner.collection_seconds,
        "after_reads_wall": finished - reads["wall"], "after_reads_cpu": cpu_finished - reads["cpu"],
        "commands": dict(planner.planned), "commands_sent": result.totals.sent,
        "directory_users": planner.counters.directory_users_read,
        "adobe_users": planner.counters.adobe_users_read,
        "wall": finished - started, "cpu": cpu_finished - cpu_started, "child_cpu_at_end": child_cpu,
    }


MEASUREMENTS: dict[str, Callable[[Servers], Any]] = {
    "directory_alone": measure_directory_alone, "directory_in_process_alone": measure_directory_in_process_alone,
    "adobe_alone": measure_adobe_alone, "csv_alone": measure_csv_alone, "sync": measure_sync,
    "sync_hook": lambda servers: measure_sync(servers, with_hook=True),
}


def run_child(kind: str, servers_json: str) -> None:
    servers = Servers(**json.loads(servers_json))
    started, cpu_started = time.monotonic(), process_cpu()
    measured = asyncio.run(MEASUREMENTS[kind](servers))
    # A measurement that times a narrower window than the whole event loop gives its own wall and cpu.
    figures = {"wall": time.monotonic() - started, "cpu": process_cpu() - cpu_started} | measured
    figures["peak_rss_mb"] = peak_rss_mb()
    figures["child_cpu"] = children_cpu()
    figures["child_peak_rss_mb"] = children_peak_rss_mb()
    print(json.dumps(figures))


def measure_in_child(kind: str, servers: Servers) -> dict[str, Any]:
    output = subprocess.run([sys.executable, __file__, "--child", kind, json.dumps(servers.__dict__)],
                            cwd=ROOT, check=True, capture_output=True, text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


# --- one size, all sizes ---------------------------------------------------------------------------

def measure_size(count: int, scratch: Path, ldap_in_child: bool = True, hook_pairs: int = 0) -> dict[str, Any]:
    from tests.support.sandbox import run_sandbox_process

    folder = scratch / f"n{count}"
    folder.mkdir()
    setup: dict[str, float] = {}
    started = time.monotonic()
    ldif, csv_path = write_directory(folder, count)
    org_id = SandboxConfig().org_id
    state = write_org(folder, count, org_id)
    setup["generate"] = time.monotonic() - started
    started = time.monotonic()
    slapd = start_slapd(folder / "slapd", BASE_DN, offline_ldif=ldif)
    setup["slapadd_and_start"] = time.monotonic() - started
    try:
        started = time.monotonic()
        with run_sandbox_process("--users", "0", "--groups", "0", "--no-throttle", "--state-file", str(state),
                                 "--user-page-size", "2000") as sandbox:
            setup["sandbox_load"] = time.monotonic() - started
            assert sandbox.ca_cert is not None
            servers = Servers(ldap_url=slapd.url, admin_dn=slapd.admin_dn, admin_password=slapd.admin_password,
                              sandbox_host=sandbox.ims_host, ca_cert=str(sandbox.ca_cert), org_id=org_id,
                              client_id=sandbox.client_id, client_secret=sandbox.client_secret, csv_path=str(csv_path),
                              ldap_in_child=ldap_in_child)
            phases = {}
            server_pids = {"slapd": slapd.process.pid, "sandbox": sandbox.process.pid}  # type: ignore[union-attr]
            for kind in MEASUREMENTS:
                if kind == "directory_in_process_alone" and not ldap_in_child:
                    continue  # "directory alone" is that reader already
                servers_before = {name: process_cpu_of(pid) for name, pid in server_pids.items()}
                phases[kind] = measure_in_child(kind, servers)
                phases[kind]["servers_cpu"] = {name: process_cpu_of(pid) - servers_before[name]
                                               for name, pid in server_pids.items()}
                print(f"  {count:,}: {kind} done in {phases[kind]['wall']:.1f} s", file=sys.stderr, flush=True)
            pairs = []
            for _ in range(hook_pairs):  # on a shared machine, one pair alone can meet very different loads
                without, hooked = measure_in_child("sync", servers), measure_in_child("sync_hook", servers)
                pairs.append({"engine_cpu_s": without["engine_cpu"], "hook_planner_cpu_s": hooked["engine_cpu"],
                              "hook_cpu_s": hooked["hook_cpu"], "wall_s": without["wall"], "hook_wall_s": hooked["wall"],
                              "ratio": (hooked["engine_cpu"] + hooked["hook_cpu"]) / without["engine_cpu"]})
                print(f"  {count:,}: another sync and sync_hook done", file=sys.stderr, flush=True)
            state.unlink()  # the sandbox would write the org back on exit: not needed
    finally:
        slapd.stop()
    return {"users": count, "setup": setup, "phases": phases, "expected_commands": expected_commands(count),
            "ldap_reader": "child process" if ldap_in_child else "in process", "hook_pairs": pairs}


def summarize(row: dict[str, Any]) -> dict[str, Any]:
    """The figures the README and the plots use, derived from one size's measurements."""
    phases, count = row["phases"], row["users"]
    sync = phases["sync"]
    slower_read = max(phases["directory_alone"]["wall"], phases["adobe_alone"]["wall"])
    in_process = phases.get("directory_in_process_alone", phases["directory_alone"])
    return {
        "users": count, "ldap_reader": row.get("ldap_reader", "in process"),
        "directory_alone_s": phases["directory_alone"]["wall"], "adobe_alone_s": phases["adobe_alone"]["wall"],
        "directory_in_process_alone_s": in_process["wall"],
        "read_overlap_ratio_vs_in_process_read": sync["reads_wall"] / max(in_process["wall"], phases["adobe_alone"]["wall"]),
        "csv_alone_s": phases["csv_alone"]["wall"],
        "reads_s": sync["reads_wall"], "read_overlap_ratio": sync["reads_wall"] / slower_read,
        "engine_cpu_s": sync["engine_cpu"], "engine_collection_cpu_s": sync["engine_collection_cpu"],
        **_hook_summary(phases, sync),
        "sync_wall_s": sync["wall"], "sync_cpu_s": sync["cpu"],
        "peak_rss_mb": sync["peak_rss_mb"], "child_peak_rss_mb": sync.get("child_peak_rss_mb", 0.0),
        "peak_rss_total_mb": sync["peak_rss_mb"] + sync.get("child_peak_rss_mb", 0.0),
        "child_cpu_s": sync.get("child_cpu", 0.0), "commands": sum(sync["commands"].values()),
        "commands_match_expected": sync["commands"] == row["expected_commands"],
        "engine_cpu_us_per_user": sync["engine_cpu"] / count * 1e6,
        "sync_wall_us_per_user": sync["wall"] / count * 1e6,
        "peak_rss_bytes_per_user": sync["peak_rss_mb"] * 1024 * 1024 / count,
    }


def _hook_summary(phases: dict[str, Any], sync: dict[str, Any]) -> dict[str, Any]:
    """The sync with the example hook beside the one without: engine CPU (planner and hook) and its ratio."""
    hooked = phases.get("sync_hook")
    if hooked is None:
        return {}
    engine = hooked["engine_cpu"] + hooked["hook_cpu"]
    return {"hook_engine_cpu_s": engine, "hook_planner_cpu_s": hooked["engine_cpu"], "hook_cpu_s": hooked["hook_cpu"],
            "hook_engine_cpu_ratio": engine / sync["engine_cpu"], "hook_sync_wall_s": hooked["wall"],
            "hook_peak_rss_mb": hooked["peak_rss_mb"], "hook_commands_match": hooked["commands"] == sync["commands"]}


def servers_note(figures: dict[str, Any]) -> str:
    """The servers' CPU during a phase: on a 2-core machine they compete with the reads."""
    used = figures.get("servers_cpu")
    return "; servers " + ", ".join(f"{name} {seconds:.1f}" for name, seconds in used.items()) + " cpu s" if used else ""


def print_table(rows: Iterable[dict[str, Any]]) -> None:
    print(f"{'users':>9}  {'phase':<34} {'wall s':>8} {'cpu s':>8} {'peak RSS MB':>12}  notes")
    for row in rows:
        count, phases = row["users"], row["phases"]
        for name, setup_seconds in row["setup"].items():
            print(f"{count:>9,}  {'setup: ' + name:<34} {setup_seconds:>8.1f} {'':>8} {'':>12}  (other processes)")
        for kind in ("directory_alone", "directory_in_process_alone", "adobe_alone", "csv_alone"):
            if kind not in phases:
                continue
            figures = phases[kind]
            child = (f"; child {figures['child_cpu']:.1f} cpu s, {figures['child_peak_rss_mb']:.0f} MB peak"
                     if figures.get("child_peak_rss_mb") else "")
            print(f"{count:>9,}  {kind.replace('_', ' '):<34} {figures['wall']:>8.1f} {figures['cpu']:>8.1f} "
                  f"{figures['peak_rss_mb']:>12.0f}  {figures['users']:,} users{child}{servers_note(figures)}")
        sync, summary = phases["sync"], summarize(row)
        print(f"{count:>9,}  {'sync: both reads, planned inline':<34} {sync['reads_wall']:>8.1f} {sync['reads_cpu']:>8.1f} "
              f"{sync['reads_rss_mb']:>12.0f}  {summary['read_overlap_ratio']:.2f} x the slower read alone (LDAP "
              f"{row.get('ldap_reader', 'in process')}; {summary['read_overlap_ratio_vs_in_process_read']:.2f} x "
              f"with the in-process LDAP read alone){servers_note(sync)}")
        print(f"{count:>9,}  {'sync: engine (matching, planning)':<34} {'':>8} {sync['engine_cpu']:>8.1f} {'':>12}  "
              f"event-loop thread CPU in the planner ({sync['engine_cpu_raw']:.1f} s before the clock's own cost; "
              f"{sync['engine_collection_cpu']:.1f} s of it garbage collections)")
        print(f"{count:>9,}  {'sync: after the reads (Adobe-only)':<34} {sync['after_reads_wall']:>8.1f} "
              f"{sync['after_reads_cpu']:>8.1f} {'':>12}")
        commands = ", ".join(f"{kind} {number:,}" for kind, number in sorted(sync["commands"].items()))
        check = "as expected" if summary["commands_match_expected"] else f"EXPECTED {row['expected_commands']}"
        print(f"{count:>9,}  {'sync: whole run':<34} {sync['wall']:>8.1f} {sync['cpu']:>8.1f} {sync['peak_rss_mb']:>12.0f}  "
              f"commands: {commands} ({check})")
        if sync.get("child_peak_rss_mb"):
            print(f"{count:>9,}  {'sync: LDAP reader child':<34} {'':>8} {sync['child_cpu']:>8.1f} "
                  f"{sync['child_peak_rss_mb']:>12.0f}  whole footprint <= {summary['peak_rss_total_mb']:.0f} MB "
                  f"(our peak + the child's)")
        if "hook_engine_cpu_s" in summary:
            hooked = phases["sync_hook"]
            print(f"{count:>9,}  {'sync with the example hook':<34} {hooked['wall']:>8.1f} {hooked['cpu']:>8.1f} "
                  f"{hooked['peak_rss_mb']:>12.0f}  engine {summary['hook_engine_cpu_s']:.1f} cpu s (planner "
                  f"{summary['hook_planner_cpu_s']:.1f}, hook {summary['hook_cpu_s']:.1f}) = "
                  f"{summary['hook_engine_cpu_ratio']:.2f} x the engine without it; commands "
                  f"{'the same' if summary['hook_commands_match'] else 'DIFFER: ' + str(hooked['commands'])}")
        for pair in row.get("hook_pairs", ()):
            print(f"{count:>9,}  {'again: sync, then with the hook':<34} {pair['wall_s']:>8.1f} {'':>8} {'':>12}  "
                  f"engine {pair['engine_cpu_s']:.1f} cpu s; with the hook {pair['hook_wall_s']:.1f} s wall, engine "
                  f"{pair['hook_planner_cpu_s'] + pair['hook_cpu_s']:.1f} cpu s (planner {pair['hook_planner_cpu_s']:.1f}, "
                  f"hook {pair['hook_cpu_s']:.1f}) = {pair['ratio']:.2f} x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000])
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "scale.json",
                        help="where to write the results (default benchmarks/results/scale.json)")
    parser.add_argument("--hook-pairs", type=int, default=0,
                        help="after the phases, measure the sync without and with the example hook this many more times")
    parser.add_argument("--ldap-in-process", action="store_true",
                        help="the sync reads LDAP in its own process (the reader before LdapProcessSource)")
    options = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as scratch:
        for count in options.sizes:
            rows.append(measure_size(count, Path(scratch), not options.ldap_in_process, options.hook_pairs))
    print_table(rows)
    options.json.parent.mkdir(parents=True, exist_ok=True)
    options.json.write_text(json.dumps({"sizes": rows, "summary": [summarize(row) for row in rows]}, indent=2))
    print(f"results written to {options.json}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        run_child(sys.argv[2], sys.argv[3])
    else:
        main()
