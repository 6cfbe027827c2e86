"""Progress as User Sync's N/M (x%) lines without a terminal, as live bars on one; separator lines."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import pty
import re
from pathlib import Path

import pytest

from async_usersync.logs.stage_lines import logged_stage, run_title, stage_line
from async_usersync.config.settings import LogSettings
from async_usersync.logs.stream import streaming_logs


def settings(tmp_path: Path, **overrides: object) -> LogSettings:
    return LogSettings(log_to_file=True, file_log_directory=tmp_path, file_log_name_format="run.log", **overrides)  # type: ignore[arg-type]


def messages(text: str) -> list[str]:
    return [line.split(" - ", 1)[1] for line in text.splitlines()]


async def test_without_a_terminal_progress_is_logged_as_user_sync_lines(tmp_path: Path) -> None:
    console = io.StringIO()
    async with streaming_logs(settings(tmp_path), run_id="p", console=console, terminal=io.StringIO(),
                              progress_interval=0) as stream:
        progress = stream.progress("directory users read", 3)
        for _ in range(3):
            progress.advance()
        progress.finish()
        counted = stream.progress("actions completed", None)
        counted.advance(5)
        counted.finish()
    expected = ["1/3 (33.3%) directory users read", "2/3 (66.7%) directory users read",
                "3/3 (100.0%) directory users read",
                "5 actions completed", "5/5 (100.0%) actions completed"]
    assert messages(console.getvalue()) == expected
    assert messages(stream.log_file.read_text()) == expected  # type: ignore[union-attr]


async def test_progress_lines_come_at_a_steady_pace_not_per_item(tmp_path: Path) -> None:
    console = io.StringIO()
    async with streaming_logs(settings(tmp_path), run_id="p", console=console, progress_interval=3600) as stream:
        progress = stream.progress("Adobe users read", 100_000)
        for _ in range(100_000):
            progress.advance()
        progress.finish()
    assert messages(console.getvalue()) == ["100000/100000 (100.0%) Adobe users read"]


async def test_log_progress_false_logs_no_progress(tmp_path: Path) -> None:
    console = io.StringIO()
    async with streaming_logs(settings(tmp_path, log_progress=False), run_id="p", console=console,
                              progress_interval=0) as stream:
        progress = stream.progress("directory users read", 2)
        progress.advance(2)
        progress.finish()
    assert console.getvalue() == ""


async def test_on_a_terminal_a_live_bar_replaces_the_console_lines(tmp_path: Path) -> None:
    controller, terminal_fd = pty.openpty()
    terminal = open(terminal_fd, "w", encoding="utf-8")
    console = io.StringIO()
    try:
        async with streaming_logs(settings(tmp_path), run_id="p", console=console, terminal=terminal,
                                  progress_interval=0) as stream:
            progress = stream.progress("directory users read", 200)
            progress.advance(50)
            logging.getLogger("async_usersync.test").info("a normal line")
            await asyncio.sleep(0.5)
            shown = os.read(controller, 65536).decode()
            progress.advance(150)
            progress.finish()
    finally:
        terminal.close()
        os.close(controller)
    assert re.search(r"directory users read \[#+-+\] 50/200  25\.0% [\d,]+/s ETA \d+:\d\d:\d\d", shown), shown
    assert messages(console.getvalue()) == ["a normal line"]
    assert "50/200 (25.0%) directory users read" in stream.log_file.read_text()  # type: ignore[union-attr]


def test_separator_lines_are_padded_as_user_syncs() -> None:
    assert stage_line(f"Start {run_title('2.6.2')}", "=") == "========== Start Run (User Sync version: 2.6.2) " + "=" * 22
    assert stage_line(f"End {run_title('2.6.2')} (Total time: 0:00:02)", "=").endswith(" (Total time: 0:00:02) ==")
    assert len(stage_line("Start Load from Directory")) == 70
    assert stage_line("x" * 80).endswith("x ")


def test_a_stage_logs_its_end_with_total_time_even_when_it_fails(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    with pytest.raises(ValueError):
        with logged_stage(logging.getLogger("async_usersync.test"), "Load from Directory"):
            raise ValueError
    assert [record.getMessage() for record in caplog.records] == [
        "---------- Start Load from Directory ---------------------------------",
        "---------- End Load from Directory (Total time: 0:00:00) -------------"]
