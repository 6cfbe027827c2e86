"""``async-usersync sandbox``: the local UMAPI + IMS stand-in (built by the foundation issue)."""

import typer


def sandbox() -> None:
    """Serve a local stand-in for UMAPI and Adobe IMS."""
    typer.echo("not built yet", err=True)
    raise typer.Exit(1)
