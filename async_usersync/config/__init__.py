"""Reading User Sync's configuration files and options."""

from async_usersync.config.example import write_example_config
from async_usersync.config.options import SyncOptions, merge_options
from async_usersync.config.run_settings import RunSettings, build_sync_rules, load_run_settings
from async_usersync.config.user_sync_config import SyncConfig, load_sync_config, read_log_settings

__all__ = [
    "RunSettings", "SyncConfig", "SyncOptions", "build_sync_rules", "load_run_settings", "load_sync_config",
    "merge_options", "read_log_settings", "write_example_config",
]
