"""The rule engine: plain, synchronous and free of side effects (no I/O, no logging)."""

from async_usersync.engine.planner import SyncPlanner, command_root, match_keys, user_key
from async_usersync.engine.rules import (
    AdditionalGroupRule,
    AdobeOnlyAction,
    AdobeOnlyLimit,
    Exclusions,
    GroupMapping,
    Strategy,
    SyncRules,
)
from async_usersync.engine.action_summary import SummaryCounters, render_action_summary

__all__ = [
    "AdditionalGroupRule", "AdobeOnlyAction", "AdobeOnlyLimit", "Exclusions", "GroupMapping", "Strategy",
    "SummaryCounters", "SyncPlanner", "SyncRules", "command_root", "match_keys", "render_action_summary", "user_key",
]
