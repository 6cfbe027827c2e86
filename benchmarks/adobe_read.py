"""Read benchmark: every user of a 100,000-user org at the users limit, against the ideal pace.

Starts the sandbox as a subprocess at --time-scale 60 with throttling on (25 user-page requests a
second), reads all users with ``UmapiClient.users()`` and then with umapi-client 3.0.1's
``UsersQuery``, and prints the wall time of each next to pages ÷ limit, the time the pages take at
exactly the limit (the target is at most 1.05 times that).

    .venv/bin/python benchmarks/adobe_read.py [--users 100000] [--page-size 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from async_usersync.umapi import RateLimits, UmapiClient, UmapiSettings  # noqa: E402
from tests.support.sandbox import SandboxProcess, run_sandbox_process  # noqa: E402

TIME_SCALE = 60.0
USERS_LIMIT = 25


async def read_async(process: SandboxProcess) -> tuple[float, int, int]:
    settings = UmapiSettings(org_id=process.org_id, client_id=process.client_id, client_secret=process.client_secret,
                             host=process.ims_host, auth_host=process.ims_host, ca_file=process.ca_cert,
                             timeout=120.0 / TIME_SCALE, limits=RateLimits(users=USERS_LIMIT, window=60.0 / TIME_SCALE),
                             backoff_base=3.0 / TIME_SCALE, backoff_jitter=2.0 / TIME_SCALE)
    async with UmapiClient(settings) as client:
        await client.transport.token.get()  # the IMS call is not part of the read
        started = time.monotonic()
        count = 0
        async for _ in client.users():
            count += 1
        seconds = time.monotonic() - started
        throttled = client.transport.throttles["users"].stats.throttled
    return seconds, count, throttled


def read_umapi_client(process: SandboxProcess) -> tuple[float, int]:
    import umapi_client

    auth = umapi_client.OAuthS2S(process.client_id, process.client_secret, auth_host=process.ims_host,
                                 ssl_verify=str(process.ca_cert))
    connection = umapi_client.Connection(org_id=process.org_id, auth=auth, endpoint=process.url,
                                         ssl_verify=str(process.ca_cert), timeout=120.0 / TIME_SCALE)
    connection.retry_first_delay = 3.0 / TIME_SCALE
    connection.retry_random_delay = 0
    auth.refresh_token()  # the IMS call is not part of the read
    started = time.monotonic()
    count = len(umapi_client.UsersQuery(connection).all_results())
    return time.monotonic() - started, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=2000)
    options = parser.parse_args()
    pages = math.ceil(options.users / options.page_size)
    ideal = pages / (USERS_LIMIT / (60.0 / TIME_SCALE))
    with run_sandbox_process("--users", str(options.users), "--groups", "20", "--time-scale", str(TIME_SCALE),
                             "--user-page-size", str(options.page_size)) as process:
        seconds, count, throttled = asyncio.run(read_async(process))
        time.sleep(2 * 60.0 / TIME_SCALE)  # let the window empty before the next reader
        reference_seconds, reference_count = read_umapi_client(process)
    print(f"users {options.users}, {pages} pages of {options.page_size}, limit {USERS_LIMIT} pages per "
          f"{60.0 / TIME_SCALE:g} s: pages / limit = {ideal:.2f} s")
    print("reader              users    seconds  seconds / (pages / limit)  429s")
    print(f"async-usersync      {count:<8} {seconds:7.2f}  {seconds / ideal:25.3f}  {throttled}")
    print(f"umapi-client 3.0.1  {reference_count:<8} {reference_seconds:7.2f}  {reference_seconds / ideal:25.3f}  ?")
    print(f"umapi-client / async-usersync wall time = {reference_seconds / seconds:.2f}")


if __name__ == "__main__":
    main()
