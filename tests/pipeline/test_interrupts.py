"""SIGTERM stops a run as Ctrl-C does, and everything logged before it is still written."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

STOPPED_SCRIPT = textwrap.dedent("""
    import asyncio, logging, os, sys
    from pathlib import Path
    from async_usersync.config.settings import LogSettings
    from async_usersync.logs.stream import streaming_logs
    from async_usersync.pipeline.interrupts import stop_on_sigterm

    async def main() -> None:
        settings = LogSettings(log_to_file=True, file_log_directory=Path(sys.argv[1]), file_log_name_format="run.log")
        log = logging.getLogger("async_usersync.child")
        try:
            async with streaming_logs(settings, run_id="child", console=None), stop_on_sigterm() as stop:
                number = 0
                while True:
                    for _ in range(500):
                        log.info("line %d", number)
                        number += 1
                    if number == 20000:
                        print("ready", flush=True)
                    await asyncio.sleep(0)
        except asyncio.CancelledError:
            print(f"cancelled {stop.received} after {number}", flush=True)
            sys.exit(130)

    asyncio.run(main())
""")


@pytest.mark.parametrize(("stop_signal", "interrupted_by"), [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "None")])
def test_a_stop_signal_ends_the_run_and_everything_logged_is_written(tmp_path: Path, stop_signal: signal.Signals,
                                                                     interrupted_by: str) -> None:
    child = subprocess.Popen([sys.executable, "-c", STOPPED_SCRIPT, str(tmp_path)], stdout=subprocess.PIPE,
                             text=True, cwd=Path(__file__).parents[2])
    assert child.stdout is not None
    assert child.stdout.readline() == "ready\n"
    child.send_signal(stop_signal)
    output, _ = child.communicate(timeout=60)
    assert child.returncode == 130
    match = re.fullmatch(rf"cancelled {interrupted_by} after (\d+)\n", output)
    assert match, output
    lines = (tmp_path / "run.log").read_text().splitlines()
    numbered = [int(line.rsplit(" ", 1)[1]) for line in lines if " - line " in line]
    assert numbered == list(range(int(match.group(1))))
    if stop_signal == signal.SIGTERM:
        assert lines[-1].endswith("WARNING async_usersync.pipeline - Received SIGTERM: stopping the run")


SIGNAL_WHILE_STARTING = textwrap.dedent("""
    import builtins, os, signal, sys
    from async_usersync.cli.main import main

    real_import = builtins.__import__
    stop_signal = getattr(signal, sys.argv[2])

    def importing(name, *args, **kwargs):
        if name == "async_usersync.pipeline.main" and not getattr(importing, "sent", False):
            importing.sent = True
            os.kill(os.getpid(), stop_signal)  # arrives while the sync command loads the pipeline
        return real_import(name, *args, **kwargs)

    builtins.__import__ = importing
    sys.argv = ["async-usersync", "-c", "user-sync-config.yml", "--summary-json", sys.argv[1]]
    main()
""")


@pytest.mark.parametrize("stop_signal", ["SIGTERM", "SIGINT"])
def test_a_stop_signal_while_the_sync_starts_still_writes_the_summary(tmp_path: Path, stop_signal: str) -> None:
    """Before the event loop runs, a SIGTERM used to kill the process (143) and a Ctrl-C to end it
    (130) without the summary and metrics the README promises on every exit path."""
    summary = tmp_path / "summary.json"
    child = subprocess.run([sys.executable, "-c", SIGNAL_WHILE_STARTING, str(summary), stop_signal],
                           capture_output=True, text=True, timeout=60, cwd=tmp_path,
                           env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    assert (child.returncode, child.stderr) == (130, "async-usersync: interrupted\n")
    assert json.loads(summary.read_text())["exit_code"] == 130
