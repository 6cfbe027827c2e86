import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from async_usersync import __version__
from async_usersync.cli.main import _with_default_command, app
from async_usersync.config.example import EXAMPLE_FILES


def test_version_is_printed() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"async-usersync {__version__}"


def test_sync_is_the_default_command() -> None:
    assert _with_default_command(["--users", "mapped"]) == ["sync", "--users", "mapped"]
    assert _with_default_command(["sandbox", "--port", "0"]) == ["sandbox", "--port", "0"]
    assert _with_default_command([]) == ["sync"]
    assert _with_default_command(["--help"]) == ["--help"]


def run_cli(*arguments: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real console entry point (``python -m async_usersync``), as a user or cron runs it."""
    return subprocess.run([sys.executable, "-m", "async_usersync", *arguments], capture_output=True, text=True,
                          cwd=cwd, timeout=60)


@pytest.mark.parametrize(("command", "instead"), [
    ("info", "async-usersync --version"),
    ("docs", "README.md"),
    ("certgen", "OAuth Server-to-Server credential"),
    ("encrypt", "secure_client_secret_key"),
    ("decrypt", "secure_client_secret_key"),
    ("shell-scripts", "async-usersync --users mapped --process-groups"),
    ("example-config-sign", "user-sync sign-sync"),
    ("sign-sync", "user-sync sign-sync"),
    ("migrate-post-sync", "user-sync sign-sync"),
])
def test_user_sync_commands_we_do_not_provide_say_what_to_use_instead(command: str, instead: str, tmp_path: Path) -> None:
    result = run_cli(command, "--some-option", "value", cwd=tmp_path)  # User Sync's own arguments do not matter
    assert result.returncode == 2
    assert result.stderr.startswith(f"async-usersync: error: '{command}' is a User Sync command")
    assert "does not provide" in result.stderr and instead in result.stderr
    assert "Traceback" not in result.stderr and list(tmp_path.iterdir()) == []


def test_init_writes_the_example_config_files(tmp_path: Path) -> None:
    result = run_cli("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(EXAMPLE_FILES)
    assert all((tmp_path / name).read_text() == text for name, text in EXAMPLE_FILES.items())


@pytest.mark.parametrize("line", [[], ["sync"], ["example-config"], ["init"], ["sandbox"], ["credentials"],
                                  ["credentials", "set"], ["certgen"], ["--users", "mapped"]])
def test_h_is_help_wherever_help_is(line: list[str]) -> None:
    runner = CliRunner()
    short, long = (runner.invoke(app, _with_default_command([*line, flag])) for flag in ("-h", "--help"))
    assert short.exit_code == 0, short.output
    assert "Usage: " in short.output and short.output == long.output


def test_an_unknown_config_file_encoding_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "user-sync-config.yml"
    config.write_text("limits: {max_adobe_only_users: 10}\n")
    for codec, problem in (("utf-9", "unknown encoding 'utf-9'"), ("hex", "'hex' is not a text encoding")):
        result = run_cli("--config-file-encoding", codec, "-c", str(config), cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.startswith(f"async-usersync: error: option --config-file-encoding: {problem}")
        assert "Traceback" not in result.stderr


BLOCKED_CRYPTOGRAPHY = ("import sys, runpy; sys.modules['cryptography'] = None; "
                        "runpy.run_module('async_usersync', run_name='__main__')")


def test_without_the_sandbox_extra_a_sync_runs_and_the_sandbox_names_the_extra(tmp_path: Path) -> None:
    def run_blocked(*arguments: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", BLOCKED_CRYPTOGRAPHY, *arguments], capture_output=True,
                              text=True, cwd=tmp_path, timeout=60)

    for line in (["--help"], ["sync", "-h"]):
        result = run_blocked(*line)
        assert result.returncode == 0, result.stderr
        assert "Usage: " in result.stdout
    missing_config = run_blocked("-c", str(tmp_path / "nowhere.yml"))
    assert missing_config.returncode == 2
    assert missing_config.stderr.startswith("async-usersync: error:") and "nowhere.yml" in missing_config.stderr
    sandbox = run_blocked("sandbox", "--port", "0")
    assert sandbox.returncode == 2
    assert "pip install 'async-usersync[sandbox]'" in sandbox.stderr and "Traceback" not in sandbox.stderr
