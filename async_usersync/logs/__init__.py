"""Asynchronous log streaming, User Sync's stage lines, progress."""

from async_usersync.config.settings import LogSettings
from async_usersync.logs.stream import LogStream, streaming_logs

__all__ = ["LogSettings", "LogStream", "streaming_logs"]
