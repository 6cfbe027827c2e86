"""How many action requests (10 commands each) the sandbox answers per second, throttling off.

The sandbox runs as its own process (``async-usersync sandbox --no-throttle``); this process is the
load generator: a few keep-alive connections, each sending one request at a time with pre-built
bytes and reading just enough of the answer to find its end, so the generator stays cheaper than the
server it measures. Both run on the same machine, so the wall-clock figure is a floor that drops when
other work shares the cores; the figure per CPU-second of the sandbox process (read from /proc) is
what one core gives it, whatever else runs. Prints both, and their ratios to the 2,000 requests/s
goal, over plain http and over TLS, side by side.

    .venv/bin/python benchmarks/sandbox_throughput.py [--seconds 5] [--connections 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import orjson

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

GOAL = 2000.0
USERS = 2000
ENTRIES_PER_REQUEST = 10


def start_sandbox(tls: bool) -> tuple[subprocess.Popen[str], str, Path | None]:
    command = [sys.executable, "-m", "async_usersync", "sandbox", "--port", "0", "--no-throttle",
               "--users", str(USERS), "--groups", "20", "--tls" if tls else "--no-tls"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    base_url = process.stdout.readline().split()[3]  # type: ignore[union-attr]
    ca_cert = Path(process.stdout.readline().split()[2]) if tls else None  # type: ignore[union-attr]
    return process, base_url, ca_cert


def fetch_json(url: str, context: ssl.SSLContext | None, data: bytes | None = None, method: str | None = None) -> dict:
    request = urllib.request.Request(url, data=data, method=method)
    with urllib.request.urlopen(request, context=context) as response:
        return json.loads(response.read())


def build_requests(host: str, port: int, org_id: str, token: str, emails: list[str], groups: list[str]) -> list[bytes]:
    """Pre-built POSTs: each adds one group to 10 users and removes another, so the org stays the same size."""
    built = []
    for start in range(0, len(emails), ENTRIES_PER_REQUEST):
        group_in, group_out = groups[start % len(groups)], groups[(start + 1) % len(groups)]
        entries = [
            {"user": email, "requestID": f"bench-{start}", "do": [{"remove": {"group": [group_out]}}, {"add": {"group": [group_in]}}]}
            for email in emails[start:start + ENTRIES_PER_REQUEST]
        ]
        body = orjson.dumps(entries)
        head = (
            f"POST /v2/usermanagement/action/{urllib.parse.quote(org_id, safe='@')} HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\nX-Api-Key: sandbox-client\r\n"
            f"Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        built.append(head.encode() + body)
    return built


async def one_connection(host: str, port: int, context: ssl.SSLContext | None, requests: list[bytes],
                         offset: int, deadline: float, statuses: dict[int, int]) -> None:
    reader, writer = await asyncio.open_connection(host, port, ssl=context)
    position = offset
    while time.monotonic() < deadline:
        writer.write(requests[position % len(requests)])
        position += 1
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        status = int(status_line.split()[1])
        statuses[status] = statuses.get(status, 0) + 1
    writer.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


async def measure(base_url: str, ca_cert: Path | None, seconds: float, connections: int,
                  server_pid: int) -> tuple[float, float, dict[int, int], dict]:
    context = ssl.create_default_context(cafile=str(ca_cert)) if ca_cert else None
    parsed = urllib.parse.urlparse(base_url)
    host, port = parsed.hostname or "127.0.0.1", parsed.port or 0
    token = fetch_json(base_url + "/ims/token/v2", context, urllib.parse.urlencode({
        "grant_type": "client_credentials", "client_id": "sandbox-client", "client_secret": "sandbox-secret",
        "scope": "openid,AdobeID,user_management_sdk"}).encode())["access_token"]
    state = fetch_json(base_url + "/_sandbox/state", context)
    emails = [user["email"] for user in state["users"]]
    groups = [group["groupName"] for group in state["groups"]]
    requests = build_requests(host, port, state["org_id"], token, emails, groups)
    statuses: dict[int, int] = {}
    warm_up = time.monotonic() + 1.0
    await asyncio.gather(*(one_connection(host, port, context, requests, n * 17, warm_up, {}) for n in range(connections)))
    fetch_json(base_url + "/_sandbox/reset", context, b"", method="POST")
    cpu_before, started = cpu_seconds(server_pid), time.monotonic()
    await asyncio.gather(*(one_connection(host, port, context, requests, n * 17, started + seconds, statuses)
                           for n in range(connections)))
    elapsed, server_cpu = time.monotonic() - started, cpu_seconds(server_pid) - cpu_before
    stats = fetch_json(base_url + "/_sandbox/stats", context)["families"]["action"]
    answered = sum(statuses.values())
    return answered / elapsed, answered / server_cpu, statuses, stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    options = parser.parse_args()
    print(f"sandbox throughput: action requests of {ENTRIES_PER_REQUEST} commands, throttling off, "
          f"{options.connections} keep-alive connections, {options.seconds:.0f} s each, goal {GOAL:.0f} requests/s; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for tls in (False, True):
        process, base_url, ca_cert = start_sandbox(tls)
        try:
            rate, per_cpu, statuses, stats = asyncio.run(
                measure(base_url, ca_cert, options.seconds, options.connections, process.pid))
        finally:
            process.terminate()
            process.wait()
        label = "https" if tls else "http "
        print(f"  {label}: {rate:6.0f} requests/s wall clock (ratio to goal {rate / GOAL:.2f}), "
              f"{per_cpu:6.0f} per sandbox CPU-second (ratio {per_cpu / GOAL:.2f}); "
              f"answers {statuses}, server counted {stats['ok']} ok, {stats['commands_applied']} commands applied")


if __name__ == "__main__":
    main()
