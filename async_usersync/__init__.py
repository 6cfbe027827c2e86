"""async-usersync: an asynchronous, drop-in replacement for Adobe's User Sync Tool."""

__version__ = "0.1.0"
