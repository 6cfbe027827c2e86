"""Fixtures that start the project's own UMAPI + IMS sandbox server."""
