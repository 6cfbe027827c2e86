from typer.testing import CliRunner

from async_usersync import __version__
from async_usersync.cli.main import _with_default_command, app


def test_version_is_printed() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"async-usersync {__version__}"


def test_sync_is_the_default_command() -> None:
    assert _with_default_command(["--users", "mapped"]) == ["sync", "--users", "mapped"]
    assert _with_default_command(["sandbox", "--port", "0"]) == ["sandbox", "--port", "0"]
    assert _with_default_command([]) == ["sync"]
    assert _with_default_command(["--help"]) == ["--help"]
