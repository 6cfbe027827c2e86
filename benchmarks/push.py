"""Push benchmark: how close the async client runs to UMAPI's action limit, and what it loses.

Starts the sandbox as a subprocess at --time-scale 60 with throttling on (each per-minute limit
becomes a per-second one), then for each scenario resets it and pushes N commands (create a
Federated ID plus two groups each) through ``UmapiClient.action_sink``, and the same workload
through Adobe's umapi-client 3.0.1, one after the other in this run, each through the same faults
and, in (e), the same outage. Prints one table.

    .venv/bin/python benchmarks/push.py            # 20,000 commands per scenario (about 20 minutes)
    .venv/bin/python benchmarks/push.py --quick    # 2,000 commands per scenario

Figures, from the sandbox's own counters (GET /_sandbox/stats and /_sandbox/state):
  rate/limit   accepted action requests per second / the sandbox's limit, over the whole push
  steady       the same over whole seconds after the first ten windows, the last second left out
  lost         commands whose user is missing or lacks one of its two groups
  twice        entries applied more than once (an answer slower than the timeout was applied,
               and its retry applied again; harmless, every step is idempotent)
  misreported  commands reported landed that are not in the org, or failed or not sent that are
  lost time    (e) only, for each tool: seconds beyond its (a) row for the same commands, against
               the outage's length (both tools go through the same outage, half way through)
Also ``--limiters``: CPU and accuracy of asyncio-throttle against the client's own bucket.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import ssl
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from async_usersync.records import CreateUser, IdentityType, UserCommand  # noqa: E402
from async_usersync.umapi import RateLimits, UmapiClient, UmapiSettings  # noqa: E402
from tests.support.sandbox import SandboxProcess, run_sandbox_process  # noqa: E402

TIME_SCALE = 60.0
WINDOW = 60.0 / TIME_SCALE
GROUPS = ("Push Group A", "Push Group B")


@dataclass(frozen=True)
class Scenario:
    name: str
    sandbox_limit: int
    client_limit: int
    faults: str = ""
    timeout: float = 2.0
    """120 s scaled by the time scale."""
    retries: int = 3
    steady_from: int = 1
    """First whole second counted as steady state."""
    outage: float = 0.0
    """Seconds the sandbox is down (stopped, then restarted on the same port) half way through."""


SCENARIOS = (
    Scenario("a plain", 10, 10),
    Scenario("b limit half of configured", 10, 20, steady_from=10),
    Scenario("c 10% 5xx, 2% resets, 1% slow", 10, 10,
             faults="action:502=0.034,503=0.033,504=0.033,reset=0.02,slow=0.01@2.5", retries=6),
    Scenario("d 100x Adobe's limit", 1000, 1000),
    Scenario("e 30 s outage in the middle", 10, 10, outage=30.0),
    Scenario("f 10% answers lost", 10, 10, faults="action:lost=0.1"),
)


@dataclass
class Outcome:
    tool: str
    scenario: str
    commands: int
    seconds: float
    rate_ratio: float
    steady_ratio: float
    commands_per_second: float
    throttled: int
    retries: int
    inside_retry_after: int
    lost: int
    twice: int
    failed: int
    misreported: int
    cpu_seconds: float
    sandbox_cpu_seconds: float
    limit_per_second: float = 0.0
    accepted_per_second: list[int] = dataclasses.field(default_factory=list)
    """The sandbox's accepted action requests in each second of the push (for benchmarks/plot.py)."""


class Sandbox:
    """Control calls to the sandbox subprocess (blocking; only used between pushes)."""

    def __init__(self, process: SandboxProcess) -> None:
        self.process = process
        self.context = ssl.create_default_context(cafile=str(process.ca_cert))

    def control(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"{self.process.base_url}/_sandbox/{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=self.context, timeout=60) as response:
            return json.loads(response.read())

    def wait_until_up(self) -> None:
        """Returns once the sandbox answers again (after an outage a client gave up on early)."""
        while True:
            try:
                self.control("GET", "stats")
                return
            except OSError:  # URLError included: still down
                time.sleep(0.2)

    def cpu_seconds(self) -> float:
        """CPU time the sandbox process has used (utime + stime), to show when it is the bottleneck."""
        fields = Path(f"/proc/{self.process.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def prepare(self, scenario: Scenario) -> None:
        self.control("PUT", "config", {"faults": "", "rate_limits": {
            "action": {"per_client": scenario.sandbox_limit, "global": 0}}})
        self.control("POST", "reset")
        self.control("PUT", "config", {"faults": scenario.faults})

    def settings(self, scenario: Scenario) -> UmapiSettings:
        process = self.process
        host = process.ims_host
        return UmapiSettings(org_id=process.org_id, client_id=process.client_id, client_secret=process.client_secret,
                             host=host, auth_host=host, ca_file=process.ca_cert, timeout=scenario.timeout,
                             retries=scenario.retries, limits=RateLimits(action=scenario.client_limit, window=WINDOW),
                             backoff_base=3.0 / TIME_SCALE, backoff_jitter=2.0 / TIME_SCALE,
                             backoff_max=60.0 / TIME_SCALE)


def emails(count: int) -> list[str]:
    return [f"push{number:06d}@example.com" for number in range(count)]


async def push_async(settings: UmapiSettings, count: int, sandbox: Sandbox | None = None,
                     outage: float = 0.0) -> tuple[float, int, dict[str, bool]]:
    """Pushes ``count`` commands; returns seconds, retries and each user's reported outcome (landed or not).
    With ``outage``, the sandbox goes down for that long half way through (at the limit's pace)."""
    reported: dict[str, bool] = {}

    def take(result: Any) -> None:
        reported[result.command.user] = result.ok

    async def go_down() -> None:
        await asyncio.sleep(count / 10 / settings.limits.per_second("action") / 2)
        assert sandbox is not None
        await asyncio.to_thread(sandbox.control, "POST", "outage", {"seconds": outage})

    async with UmapiClient(settings) as client:
        started = time.monotonic()
        down = asyncio.create_task(go_down()) if outage else None
        async with client.action_sink(take) as sink:
            for email in emails(count):
                await sink.send(UserCommand(user=email, create=CreateUser(IdentityType.FEDERATED_ID, email, "Push",
                                                                           "User", "US"), add_groups=GROUPS))
        seconds = time.monotonic() - started
        if down is not None:
            await down
        retries = client.transport.counters["action"].retries
    return seconds, retries, reported


def push_umapi_client(sandbox: Sandbox, scenario: Scenario, count: int) -> tuple[float, int, int]:
    """The same commands through umapi-client, one request at a time; with ``scenario.outage``, the
    sandbox goes down for that long once half the commands are sent (umapi-client is synchronous,
    so the outage starts between two of its requests)."""
    import umapi_client

    process = sandbox.process
    auth = umapi_client.OAuthS2S(process.client_id, process.client_secret, auth_host=process.ims_host,
                                 ssl_verify=str(process.ca_cert))
    connection = umapi_client.Connection(org_id=process.org_id, auth=auth, endpoint=process.url,
                                         ssl_verify=str(process.ca_cert), timeout=scenario.timeout,
                                         max_retries=scenario.retries)
    connection.retry_first_delay = 3.0 / TIME_SCALE  # its 15 s default, scaled like everything else
    connection.retry_random_delay = 0
    failed = 0
    started = time.monotonic()
    for number, email in enumerate(emails(count)):
        if scenario.outage and number == count // 2:
            sandbox.control("POST", "outage", {"seconds": scenario.outage})
        action = umapi_client.UserAction(user=email)
        action.create(email=email, firstname="Push", lastname="User", country="US")
        action.add_to_groups(list(GROUPS))
        try:
            connection.execute_single(action)
        except umapi_client.BatchError as error:
            _, sent, completed = error.statistics
            failed += sent - completed
    try:
        connection.execute_queued()
    except umapi_client.BatchError as error:
        _, sent, completed = error.statistics
        failed += sent - completed
    seconds = time.monotonic() - started
    sandbox.wait_until_up()  # it may have given up on the rest before the outage ended
    return seconds, -1, failed


async def ceiling_rate(sandbox: Sandbox, requests: int, concurrency: int = 64) -> float:
    """Action requests per second that plain aiohttp gets from the sandbox with throttling off: what
    this machine can carry at all, so that scenario (d) shows how much of it the client leaves."""
    import aiohttp
    import orjson

    process = sandbox.process
    connector = aiohttp.TCPConnector(ssl=sandbox.context, limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        form = {"grant_type": "client_credentials", "client_id": process.client_id,
                "client_secret": process.client_secret, "scope": "openid,AdobeID,user_management_sdk"}
        async with session.post(f"{process.base_url}/ims/token/v2", data=form) as response:
            token = (await response.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}", "X-Api-Key": process.client_id,
                   "Content-Type": "application/json"}
        url = f"{process.url}/action/{process.org_id}"
        addresses = iter(emails(requests * 10))
        bodies = [orjson.dumps([{"user": email, "do": [
            {"createFederatedID": {"email": email, "firstname": "Push", "lastname": "User", "country": "US",
                                   "option": "ignoreIfAlreadyExists"}},
            {"add": {"group": list(GROUPS)}}]} for email in (next(addresses) for _ in range(10))])
            for _ in range(requests)]
        queue = iter(bodies)

        async def worker() -> None:
            for body in queue:
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return requests / (time.monotonic() - started)


def measure(sandbox: Sandbox, scenario: Scenario, tool: str, count: int, seconds: float, retries: int,
            reported: dict[str, bool] | int, cpu: float, sandbox_cpu: float) -> Outcome:
    """``reported``: each user's reported outcome (landed or not), or only how many failed (umapi-client
    does not say which; its misreported column then shows '?')."""
    stats = sandbox.control("GET", "stats")["families"]["action"]
    users = {user["email"]: user for user in sandbox.control("GET", "state")["users"]}
    landed = {email: email in users and set(GROUPS) <= set(users[email]["groups"]) for email in emails(count)}
    lost = sum(not present for present in landed.values())
    if isinstance(reported, int):
        failed, misreported = reported, -1
    else:
        failed = sum(not ok for ok in reported.values()) + count - len(reported)
        misreported = sum(reported.get(email, False) != present for email, present in landed.items())
    per_second = stats["accepted_per_second"]
    limit = scenario.sandbox_limit / WINDOW
    steady = per_second[scenario.steady_from:-1]
    return Outcome(
        tool=tool, scenario=scenario.name, commands=count, seconds=seconds,
        rate_ratio=sum(per_second) / seconds / limit,
        steady_ratio=(sum(steady) / len(steady) / limit) if steady else float("nan"),
        commands_per_second=count / seconds, throttled=stats["throttled"], retries=retries,
        inside_retry_after=stats["inside_retry_after"], lost=lost, twice=stats["commands_applied"] - (count - lost),
        failed=failed, misreported=misreported, cpu_seconds=cpu, sandbox_cpu_seconds=sandbox_cpu,
        limit_per_second=limit, accepted_per_second=per_second,
    )


def run_scenario(sandbox: Sandbox, scenario: Scenario, count: int, reference_count: int) -> list[Outcome]:
    outcomes = []
    sandbox.prepare(scenario)
    cpu, sandbox_cpu = time.process_time(), sandbox.cpu_seconds()
    seconds, retries, reported = asyncio.run(push_async(sandbox.settings(scenario), count, sandbox, scenario.outage))
    outcomes.append(measure(sandbox, scenario, "async-usersync", count, seconds, retries, reported,
                            time.process_time() - cpu, sandbox.cpu_seconds() - sandbox_cpu))
    if scenario.name.startswith("d"):
        sandbox.control("PUT", "config", {"throttle": False})
        sandbox.control("POST", "reset")
        cpu = time.process_time()
        ceiling = asyncio.run(ceiling_rate(sandbox, count // 10))
        plain_cpu = time.process_time() - cpu
        sandbox.control("PUT", "config", {"throttle": True})
        ours = outcomes[0]
        print(f"{scenario.name}: plain aiohttp, throttling off, carries {ceiling:.0f} action requests/s here; "
              f"the client reached {ours.commands / 10 / ours.seconds / ceiling:.2f} of that; CPU per request: "
              f"client {ours.cpu_seconds / (count / 10) * 1000:.3f} ms (commands built and results taken included), "
              f"plain aiohttp {plain_cpu / (count // 10) * 1000:.3f} ms", flush=True)
    if reference_count:
        sandbox.prepare(scenario)
        cpu, sandbox_cpu = time.process_time(), sandbox.cpu_seconds()
        seconds, retries, failed = push_umapi_client(sandbox, scenario, reference_count)
        outcomes.append(measure(sandbox, scenario, "umapi-client 3.0.1", reference_count, seconds, retries,
                                failed,
                                time.process_time() - cpu, sandbox.cpu_seconds() - sandbox_cpu))
    return outcomes


def print_table(outcomes: list[Outcome]) -> None:
    header = ("scenario", "tool", "commands", "seconds", "rate/limit", "steady", "cmds/s", "429s", "retries",
              "in RA", "lost", "twice", "failed", "misrep", "cpu s", "sandbox cpu s")
    rows = [(o.scenario, o.tool, str(o.commands), f"{o.seconds:.1f}", f"{o.rate_ratio:.3f}", f"{o.steady_ratio:.3f}",
             f"{o.commands_per_second:.0f}", str(o.throttled), "?" if o.retries < 0 else str(o.retries),
             str(o.inside_retry_after), str(o.lost), str(o.twice), str(o.failed), "?" if o.misreported < 0 else str(o.misreported),
             f"{o.cpu_seconds:.1f}",
             f"{o.sandbox_cpu_seconds:.1f}")
            for o in outcomes]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)))
    by_scenario: dict[str, dict[str, Outcome]] = {}
    for outcome in outcomes:
        by_scenario.setdefault(outcome.scenario, {})[outcome.tool] = outcome
    for tool in ("async-usersync", "umapi-client 3.0.1"):
        plain = by_scenario.get(SCENARIOS[0].name, {}).get(tool)
        down = by_scenario.get(SCENARIOS[4].name, {}).get(tool)
        if plain is not None and down is not None and plain.commands == down.commands:
            print(f"{down.scenario}, {tool}: {down.seconds - plain.seconds:.1f} s longer than (a) for the same "
                  f"commands, against an outage of {SCENARIOS[4].outage:g} s, {down.lost} of {down.commands} "
                  f"commands lost")
    if SCENARIOS[4].name in by_scenario:
        print(f"(e): async-usersync's backoff step is at most {60.0 / TIME_SCALE:g} s + jitter here; umapi-client "
              f"makes {SCENARIOS[4].retries} attempts a request {3.0 / TIME_SCALE:g} s apart, doubling, then gives "
              f"the request up")
    for scenario, tools in by_scenario.items():
        if len(tools) == 2:
            ours, theirs = tools["async-usersync"], tools["umapi-client 3.0.1"]
            print(f"{scenario}: async-usersync / umapi-client commands per second = "
                  f"{ours.commands_per_second / theirs.commands_per_second:.2f}")


async def compare_limiters(waiters: int, limit: int, window: float, seconds: float) -> None:
    """Many waiters on asyncio-throttle and on the client's bucket: CPU per second, and the pace held."""
    from asyncio_throttle import Throttler

    from async_usersync.umapi.throttle import AdaptiveBucket, most_in_any_window

    async def drive(acquire: Any) -> tuple[float, list[float]]:
        releases: list[float] = []
        stop = time.monotonic() + seconds

        async def waiter() -> None:
            while time.monotonic() < stop:
                await acquire()
                releases.append(time.monotonic())

        cpu = time.process_time()
        tasks = [asyncio.create_task(waiter()) for _ in range(waiters)]
        await asyncio.sleep(seconds)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return time.process_time() - cpu, releases

    print(f"\nlimiters: {waiters} waiters, limit {limit} per {window:g} s, {seconds:g} s each")
    print("limiter            cpu s / s   released / limit   most in any window")
    bucket = AdaptiveBucket(limit, window)

    async def bucket_acquire() -> None:
        await bucket.acquire()
        bucket.done()  # the request is answered at once

    for name, acquire in (("asyncio-throttle", Throttler(rate_limit=limit, period=window).acquire),
                          ("AdaptiveBucket", bucket_acquire)):
        cpu, releases = await drive(acquire)
        most = most_in_any_window(releases, window)
        print(f"{name:<18} {cpu / seconds:9.3f}   {len(releases) / (seconds / window * limit):16.3f}   {most:>6} "
              f"(limit {limit})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="2,000 commands per scenario instead of 20,000")
    parser.add_argument("--commands", type=int, help="commands per scenario for async-usersync")
    parser.add_argument("--reference-commands", type=int,
                        help="commands per scenario for umapi-client (default: as many; 0 skips it)")
    parser.add_argument("--scenarios", default="abcdef", help="which scenarios to run, e.g. 'ad'")
    parser.add_argument("--limiters", action="store_true", help="only compare asyncio-throttle with the bucket")
    parser.add_argument("--json", type=Path, help="also write every outcome, with its per-second counts, to this file")
    options = parser.parse_args()
    if options.limiters:
        asyncio.run(compare_limiters(waiters=1000, limit=10, window=0.1, seconds=3.0))
        return
    count = options.commands or (2_000 if options.quick else 20_000)
    reference = count if options.reference_commands is None else options.reference_commands
    outcomes: list[Outcome] = []
    with run_sandbox_process("--users", "0", "--groups", "0", "--time-scale", str(TIME_SCALE)) as process:
        sandbox = Sandbox(process)
        initial = {"org_id": process.org_id, "users": [],
                   "groups": [{"groupName": name, "type": "USER_GROUP", "memberCount": 0} for name in GROUPS]}
        sandbox.control("POST", "reset", {"state": initial})
        for scenario in SCENARIOS:
            if scenario.name[0] in options.scenarios:
                outcomes.extend(run_scenario(sandbox, scenario, count, reference))
                print(f"done: {scenario.name}", file=sys.stderr, flush=True)
    print_table(outcomes)
    if options.json is not None:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        options.json.write_text(json.dumps([dataclasses.asdict(outcome) for outcome in outcomes]))


if __name__ == "__main__":
    main()
