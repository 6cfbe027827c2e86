"""A bulk load stopped by SIGTERM or Ctrl-C, one through lost answers and one through an outage with
a restart of the server: the summary equals the org."""

from __future__ import annotations

import asyncio
import json
import signal
import sys

import pytest

from tests.e2e.conftest import Setup
from tests.e2e.test_monitoring import read_reports, report_options

BULK = 300


def write_users(setup: Setup) -> str:
    users_file = setup.folder / "users.csv"
    rows = [f"bulk{number:04d}@e2e.test,Bulk,Load,US,Sales" for number in range(BULK)]
    users_file.write_text("email,firstname,lastname,country,groups\n" + "\n".join(rows) + "\n")
    return str(users_file)


async def start_bulk_push(setup: Setup) -> tuple[asyncio.subprocess.Process, asyncio.Future]:
    """Starts ``async-usersync --strategy push`` of the bulk users, with the summary JSON and the
    metrics file (``report_options``); returns it and its output to come."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "async_usersync", "--strategy", "push", "--users", "file", write_users(setup),
        "--process-groups", *report_options(setup), "-c", str(setup.config_file),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=setup.folder)
    return process, asyncio.ensure_future(process.communicate())


async def bulk_users(setup: Setup) -> int:
    return sum(address.startswith("bulk") for address in await setup.users())


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_bulk_load_stopped_mid_way_says_what_landed_failed_and_was_not_sent(setup: Setup, stop) -> None:
    setup.write(server={"limits": {"window": 1.0}})  # 10 action requests a second: 30 for the load
    process, output = await start_bulk_push(setup)
    for _ in range(300):
        if await bulk_users(setup) >= 30:
            break
        await asyncio.sleep(0.05)
    process.send_signal(stop)
    out, err = (part.decode() for part in await asyncio.wait_for(output, 60))
    assert process.returncode == 130, out + err
    assert "Traceback" not in out + err and "Error in action" not in out
    assert " ERROR " not in out, [line for line in out.splitlines() if " ERROR " in line]
    families, summary = read_reports(setup, 130)  # every series and field, as on every exit path (issue 14)
    counters = summary["counters"]
    landed = await bulk_users(setup)
    assert families["async_usersync_umapi_actions_not_sent"] == {"": BULK - landed}
    assert counters["umapi_actions_sent"] == BULK, out
    assert counters["umapi_actions_succeeded"] == landed and 30 <= landed < BULK
    assert counters["umapi_actions_failed"] == 0
    assert counters["umapi_actions_not_sent"] == BULK - landed, out
    assert counters["primary_users_created"] == landed  # users whose create landed, not the planned ones
    assert f"Number of directory users pushed to Adobe: {landed}\n" in out
    assert f"{BULK - landed} of {BULK} UMAPI actions were not sent" in out
    assert "Number of UMAPI actions not sent" in out


async def test_a_bulk_load_stopped_while_answers_are_lost_tells_the_unanswered_ones_once(setup: Setup) -> None:
    """SIGTERM just after an answer was lost (its request backs off 3 s or more before it goes again):
    that request may have landed, so it is unanswered, told in one WARNING, never one ERROR per
    user; the summary JSON and the Action Summary add up and match the org."""
    setup.org.config.update({"faults": "action:lost=0.3"})
    setup.write(server={"limits": {"window": 1.0}})
    process, output = await start_bulk_push(setup)
    stats = setup.org.sandbox.stats.families["action"]
    for _ in range(300):
        if await bulk_users(setup) >= 30:
            break
        await asyncio.sleep(0.05)
    resets = stats.resets
    for _ in range(600):
        if stats.resets > resets:
            break
        await asyncio.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    out, err = (part.decode() for part in await asyncio.wait_for(output, 60))
    assert process.returncode == 130, out + err
    assert "Traceback" not in out + err and "Error in action" not in out
    assert " ERROR " not in out, [line for line in out.splitlines() if " ERROR " in line]
    families, summary = read_reports(setup, 130)
    counters = summary["counters"]
    landed, unanswered = counters["umapi_actions_succeeded"], counters["umapi_actions_unanswered"]
    assert counters["umapi_actions_failed"] == 0 and unanswered > 0, out
    assert families["async_usersync_umapi_actions_unanswered"] == {"": unanswered}
    assert landed + unanswered + counters["umapi_actions_not_sent"] == counters["umapi_actions_sent"] == BULK
    in_org = await bulk_users(setup)
    assert landed <= in_org <= landed + unanswered
    assert in_org == landed + unanswered  # the sandbox's lost answers were all handled: every one landed
    assert counters["primary_users_created"] == landed  # only the users known to be in the org
    assert f"{unanswered} of {BULK} UMAPI actions were sent but got no answer before sending stopped" in out
    assert f"Number of UMAPI actions unanswered (may have landed): {unanswered}\n" in out
    assert f"Number of UMAPI actions sent (total, success, error): ({BULK}, {landed}, 0)" in out


async def test_lost_answers_are_counted_as_landed_and_the_summary_equals_the_org(setup: Setup) -> None:
    setup.org.config.update({"faults": "action:lost=0.3"})
    setup.write(server={"retries": 3, "limits": {"window": 0.05}})
    users_file = write_users(setup)
    run = await setup.sync("--strategy", "push", "--users", "file", users_file, "--process-groups",
                           "--summary-json", str(setup.folder / "summary.json"))
    assert run.code == 0, run.out + run.err
    counters = json.loads((setup.folder / "summary.json").read_text())["counters"]
    assert await bulk_users(setup) == BULK
    assert (counters["umapi_actions_sent"], counters["umapi_actions_succeeded"], counters["umapi_actions_failed"],
            counters["umapi_actions_not_sent"]) == (BULK, BULK, 0, 0)
    assert setup.org.sandbox.stats.families["action"].resets > 0


async def test_an_outage_with_a_restart_mid_load_loses_nothing_and_the_run_succeeds(setup: Setup) -> None:
    setup.write(server={"limits": {"window": 1.0}})
    users_file = write_users(setup)
    sync = asyncio.ensure_future(setup.sync("--strategy", "push", "--users", "file", users_file, "--process-groups",
                                            "--summary-json", str(setup.folder / "summary.json")))
    for _ in range(300):
        if await bulk_users(setup) >= 50:
            break
        await asyncio.sleep(0.05)
    await setup.org.outage(5.5)  # past the first backoff step (3 to 5 s): two attempts a request would not do
    run = await sync
    assert run.code == 0, run.out + run.err
    assert "then one goes first to test the service" in run.out  # the outage was met
    counters = json.loads((setup.folder / "summary.json").read_text())["counters"]
    assert await bulk_users(setup) == BULK
    assert (counters["umapi_actions_succeeded"], counters["umapi_actions_failed"],
            counters["umapi_actions_not_sent"]) == (BULK, 0, 0)
