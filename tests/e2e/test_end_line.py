"""Issue 14: the line a failed run leaves on stderr names the log only when there is one, by its path."""

from __future__ import annotations

from tests.e2e.conftest import Setup


async def test_without_a_log_file_stderr_names_no_log(setup: Setup) -> None:
    setup.write(main={"logging": {"log_to_file": False}}, ldap={"password": "wrong"})
    run = await setup.sync("--users", "mapped")
    assert run.code == 3, run.out + run.err
    assert run.err.strip().splitlines()[-1] == "async-usersync: the run ended with exit code 3"


async def test_with_a_log_file_stderr_names_its_path(setup: Setup) -> None:
    setup.write(ldap={"password": "wrong"})
    run = await setup.sync("--users", "mapped")
    assert run.code == 3, run.out + run.err
    log = setup.folder / "logs" / "sync.log"
    assert log.is_file()
    assert run.err.strip().splitlines()[-1] == (f"async-usersync: the run ended with exit code 3; see the log {log} "
                                                "for details")
