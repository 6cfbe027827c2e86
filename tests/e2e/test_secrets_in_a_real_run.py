"""A real sync at DEBUG level (slapd, the sandbox, the command as a subprocess) with secrets taken
from an environment variable and an owner-only file: no output of the run holds either."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import Setup, directory, org, setup  # noqa: F401  (fixtures)


async def test_no_secret_in_any_output_of_a_debug_run(setup: Setup, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client_secret, ldap_password = setup.org.client_secret, setup.directory.admin_password
    password_file = setup.folder / "ldap-password"
    password_file.write_text(ldap_password + "\n")
    password_file.chmod(0o600)
    monkeypatch.setenv("E2E_UMAPI_SECRET", client_secret)
    setup.write(main={"logging": {"log_to_file": True, "file_log_directory": "logs", "file_log_name_format": "sync.log",
                                  "file_log_level": "debug", "console_log_level": "debug", "json_log_file": "logs/sync.jsonl"}},
                ldap={"password": None, "secure_password_key": "file:ldap-password"})
    umapi_file = setup.folder / "connector-umapi.yml"
    umapi = yaml.safe_load(umapi_file.read_text())
    del umapi["enterprise"]["client_secret"]
    umapi["enterprise"]["secure_client_secret_key"] = "env:E2E_UMAPI_SECRET"
    umapi_file.write_text(yaml.safe_dump(umapi))

    reports = tmp_path / "reports"
    reports.mkdir()
    run = await setup.sync("--users", "mapped", "--process-groups", "--summary-json", str(reports / "summary.json"),
                           "--metrics-file", str(reports / "metrics.prom"))

    assert run.code == 0, run.err
    log_file = setup.folder / "logs" / "sync.log"
    assert " DEBUG " in log_file.read_text()  # the run really logged at debug level
    outputs = {"stdout": run.out, "stderr": run.err, "file log": log_file.read_text(),
               "JSON log": (setup.folder / "logs" / "sync.jsonl").read_text()}
    outputs.update({path.name: path.read_text() for path in reports.iterdir()})
    assert {"summary.json", "metrics.prom"} <= outputs.keys()
    for name, text in outputs.items():
        for secret in (client_secret, ldap_password):
            assert secret not in text, f"a secret is in the {name}"
