from __future__ import annotations

import click

from server import migrate
from server.cli_support import Context, pass_context


@click.group()
def db() -> None:
    """Database schema."""


@db.command()
@pass_context
def upgrade(ctx: Context) -> None:
    """Create or migrate the database schema to the newest version."""
    settings = ctx.settings
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.database_url)
    click.echo(f"database at revision {migrate.current_revision(settings.database_url)}")
