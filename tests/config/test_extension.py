"""The extension file (``directory_users.extension``): what is read, the hook compiled once with the
file's own line numbers, the errors a user sees, and the switch that forbids hooks."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest

from async_usersync.config import load_sync_config, write_example_config
from async_usersync.config.extension import read_extension
from async_usersync.errors import ConfigError
from tests.config.test_user_sync_config import with_section, write_config

EXTENSION = """\
# a comment line
extended_attributes:
  - bc
  - subco
extended_adobe_groups:
  - Company 1 Users
after_mapping_hook: |
  bc = source_attributes.get('bc')
  if bc is None:
      raise ValueError('no bc')
"""
RAISE_LINE = 10
"""The line of ``raise`` in EXTENSION, as an editor numbers it."""


def write(folder: Path, text: str) -> Path:
    path = folder / "extension-config.yml"
    path.write_text(text)
    return path


def test_the_hook_is_compiled_with_the_files_name_and_line_numbers(tmp_path: Path) -> None:
    extension = read_extension(write(tmp_path, EXTENSION))
    assert (extension.extended_attributes, extension.extended_adobe_groups) == (("bc", "subco"), ("Company 1 Users",))
    with pytest.raises(ValueError) as caught:
        exec(extension.after_mapping_hook, {"source_attributes": {}})
    frame = traceback.extract_tb(caught.value.__traceback__)[-1]
    assert (frame.filename, frame.lineno) == (str(tmp_path / "extension-config.yml"), RAISE_LINE)


@pytest.mark.parametrize("text, line", [
    ("after_mapping_hook: |\n  x = 1\n  if x\n      y = 2\n", 3),
    ("extended_attributes: [a]\nafter_mapping_hook: >\n  x = (\n", 3),
    ("extended_attributes: [a]\nafter_mapping_hook: 'x = ('\n", 2),
])
def test_a_syntax_error_names_the_file_the_key_and_the_files_line(tmp_path: Path, text: str, line: int) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        read_extension(path)
    assert str(caught.value).startswith(f"in {path}, key 'after_mapping_hook': the hook does not compile: ")
    assert str(caught.value).endswith(f" at line {line}")


@pytest.mark.parametrize("text, key, message", [
    ("extended_attributes: [bc]\n", "after_mapping_hook", "a value is required"),
    ("after_mapping_hook: 'pass'\nbefore_mapping_hook: 'pass'\n", "before_mapping_hook", "unknown key"),
    ("after_mapping_hook: 'pass'\nextended_adobe_groups: ['org2::Apps']\n", "extended_adobe_groups", "names the org 'org2', which is not a secondary org"),
    ("after_mapping_hook: 'pass'\nextended_adobe_groups: ['_org_admin']\n", "extended_adobe_groups", "cannot be assigned"),
    ("after_mapping_hook: 'pass'\nextended_attributes: [[bc]]\n", "extended_attributes", "expected attribute or column"),
])
def test_extension_file_errors_name_the_file_and_key(tmp_path: Path, text: str, key: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        read_extension(path)
    assert str(caught.value).startswith(f"in {path}, key '{key}': ") and message in str(caught.value)


def test_the_main_config_reads_the_extension_and_its_groups_count_as_mapped(tmp_path: Path) -> None:
    write(tmp_path, EXTENSION)
    for value in ("extension-config.yml", ["extension-config.yml"]):
        config = load_sync_config(write_config(tmp_path, **with_section("directory_users", extension=value)))
        assert config.directory.extension is not None
        assert config.directory.extension.file == tmp_path / "extension-config.yml"
        assert config.directory.mapping.static_targets == ("All Apps", "Acrobat", "Spark", "Company 1 Users")


@pytest.mark.parametrize("switch", ["0", "false", "off"])
def test_ust_extension_0_refuses_any_extension_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, switch: str) -> None:
    write(tmp_path, EXTENSION)
    path = write_config(tmp_path, **with_section("directory_users", extension="extension-config.yml"))
    monkeypatch.setenv("UST_EXTENSION", switch)
    with pytest.raises(ConfigError) as caught:
        load_sync_config(path)
    assert str(caught.value).startswith(f"in {path}, key 'directory_users.extension': extension hooks are forbidden "
                                        f"on this install (UST_EXTENSION={switch})")
    monkeypatch.setenv("UST_EXTENSION", "1")
    assert load_sync_config(path).directory.extension is not None


def test_example_config_writes_an_extension_file_that_loads(tmp_path: Path) -> None:
    written = write_example_config(tmp_path)
    extension = read_extension(tmp_path / "extension-config.yml")
    assert tmp_path / "extension-config.yml" in written
    assert (extension.extended_attributes, extension.extended_adobe_groups) == (
        ("businessCategory", "o"), ("Company 1 Users", "Company 2 Users"))
    main = tmp_path / "user-sync-config.yml"
    main.write_text(main.read_text().replace("# extension: extension-config.yml", "extension: extension-config.yml"))
    assert load_sync_config(main).directory.extension == extension
