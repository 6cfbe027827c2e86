"""How fast and how lean the LDAP source reads a large directory, beside OpenLDAP's own client.

For each size (10k, 50k, 100k users, bulk-loaded with slapadd into a private slapd) it times,
side by side in the same run, on the same server and with the same page size (1000 unless
--page-size says otherwise):
  - ldapsearch -E pr=<page size>/noprompt (OpenLDAP's C client: the ceiling),
  - bonsai alone: its paged search with no processing of the entries (the ceiling of any
    bonsai reader: bonsai builds a Python object per entry and per attribute),
  - our reader, --users all with that search_page_size, each in a process of its own so that
    its CPU seconds and peak memory (max RSS) are its alone, two ways:
    "in-process": LdapSource on a worker thread of the process that consumes the users;
    "child": LdapProcessSource (the sync's default), the same LdapSource in a child process
    streaming the users to the consumer; its CPU is parent + child, its peak memory each's.
"ratio" is ours/s divided by ldapsearch/s.
Then it measures the CPU a process burns while it waits 2 s on a server that does not answer
(slapd stopped with SIGSTOP): bonsai's asyncio adapter against our worker-thread wait.

Run: .venv/bin/python benchmarks/ldap_read.py [--sizes 10000,50000,100000] [--rounds 3] [--page-size 1000]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from async_usersync.demo.slapd import LocalSlapd, start_slapd  # noqa: E402
from async_usersync.demo.directory_data import write_users_ldif  # noqa: E402

BASE_DN = "dc=example,dc=org"
USERS_FILTER = "(objectClass=inetOrgPerson)"
ATTRIBUTES = ["mail", "givenName", "sn", "c"]

READER = """
import asyncio, json, resource, sys, time
from async_usersync.config.connector_ldap import ldap_settings
from async_usersync.config.section import ConfigSection
from async_usersync.config.settings import UserSelection
from async_usersync.records import IdentityType
from async_usersync.sources.ldap import LdapSource
from async_usersync.sources.ldap_process import LdapProcessSource
from pathlib import Path

config, mode = json.loads(sys.argv[1]), sys.argv[2]
source_class = LdapProcessSource if mode == "child" else LdapSource
async def main():
    settings = ldap_settings(ConfigSection(config, Path("connector-ldap.yml")))
    count = 0
    async for user in source_class(settings, IdentityType.FEDERATED_ID).users(UserSelection("all")):
        count += 1
    return count
started = time.perf_counter()
count = asyncio.run(main())
elapsed = time.perf_counter() - started
usage, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"entries": count, "seconds": elapsed,
                  "cpu": usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime,
                  "max_rss_mb": usage.ru_maxrss / 1024, "child_max_rss_mb": children.ru_maxrss / 1024}))
"""

BONSAI_ALONE = """
import json, resource, sys, time, bonsai
url, admin, password, page_size = sys.argv[1:5]
client = bonsai.LDAPClient(url)
client.set_credentials("SIMPLE", user=admin, password=password)
client.set_auto_page_acquire(False)
client.set_raw_attributes(%r)
connection = client.connect(timeout=10)
started, count = time.perf_counter(), 0
result = connection.paged_search("%s", 2, "%s", %r, page_size=int(page_size))
while True:
    count += len(list(result))
    message = result.acquire_next_page()
    if message is None:
        break
    result = connection.get_result(message)
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"entries": count, "seconds": time.perf_counter() - started, "cpu": usage.ru_utime + usage.ru_stime}))
""" % (ATTRIBUTES, BASE_DN, USERS_FILTER, ATTRIBUTES)

IDLE = """
import resource, json
import async_usersync.sources.ldap
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"max_rss_mb": usage.ru_maxrss / 1024}))
"""

WAIT = """
import asyncio, json, sys, time, bonsai
from async_usersync.sources.ldap_connection import ConnectionPlan, LdapConnection
url, admin, password, mode = sys.argv[1:5]

def client():
    made = bonsai.LDAPClient(url)
    made.set_credentials("SIMPLE", user=admin, password=password)
    return made

async def adapter():
    connection = await client().connect(is_async=True, timeout=5)
    print("ready", flush=True); sys.stdin.readline()
    started, cpu = time.perf_counter(), time.process_time()
    try:
        await connection.search("dc=example,dc=org", 2, "(uid=user0000001)", ["mail"], timeout=2)
    except Exception:
        pass
    return time.process_time() - cpu, time.perf_counter() - started

async def ours():
    plan = ConnectionPlan(make_client=client, url=url, bind_name=admin, trust=None, connect_timeout=5,
                          operation_timeout=2, string_encoding="utf8")
    connection = LdapConnection(plan)
    await connection.open()
    print("ready", flush=True); sys.stdin.readline()
    started, cpu = time.perf_counter(), time.process_time()
    try:
        await connection.call(connection.search, "dc=example,dc=org", 2, "(uid=user0000001)", ["mail"])
    except Exception:
        pass
    result = time.process_time() - cpu, time.perf_counter() - started
    connection.discard()
    return result

cpu, wall = asyncio.run(adapter() if mode == "adapter" else ours())
print(json.dumps({"cpu": cpu, "wall": wall}))
"""


def python(script: str, *args: str, stdin: int | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                            stdin=stdin)


def time_ldapsearch(server: LocalSlapd, page_size: int) -> tuple[float, float]:
    """Wall seconds and CPU seconds of one full paged ldapsearch."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(["ldapsearch", "-x", "-LLL", "-H", server.url, "-D", server.admin_dn, "-w", server.admin_password,
                    "-b", BASE_DN, "-E", f"pr={page_size}/noprompt", USERS_FILTER, *ATTRIBUTES],
                   stdout=subprocess.DEVNULL, check=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def time_reader(server: LocalSlapd, page_size: int, mode: str) -> dict[str, float]:
    config = {"host": server.url, "base_dn": BASE_DN, "username": server.admin_dn, "password": server.admin_password,
              "all_users_filter": USERS_FILTER, "search_page_size": page_size}
    process = python(READER, json.dumps(config), mode)
    output, _ = process.communicate()
    return json.loads(output)


def time_bonsai_alone(server: LocalSlapd, page_size: int) -> dict[str, float]:
    """bonsai's own paged search with no processing: the ceiling for any bonsai reader."""
    output, _ = python(BONSAI_ALONE, server.url, server.admin_dn, server.admin_password, str(page_size)).communicate()
    return json.loads(output)


def measure_size(folder: Path, size: int, rounds: int, page_size: int) -> dict[str, float]:
    ldif = folder / f"users-{size}.ldif"
    write_users_ldif(ldif, BASE_DN, size)
    started = time.perf_counter()
    server = start_slapd(folder / f"slapd-{size}", BASE_DN, offline_ldif=ldif)
    load_seconds = time.perf_counter() - started
    try:
        time_ldapsearch(server, page_size)  # warms the server's caches for both readers
        ours, child, theirs, bonsai_alone = [], [], [], []
        for _ in range(rounds):
            theirs.append(time_ldapsearch(server, page_size))
            bonsai_alone.append(time_bonsai_alone(server, page_size))
            ours.append(time_reader(server, page_size, "in-process"))
            child.append(time_reader(server, page_size, "child"))
        assert all(run["entries"] == size for run in ours + child), ours + child
    finally:
        server.stop()
    ours_seconds = statistics.median(run["seconds"] for run in ours)
    child_seconds = statistics.median(run["seconds"] for run in child)
    theirs_seconds = statistics.median(seconds for seconds, _ in theirs)
    return {
        "size": size, "load_seconds": load_seconds,
        "ldapsearch_per_s": size / theirs_seconds, "ours_per_s": size / ours_seconds,
        "child_per_s": size / child_seconds,
        "bonsai_alone_per_s": size / statistics.median(run["seconds"] for run in bonsai_alone),
        "bonsai_alone_cpu": statistics.median(run["cpu"] for run in bonsai_alone),
        "ratio": theirs_seconds / ours_seconds, "child_ratio": theirs_seconds / child_seconds,
        "ldapsearch_cpu": statistics.median(cpu for _, cpu in theirs),
        "ours_cpu": statistics.median(run["cpu"] for run in ours),
        "child_cpu": statistics.median(run["cpu"] for run in child),
        "ours_max_rss_mb": max(run["max_rss_mb"] for run in ours),
        "child_parent_max_rss_mb": max(run["max_rss_mb"] for run in child),
        "child_child_max_rss_mb": max(run["child_max_rss_mb"] for run in child),
    }


def measure_wait(folder: Path) -> dict[str, dict[str, float]]:
    server = start_slapd(folder / "slapd-wait", BASE_DN)
    results = {}
    try:
        for mode in ("adapter", "ours"):
            process = python(WAIT, server.url, server.admin_dn, server.admin_password, mode, stdin=subprocess.PIPE)
            assert process.stdout is not None and process.stdin is not None
            assert process.stdout.readline().strip() == "ready"
            server.pause()
            process.stdin.write("go\n")
            process.stdin.flush()
            output, _ = process.communicate()
            server.resume()
            results[mode] = json.loads(output)
    finally:
        server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,50000,100000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--page-size", type=int, default=1000, help="for every reader alike (default 1000)")
    options = parser.parse_args()
    idle = json.loads(python(IDLE).communicate()[0])
    print(f"baseline: a process that only imports the source peaks at {idle['max_rss_mb']:.0f} MB; "
          f"page size {options.page_size} for every reader")
    print("ours: in-process = LdapSource in the consuming process; child = LdapProcessSource (the sync's default)")
    print(f"{'users':>8} {'ldapsearch/s':>13} {'bonsai alone/s':>15} {'in-process/s':>13} {'ratio':>6} {'child/s':>8} "
          f"{'ratio':>6} {'CPU s: ldapsearch':>18} {'bonsai':>7} {'in-process':>11} {'child':>6} "
          f"{'peak MB: in-process':>20} {'child (parent+child)':>21}")
    with tempfile.TemporaryDirectory(prefix="ldap-bench-") as temporary:
        folder = Path(temporary)
        for size in (int(text) for text in options.sizes.split(",")):
            row = measure_size(folder, size, options.rounds, options.page_size)
            print(f"{row['size']:>8} {row['ldapsearch_per_s']:>13.0f} {row['bonsai_alone_per_s']:>15.0f} "
                  f"{row['ours_per_s']:>13.0f} {row['ratio']:>6.2f} {row['child_per_s']:>8.0f} {row['child_ratio']:>6.2f} "
                  f"{row['ldapsearch_cpu']:>18.2f} {row['bonsai_alone_cpu']:>7.2f} {row['ours_cpu']:>11.2f} "
                  f"{row['child_cpu']:>6.2f} {row['ours_max_rss_mb']:>20.0f} "
                  f"{row['child_parent_max_rss_mb']:>14.0f}+{row['child_child_max_rss_mb']:<6.0f}", flush=True)
        wait = measure_wait(folder)
    for mode, label in (("adapter", "bonsai asyncio adapter"), ("ours", "worker-thread wait (ours)")):
        print(f"waiting {wait[mode]['wall']:.1f} s on a stopped server, {label}: "
              f"{wait[mode]['cpu']:.2f} CPU s ({wait[mode]['cpu'] / wait[mode]['wall']:.0%} of a core)")


if __name__ == "__main__":
    main()
