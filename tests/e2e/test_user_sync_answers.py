"""User Sync's answers at the edges, through real runs: its option spellings, and the keys it refuses
or warns about. See conftest.py for the directory and the starting org."""

from __future__ import annotations

import yaml

from tests.e2e.conftest import Setup, email


def edit_yaml(setup: Setup, name: str, **keys: object) -> None:
    path = setup.folder / name
    path.write_text(yaml.safe_dump(yaml.safe_load(path.read_text()) | keys, sort_keys=False))


async def test_equals_form_options_take_their_second_token(setup: Setup) -> None:
    out = setup.folder / "adobe-only.csv"
    run = await setup.sync("--users=group", "Sales,Marketing", "--adobe-only-user-action=write-file", str(out),
                           "--process-groups")
    assert run.code == 0, run.err
    users = await setup.users()
    assert users[email("frank")] == []  # created: a member of Marketing, selected by the second token
    assert email("dave") not in users  # in no selected group
    assert email("gone1") in out.read_text()


async def test_csv_file_path_is_read_without_a_file_on_the_command_line_and_warned_about_with_one(setup: Setup) -> None:
    listed = setup.folder / "listed.csv"
    listed.write_text(f"email,firstname,lastname,country,groups\n{email('zed')},Zed,Tester,US,Sales\n")
    given = setup.folder / "given.csv"
    given.write_text(f"email,firstname,lastname,country,groups\n{email('yan')},Yan,Tester,US,Sales\n")
    (setup.folder / "connector-csv.yml").write_text("delimiter: ','\n")
    edit_yaml(setup, "user-sync-config.yml", directory_users={
        "user_identity_type": "federatedID", "connectors": {"ldap": "connector-ldap.yml", "csv": "connector-csv.yml"},
        "groups": [{"directory_group": "Sales", "adobe_groups": ["Sales Team"]}]})
    run = await setup.sync("--connector", "csv", "--process-groups")
    assert run.code == 2
    assert run.err == ("async-usersync: error: no CSV file given: set file_path in connector-csv.yml or use "
                       "--users file FILE\n")

    (setup.folder / "connector-csv.yml").write_text("file_path: listed.csv\n")
    run = await setup.sync("--connector", "csv", "--process-groups")
    assert run.code == 0, run.err
    assert "key 'file_path'" not in run.out
    assert (await setup.users())[email("zed")] == ["Sales Team"]

    run = await setup.sync("--connector=csv", str(given), "--process-groups")
    assert run.code == 0, run.err
    warnings = [line for line in run.out.splitlines() if "WARNING" in line and "key 'file_path'" in line]
    assert len(warnings) == 1
    assert warnings[0].endswith(f"in {setup.folder / 'connector-csv.yml'}, key 'file_path': not read: the command "
                                f"line names {given}, which is read instead")
    assert (await setup.users())[email("yan")] == ["Sales Team"]


async def test_deprecated_and_misplaced_umapi_keys_are_warned_about(setup: Setup) -> None:
    edit_yaml(setup, "connector-umapi.yml", uses_business_id=True, ssl_verify=False)
    run = await setup.sync("--users", "mapped")
    assert run.code == 0, run.err
    umapi_file = setup.folder / "connector-umapi.yml"
    warnings = [line.partition(" - ")[2] for line in run.out.splitlines() if "WARNING" in line]
    assert f"in {umapi_file}, key 'uses_business_id': is deprecated and has no effect; remove it" in warnings
    assert (f"in {umapi_file}, key 'ssl_verify': is not read at the top level; only server.ssl_verify is "
            "(or invocation_defaults.ssl_cert_verify)") in warnings
    assert "verification is OFF" not in run.out  # the top-level key really is not read


async def test_credentials_with_an_anonymous_bind_are_refused(setup: Setup) -> None:
    setup.write(ldap={"authentication_method": "anonymous"})
    run = await setup.sync("--users", "mapped")
    assert run.code == 2
    assert run.err.startswith(f"async-usersync: error: in {setup.folder / 'connector-ldap.yml'}, key 'username': "
                              "is not allowed with 'authentication_method: anonymous'")
    assert await setup.requests("action") == 0


async def test_a_password_yaml_reads_as_a_number_is_refused_naming_file_and_key(setup: Setup) -> None:
    ldap_file = setup.folder / "connector-ldap.yml"
    lines = [line for line in ldap_file.read_text().splitlines() if not line.startswith("password:")]
    ldap_file.write_text("\n".join([*lines, "password: 0123456", ""]))
    run = await setup.sync("--users", "mapped")
    assert run.code == 2
    assert run.err.startswith(f"async-usersync: error: in {ldap_file}, key 'password': YAML reads this value as a "
                              "number")
    assert "put it in quotes: password: '...'" in run.err
    assert "42798" not in run.err and "0123456" not in run.err
