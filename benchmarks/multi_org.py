"""Multi-org benchmark (issue 16): three orgs of equal work at the API's limit against one.

Starts three sandboxes as subprocesses at --time-scale 60 with throttling on (each per-minute limit
becomes a per-second one: 10 action requests a second per client), writes a directory of N users
(a CSV file, every user in the mapped group Staff) and two configs: one org (the primary alone),
and three orgs (the primary and two secondaries, ``org2::`` and ``org3::`` groups in the mapping).
Each round empties the orgs, runs the real command (``async-usersync --connector csv ...
--process-groups``) with one org, empties them again and runs it with three, so each of the three
orgs gets the same work as the one: N creates, N / 10 action requests.

    .venv/bin/python benchmarks/multi_org.py            # 2,000 users, 3 rounds (about 2 minutes)
    .venv/bin/python benchmarks/multi_org.py --users 500 --rounds 1

Figures: the wall time of each run, the ratio three orgs / one org (User Sync runs the orgs one
after another, so its ratio is 3 for this work), and each org's accepted action requests per
second over its run against the sandbox's limit (from GET /_sandbox/stats).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.push import Sandbox  # noqa: E402
from tests.support.sandbox import run_sandbox_process  # noqa: E402

TIME_SCALE = 60.0
ORGS = ("primary", "org2", "org3")
GROUP = "All Apps"


def write_files(folder: Path, sandboxes: dict[str, Sandbox], users: int) -> dict[int, Path]:
    """The directory CSV, each org's connector file, and the one-org and three-org configs."""
    with (folder / "users.csv").open("w") as stream:
        stream.write("email,firstname,lastname,country,groups\n")
        for number in range(users):
            stream.write(f"user{number:06d}@bench.test,User,{number},US,Staff\n")
    for name, sandbox in sandboxes.items():
        process = sandbox.process
        host = process.base_url.split("://", 1)[1]
        (folder / f"connector-{name}.yml").write_text(yaml.safe_dump({
            "authentication_method": "oauth",
            "enterprise": {"org_id": process.org_id, "client_id": process.client_id, "client_secret": process.client_secret},
            "server": {"host": host, "endpoint": "/v2/usermanagement", "auth_host": host, "auth_endpoint": "/ims/token/v2",
                       "ca_file": str(process.ca_cert), "limits": {"window": 60.0 / TIME_SCALE}}}))
    configs = {}
    for count in (1, 3):
        orgs = ORGS[:count]
        umapi: list[object] = ["connector-primary.yml", *({name: f"connector-{name}.yml"} for name in orgs[1:])]
        groups = [GROUP, *(f"{name}::{GROUP}" for name in orgs[1:])]
        configs[count] = folder / f"user-sync-config-{count}.yml"
        configs[count].write_text(yaml.safe_dump({
            "adobe_users": {"connectors": {"umapi": umapi}},
            "directory_users": {"user_identity_type": "federatedID", "default_country_code": "US",
                                "groups": [{"directory_group": "Staff", "adobe_groups": groups}]},
            "limits": {"max_adobe_only_users": 10}}))
    return configs


def empty_orgs(sandboxes: dict[str, Sandbox]) -> None:
    for sandbox in sandboxes.values():
        sandbox.control("POST", "reset", {"state": {"org_id": sandbox.process.org_id, "users": [],
                                                    "groups": [{"groupName": GROUP, "type": "USER_GROUP"}]}})


def run_sync(folder: Path, config: Path, sandboxes: dict[str, Sandbox], orgs: int, users: int) -> dict[str, object]:
    """One real run; its wall time, and each org's rate and users afterwards."""
    empty_orgs(sandboxes)
    command = [sys.executable, "-m", "async_usersync", "-c", str(config), "--connector", "csv", str(folder / "users.csv"),
               "--process-groups", "--lock-file", str(folder / "sync.lock"), "--min-interval", "0s",
               "--accept-shrink"]  # each round empties the orgs again
    started = time.monotonic()
    finished = subprocess.run(command, cwd=folder, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if finished.returncode != 0:
        raise RuntimeError(f"the run ended with exit code {finished.returncode}: {finished.stderr}{finished.stdout[-3000:]}")
    rates = {}
    for name in ORGS[:orgs]:
        stats = sandboxes[name].control("GET", "stats")["families"]["action"]
        state = sandboxes[name].control("GET", "state")
        if len(state["users"]) != users:
            raise RuntimeError(f"{name} holds {len(state['users'])} users, not {users}")
        per_second = [count for count in stats.get("accepted_per_second", []) if count]
        rates[name] = sum(per_second) / len(per_second) / TIME_SCALE * 60 / 10 if per_second else 0.0
    return {"orgs": orgs, "seconds": seconds, "rate_ratio": rates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=2000, help="directory users (each org gets one create per user)")
    parser.add_argument("--rounds", type=int, default=3, help="one-org and three-org runs, side by side")
    parser.add_argument("--json", type=Path, help="also write every run to this file")
    options = parser.parse_args()
    runs: list[dict[str, object]] = []
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="multi-org-") as temporary:
        folder = Path(temporary)
        sandboxes = {name: Sandbox(stack.enter_context(run_sandbox_process(
            "--users", "0", "--groups", "0", "--time-scale", str(TIME_SCALE)))) for name in ORGS}
        configs = write_files(folder, sandboxes, options.users)
        for round_number in range(options.rounds):
            for orgs in (1, 3):
                runs.append(run_sync(folder, configs[orgs], sandboxes, orgs, options.users) | {"round": round_number})
                print(f"round {round_number + 1}, {orgs} org(s): {runs[-1]['seconds']:.1f} s", file=sys.stderr, flush=True)
    print(f"{options.users} users, {options.users // 10} action requests per org, sandbox limit 10 a second per client")
    print(f"{'round':>5} {'one org (s)':>12} {'three orgs (s)':>15} {'ratio':>7}   accepted/limit per org (three orgs)")
    ratios = []
    for round_number in range(options.rounds):
        one, three = (run for run in runs if run["round"] == round_number)
        ratio = float(three["seconds"]) / float(one["seconds"])  # type: ignore[arg-type]
        ratios.append(ratio)
        rates = ", ".join(f"{name} {rate:.3f}" for name, rate in three["rate_ratio"].items())  # type: ignore[attr-defined]
        print(f"{round_number + 1:>5} {one['seconds']:>12.1f} {three['seconds']:>15.1f} {ratio:>7.3f}   {rates}")
    print(f"median ratio three orgs / one org: {statistics.median(ratios):.3f} (User Sync, one org after another: 3)")
    if options.json is not None:
        options.json.write_text(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
