"""Group-move benchmark (issue 17): 20,000 existing users move into one user group and out of another.

Starts the sandbox as a subprocess at --time-scale 60 with UMAPI's action limit (10 requests a
window, so 10 a second here), seeds it with the users, all in "Move Out", and sends one command per
user (add "Move In", remove "Move Out") through ``UmapiClient.action_sink`` twice in this run: with
user-group entries (the default) and with ``server.user_group_entries: false``, which sends one entry
per user as User Sync does. Prints, for each, the action requests sent, the wall time at the
sandbox's limit and what it would be at Adobe's (10 requests a minute), the users lost (not moved
in the org) and misreported (reported landed and not moved, or the other way round).

    .venv/bin/python benchmarks/group_moves.py             # 20,000 users (about 4 minutes)
    .venv/bin/python benchmarks/group_moves.py --users 2000
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from async_usersync.records import CommandResult, UserCommand  # noqa: E402
from async_usersync.umapi import UmapiClient, UmapiSettings  # noqa: E402
from benchmarks.push import TIME_SCALE, Sandbox, Scenario  # noqa: E402
from tests.support.sandbox import run_sandbox_process  # noqa: E402

MOVE_IN, MOVE_OUT = "Move In", "Move Out"
ADOBE_ACTIONS_PER_MINUTE = 10


def address(number: int) -> str:
    return f"mover{number:06d}@example.com"


def seeded_org(org_id: str, users: int) -> dict[str, object]:
    return {"org_id": org_id,
            "groups": [{"groupName": name, "type": "USER_GROUP"} for name in (MOVE_IN, MOVE_OUT)],
            "users": [{"email": address(number), "username": address(number), "domain": "example.com",
                       "type": "federatedID", "firstname": "Mover", "lastname": str(number), "country": "US",
                       "groups": [MOVE_OUT]} for number in range(users)]}


async def move_everyone(settings: UmapiSettings, users: int) -> tuple[int, int, float, dict[str, bool]]:
    """Sends the moves; returns action requests, group entries, seconds and each user's reported outcome."""
    reported: dict[str, bool] = {}

    def take(result: CommandResult) -> None:
        reported[result.command.user] = result.ok

    async with UmapiClient(settings) as client:
        started = time.monotonic()
        async with client.action_sink(take) as sink:
            for number in range(users):
                await sink.send(UserCommand(user=address(number), add_groups=(MOVE_IN,), remove_groups=(MOVE_OUT,)))
        seconds = time.monotonic() - started
    return sink.totals.requests, sink.totals.group_entries, seconds, reported


def run(sandbox: Sandbox, settings: UmapiSettings, users: int, packed: bool) -> tuple[str, int, int, float, int, int]:
    sandbox.control("POST", "reset", {"state": seeded_org(sandbox.process.org_id, users)})
    requests, group_entries, seconds, reported = asyncio.run(
        move_everyone(dataclasses.replace(settings, user_group_entries=packed), users))
    org = {user["email"]: set(user["groups"]) for user in sandbox.control("GET", "state")["users"]}
    moved = {address(number): org.get(address(number)) == {MOVE_IN} for number in range(users)}
    lost = sum(not done for done in moved.values())
    misreported = sum(reported.get(email, False) != done for email, done in moved.items())
    name = "user-group entries" if packed else "one entry per user (User Sync)"
    return name, requests, group_entries, seconds, lost, misreported


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20_000)
    options = parser.parse_args()
    users = options.users
    rows = []
    with run_sandbox_process("--users", "0", "--groups", "0", "--time-scale", str(TIME_SCALE)) as process:
        sandbox = Sandbox(process)
        scenario = Scenario("plain", 10, 10)
        sandbox.prepare(scenario)
        settings = sandbox.settings(scenario)
        for packed in (True, False):
            rows.append(run(sandbox, settings, users, packed))
            print(f"done: {rows[-1][0]}", file=sys.stderr, flush=True)
    print(f"{users:,} existing users into '{MOVE_IN}' and out of '{MOVE_OUT}', sandbox at {TIME_SCALE:g}x "
          f"(10 action requests a second)")
    header = ("mode", "requests", "group entries", "seconds", "at Adobe's limit", "lost", "misreported")
    table = [header] + [(name, f"{requests:,}", f"{entries:,}", f"{seconds:.1f}",
                         f"{requests / ADOBE_ACTIONS_PER_MINUTE:,.1f} min", str(lost), str(misreported))
                        for name, requests, entries, seconds, lost, misreported in rows]
    widths = [max(len(row[column]) for row in table) for column in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)))
    packed_requests, plain_requests = rows[0][1], rows[1][1]
    print(f"requests: {plain_requests / packed_requests:.1f}x fewer with user-group entries "
          f"(User Sync's count, one entry per user: {math.ceil(users / 10):,}); "
          f"wall time {rows[1][3] / rows[0][3]:.1f}x shorter")


if __name__ == "__main__":
    main()
