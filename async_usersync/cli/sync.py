"""``async-usersync sync`` (the default command) and ``example-config``."""

import typer


def sync() -> None:
    """Sync the directory into the Adobe org."""
    typer.echo("not built yet", err=True)
    raise typer.Exit(1)


def example_config() -> None:
    """Write commented starting config files."""
    typer.echo("not built yet", err=True)
    raise typer.Exit(1)
