"""Reading User Sync's configuration files."""
