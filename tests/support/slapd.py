"""Fixtures that start a real OpenLDAP server (slapd) on a free loopback port."""
