"""The check of the files a run will write: what it accepts, what it refuses, and that it leaves nothing behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from async_usersync.errors import ConfigError, ExitCode
from async_usersync.pipeline.outputs import OutputPath, WriteKind, check_writable


def test_writable_places_pass_and_leave_the_folder_as_it_was(tmp_path: Path) -> None:
    existing = tmp_path / "adobe-only.csv"
    existing.write_text("kept\n")
    os.utime(existing, (1_000_000, 1_000_000))
    check_writable([
        OutputPath(tmp_path / "deep" / "er" / "summary.json", "option --summary-json", WriteKind.REPLACED),
        OutputPath(existing, "option --adobe-only-user-action (write-file)", WriteKind.IN_PLACE),
        OutputPath(tmp_path / "new.csv", "option --adobe-only-user-action (write-file)", WriteKind.IN_PLACE),
        OutputPath(tmp_path, "option --state-dir", WriteKind.FOLDER),
    ])
    assert sorted(path.name for path in tmp_path.iterdir()) == ["adobe-only.csv"]  # no folder made, no probe left
    assert existing.read_text() == "kept\n" and existing.stat().st_mtime == 1_000_000  # not truncated, not touched


@pytest.mark.parametrize("kind, name, reason", [
    (WriteKind.IN_PLACE, "missing/out.csv", "the folder {tmp}/missing does not exist"),
    (WriteKind.REPLACED, "a-file/summary.json", "{tmp}/a-file is not a folder"),
    (WriteKind.REPLACED, "a-folder", "it is a folder"),
    (WriteKind.FOLDER, "missing", "the folder does not exist: create it, owned by the account that runs the sync"),
])
def test_an_unwritable_place_is_named_with_its_option(tmp_path: Path, kind: WriteKind, name: str, reason: str) -> None:
    (tmp_path / "a-file").write_text("")
    (tmp_path / "a-folder").mkdir()
    with pytest.raises(ConfigError) as refused:
        check_writable([OutputPath(tmp_path / name, "option --x", kind)])
    assert str(refused.value) == f"option --x: cannot write {tmp_path / name}: {reason.format(tmp=tmp_path)}"
    assert refused.value.exit_code == ExitCode.CONFIG_ERROR


def test_a_relative_path_is_named_in_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=f"cannot write {tmp_path / 'gone' / 'x.csv'}: "):
        check_writable([OutputPath(Path("gone/x.csv"), "option --x", WriteKind.IN_PLACE)])
