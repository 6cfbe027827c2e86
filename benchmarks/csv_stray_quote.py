"""How long the CSV source takes to fail on a stray quote near the top, and to read a clean file.

A stray quote at line 3 opens a quoted cell that never closes. The reader used to re-join every
pending line for each new line (time growing with the square of the rows); it now counts quotes as
lines come and stops once the open cell passes the csv module's cell limit.

To compare with an older checkout, export its package and point ``--source`` at it, e.g.
``git archive <commit> async_usersync | tar -x -C /tmp/old`` then
``.venv/bin/python benchmarks/csv_stray_quote.py --source /tmp/old --sizes 10000,20000,40000``.

Run: ``.venv/bin/python benchmarks/csv_stray_quote.py [--sizes 40000,1000000]``
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path


def write_users(path: Path, rows: int, stray_quote: bool) -> None:
    with path.open("w", encoding="utf8") as stream:
        stream.write("email,firstname,lastname,country,groups\n")
        for number in range(rows):
            opening = '"' if stray_quote and number == 1 else ""
            stream.write(f"user{number}@example.com,{opening}User,Number {number},US,Sales\n")


async def read_all(path: Path) -> tuple[int, str]:
    from async_usersync.errors import ReadError
    from async_usersync.records import IdentityType
    from async_usersync.sources.base import UserSelection
    from async_usersync.sources.csv import CsvSettings, CsvSource

    source = CsvSource(CsvSettings(file_path=path), IdentityType.FEDERATED_ID)
    users = 0
    try:
        async for _ in source.users(UserSelection("all", ())):
            users += 1
    except ReadError as error:
        return users, str(error).replace(str(path), "FILE")
    return users, "read"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="40000,1000000", help="comma-separated row counts")
    parser.add_argument("--source", type=Path, default=Path(__file__).resolve().parents[1],
                        help="folder holding the async_usersync package to measure")
    options = parser.parse_args()
    sys.path.insert(0, str(options.source))
    with tempfile.TemporaryDirectory() as folder:
        for rows in (int(size) for size in options.sizes.split(",")):
            for stray_quote in (True, False):
                path = Path(folder) / "users.csv"
                write_users(path, rows, stray_quote)
                started = time.perf_counter()
                users, outcome = asyncio.run(read_all(path))
                seconds = time.perf_counter() - started
                label = "stray quote" if stray_quote else "clean"
                print(f"{rows:>9,} rows {label:<11} {seconds:8.2f} s  {users:>9,} users  {outcome[:110]}")


if __name__ == "__main__":
    main()
