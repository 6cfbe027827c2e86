"""Development and demo helpers: the demo (``python -m async_usersync.demo``), a private slapd and
generated directory data, used by the demo, the tests and the benchmarks. A sync never imports them."""
