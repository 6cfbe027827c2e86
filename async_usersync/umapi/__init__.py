"""The async UMAPI client: IMS auth, per-family adaptive throttles, paged reads, batched actions."""

from async_usersync.config.settings import RateLimits, UmapiSettings
from async_usersync.umapi.client import GroupResult, UmapiClient
from async_usersync.umapi.errors import UmapiError
from async_usersync.umapi.sink import ActionSink, ActionTotals

__all__ = ["ActionSink", "ActionTotals", "GroupResult", "RateLimits", "UmapiClient", "UmapiError", "UmapiSettings"]
