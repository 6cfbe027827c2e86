"""The ``logging:`` section of user-sync-config.yml, with User Sync's keys and defaults."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from async_usersync.config.section import ConfigSection

LEVELS: dict[str, int] = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


@dataclass(frozen=True)
class LogSettings:
    log_to_file: bool = False
    file_log_directory: Path = Path("logs")
    file_log_name_format: str = "{:%Y-%m-%d}.log"
    """A ``str.format`` pattern applied to the start time: a date pattern gives one file a day,
    a fixed name suits logrotate."""
    file_log_level: str = "info"
    console_log_level: str = "info"
    log_progress: bool = True
    json_log_file: Path | None = None
    """Our addition: one JSON object a line (run id, level, logger, message, structured fields)."""
    notes: tuple[str, ...] = field(default=(), compare=False)
    """Warnings found while reading the settings; the log stream logs them once it is open."""

    @classmethod
    def from_config(cls, section: ConfigSection) -> "LogSettings":
        """Reads the ``logging`` section; relative paths are taken against the config file's folder.

        An unknown level falls back to ``info`` with a warning, as in User Sync.
        """
        notes: list[str] = []
        name_format = section.get("file_log_name_format", cls.file_log_name_format, str)
        try:
            name_format.format(datetime.now())
        except (ValueError, IndexError, KeyError) as error:
            raise section.error("file_log_name_format", f"not a valid file name pattern: {error}") from None
        settings = cls(
            log_to_file=section.get("log_to_file", cls.log_to_file, bool),
            file_log_directory=section.path("file_log_directory", str(cls.file_log_directory)),
            file_log_name_format=name_format,
            file_log_level=_level_name(section, "file_log_level", notes),
            console_log_level=_level_name(section, "console_log_level", notes),
            log_progress=section.get("log_progress", cls.log_progress, bool),
            json_log_file=section.path("json_log_file"),
            notes=tuple(notes),
        )
        section.finish()
        return settings

    def file_log_path(self, started: datetime) -> Path:
        return self.file_log_directory / self.file_log_name_format.format(started)

    @property
    def file_level(self) -> int:
        return LEVELS[self.file_log_level]

    @property
    def console_level(self) -> int:
        return LEVELS[self.console_log_level]


def _level_name(section: ConfigSection, key: str, notes: list[str]) -> str:
    """The level named at ``key``; an unknown name means info, with a note (as User Sync warns)."""
    value = section.get(key, "info", str).strip().lower()
    if value in LEVELS:
        return value
    notes.append(f"{section.file}: unknown level '{value}' for '{section.full_key(key)}' "
                 f"(expected {'|'.join(LEVELS)}); using info")
    return "info"
