"""The asynchronous log stream: User Sync's line format, nothing lost, the loop kept responsive."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import re
import time
from pathlib import Path

import orjson
import pytest

from async_usersync.config.settings import LogSettings
from async_usersync.logs.stream import streaming_logs

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (\d+) (DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+) - (.*)$")
log = logging.getLogger("async_usersync.tests")


def file_settings(tmp_path: Path, **overrides: object) -> LogSettings:
    values: dict[str, object] = dict(log_to_file=True, file_log_directory=tmp_path / "logs",
                                     file_log_name_format="run.log", json_log_file=tmp_path / "run.jsonl")
    values.update(overrides)
    return LogSettings(**values)  # type: ignore[arg-type]


async def test_lines_use_user_syncs_format_and_each_output_its_own_level(tmp_path: Path) -> None:
    console = io.StringIO()
    settings = file_settings(tmp_path, file_log_level="debug", console_log_level="warning")
    async with streaming_logs(settings, run_id="run-1", console=console) as stream:
        log.debug("detail %d", 1)
        log.warning("careful", extra={"user": "jo@example.com", "count": 3})
    file_lines = stream.log_file.read_text().splitlines()  # type: ignore[union-attr]
    assert [LINE.match(line).groups()[1:] for line in file_lines] == [  # type: ignore[union-attr]
        ("DEBUG", "async_usersync.tests", "detail 1"), ("WARNING", "async_usersync.tests", "careful")]
    assert LINE.match(file_lines[0]).group(1) == str(os.getpid())  # type: ignore[union-attr]
    assert console.getvalue().splitlines() == file_lines[1:]
    entries = [orjson.loads(line) for line in (tmp_path / "run.jsonl").read_bytes().splitlines()]
    assert [(entry["level"], entry["message"], entry["run_id"]) for entry in entries] == [
        ("DEBUG", "detail 1", "run-1"), ("WARNING", "careful", "run-1")]
    assert entries[1]["user"] == "jo@example.com" and entries[1]["count"] == 3


async def test_a_burst_of_100000_records_loses_none_and_keeps_the_loop_responsive(tmp_path: Path) -> None:
    console = io.StringIO()
    longest_stall = 0.0

    async def ticker() -> None:
        nonlocal longest_stall
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            longest_stall = max(longest_stall, now - last)
            last = now

    async with streaming_logs(file_settings(tmp_path), run_id="burst", console=console) as stream:
        tick = asyncio.create_task(ticker())
        await asyncio.sleep(0.01)
        for chunk in range(100):
            for number in range(1000):
                log.info("record %d", chunk * 1000 + number)
            await asyncio.sleep(0)
        await stream.flush()
        tick.cancel()
    print(f"longest loop stall while writing 100,000 records: {longest_stall * 1000:.1f} ms")
    for text in (stream.log_file.read_text(), console.getvalue()):  # type: ignore[union-attr]
        numbers = [int(line.rsplit(" ", 1)[1]) for line in text.splitlines()]
        assert numbers == list(range(100_000))
    assert sum(1 for _ in (tmp_path / "run.jsonl").open("rb")) == 100_000
    assert longest_stall < 1.0  # generous: a shared machine; benchmarks/log_stall.py measures it properly


async def test_records_from_other_threads_are_written(tmp_path: Path) -> None:
    async with streaming_logs(file_settings(tmp_path), run_id="threads", console=None) as stream:
        await asyncio.gather(*(asyncio.to_thread(log.info, "from thread %d", n) for n in range(20)))
    assert sorted(stream.log_file.read_text().count(f"from thread {n}\n") for n in range(20)) == [1] * 20  # type: ignore[union-attr]


async def test_the_queue_is_drained_when_the_run_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with streaming_logs(file_settings(tmp_path), run_id="fail", console=None):
            for number in range(5000):
                log.info("before failure %d", number)
            try:
                raise RuntimeError("boom")
            except RuntimeError:
                log.exception("the run failed")
                raise
    text = (tmp_path / "logs" / "run.log").read_text()
    assert text.count("before failure") == 5000
    assert "ERROR async_usersync.tests - the run failed\nTraceback" in text
    assert orjson.loads((tmp_path / "run.jsonl").read_bytes().splitlines()[-1])["exception"].endswith("RuntimeError: boom")


async def test_nothing_leaks_to_the_logger_after_the_stream_closes(tmp_path: Path) -> None:
    root = logging.getLogger("async_usersync")
    before = (list(root.handlers), root.level)
    async with streaming_logs(file_settings(tmp_path), run_id="x", console=None):
        assert len(root.handlers) == len(before[0]) + 1
    assert (list(root.handlers), root.level) == before
