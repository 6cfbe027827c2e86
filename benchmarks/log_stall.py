"""How long the event loop stalls while the sync logs heavily: the streaming log vs plain logging.

Both run side by side in one process on the same machine, so only their ratio is meaningful.
A ticker task sleeps 1 ms at a time and records how late each wake-up is; the producer logs
``RECORDS`` lines in bursts of ``BURST`` between awaits (as a busy pipeline does). Two outputs:

* ``disk``: console to /dev/null and a file log, the usual cron run;
* ``slow pipe``: the console is a pipe whose reader drains 16 KiB every 20 ms (a slow terminal
  or ``| grep | mail`` on a loaded machine), so writes block once the pipe buffer is full.

The machine is shared, so each case runs ``REPEATS`` times, alternating the two, and medians are shown.

Run: ``.venv/bin/python benchmarks/log_stall.py``
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from async_usersync.config.settings import LogSettings  # noqa: E402
from async_usersync.logs.stream import DATE_FORMAT, LINE_FORMAT, streaming_logs  # noqa: E402

RECORDS = 50_000
BURST = 50
REPEATS = 3
"""Each case runs this many times, alternating the two loggers; the median of each figure is shown."""
SLOW_READER = "import sys, time\nwhile sys.stdin.buffer.read1(16384):\n    time.sleep(0.02)\n"
log = logging.getLogger("async_usersync.bench")


async def measure(produce: Callable[[], "asyncio.Future[None] | None"], label: str) -> dict[str, float]:
    lateness: list[float] = []

    async def ticker() -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.001)
            lateness.append(time.perf_counter() - before - 0.001)

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    started = time.perf_counter()
    for number in range(RECORDS):
        log.info("Managing groups for user key: federatedID,user%d@example.com,, added: {'Designers'}", number)
        if number % BURST == BURST - 1:
            await asyncio.sleep(0)
    produced = time.perf_counter() - started
    waiting = produce()
    if waiting is not None:
        await waiting
    tick.cancel()
    lateness.sort()
    return {"label": label, "max_stall_ms": lateness[-1] * 1000, "p99_ms": lateness[int(len(lateness) * 0.99)] * 1000,
            "median_ms": statistics.median(lateness) * 1000, "producer_s": produced}  # type: ignore[dict-item]


async def streaming(console: TextIO, folder: Path) -> dict[str, float]:
    settings = LogSettings(log_to_file=True, file_log_directory=folder, file_log_name_format="streaming.log")
    async with streaming_logs(settings, run_id="bench", console=console) as stream:
        return await measure(lambda: asyncio.ensure_future(stream.flush()), "streaming (queue + writer task)")


async def plain(console: TextIO, folder: Path) -> dict[str, float]:
    root = logging.getLogger("async_usersync")
    formatter = logging.Formatter(LINE_FORMAT, DATE_FORMAT)
    handlers = [logging.StreamHandler(console), logging.FileHandler(folder / "plain.log")]
    for handler in handlers:
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        return await measure(lambda: None, "plain logging (handlers write in the loop)")
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()


def slow_pipe() -> tuple[subprocess.Popen[bytes], TextIO]:
    reader = subprocess.Popen([sys.executable, "-c", SLOW_READER], stdin=subprocess.PIPE)
    assert reader.stdin is not None
    return reader, open(reader.stdin.fileno(), "w", encoding="utf-8", closefd=False)


def report(case: str, rows: list[dict[str, float]]) -> None:
    print(f"\n{case}: {RECORDS:,} records in bursts of {BURST}, median of {REPEATS} runs")
    print(f"  {'':45} {'max stall':>10} {'p99':>8} {'median':>8} {'producer':>9}")
    for row in rows:
        print(f"  {row['label']:45} {row['max_stall_ms']:8.1f}ms {row['p99_ms']:6.2f}ms {row['median_ms']:6.2f}ms "
              f"{row['producer_s']:8.2f}s")
    streaming_row, plain_row = rows
    print(f"  ratio plain/streaming: max stall x{plain_row['max_stall_ms'] / streaming_row['max_stall_ms']:.1f}, "
          f"p99 x{plain_row['p99_ms'] / streaming_row['p99_ms']:.1f}, "
          f"producer time x{plain_row['producer_s'] / streaming_row['producer_s']:.1f}")


def medians(rows: list[dict[str, float]]) -> dict[str, float]:
    merged: dict[str, float] = {"label": rows[0]["label"]}  # type: ignore[dict-item]
    for figure in ("max_stall_ms", "p99_ms", "median_ms", "producer_s"):
        merged[figure] = statistics.median(row[figure] for row in rows)
    return merged


async def on_disk(run: Callable[[TextIO, Path], "asyncio.Future[dict[str, float]]"], folder: Path) -> dict[str, float]:
    with open(os.devnull, "w") as devnull:
        return await run(devnull, folder)


async def on_slow_pipe(run: Callable[[TextIO, Path], "asyncio.Future[dict[str, float]]"], folder: Path) -> dict[str, float]:
    reader, console = slow_pipe()
    try:
        return await run(console, folder)
    finally:
        console.close()
        reader.stdin.close()  # type: ignore[union-attr]
        reader.kill()
        reader.wait()


async def main() -> None:
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        for case, output in (("disk (console to /dev/null, file log)", on_disk),
                             ("slow pipe (console drained 16 KiB / 20 ms)", on_slow_pipe)):
            results: dict[str, list[dict[str, float]]] = {"streaming": [], "plain": []}
            for _ in range(REPEATS):
                for name, run in (("streaming", streaming), ("plain", plain)):
                    results[name].append(await output(run, folder))  # type: ignore[arg-type]
                    gc.collect()
            report(case, [medians(results["streaming"]), medians(results["plain"])])


if __name__ == "__main__":
    asyncio.run(main())
