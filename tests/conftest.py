"""Fixtures live in tests/support, one module per real server the tests start."""

pytest_plugins = ["tests.support.slapd", "tests.support.sandbox"]
