from __future__ import annotations

import time

import click

from server.cli_support import Context, pass_context
from server.domain.cycles import is_cycle


@click.group()
def aggregates() -> None:
    """Indicator aggregates per org unit and planning cycle."""


@aggregates.command()
@click.option("--cycle", help="Only this planning cycle, e.g. 2025/26.")
@pass_context
def rebuild(ctx: Context, cycle: str | None) -> None:
    """Recompute every aggregate from the submissions.

    Run it after editing forms/catalog.yaml: the workers keep aggregates up to date as
    submissions arrive, but a changed formula applies to old submissions only after a rebuild.
    Workers wait (they do not fail) while it runs; the receiver keeps accepting submissions.
    """
    from server.aggregation import catalog_source
    from server.db import Database
    from server.domain.catalog import CatalogError
    from server.services.aggregate_rebuild import rebuild as run_rebuild

    if cycle is not None and not is_cycle(cycle):
        raise click.BadParameter(
            f"{cycle!r} is not a planning cycle (e.g. 2025/26)", param_hint="--cycle"
        )
    settings = ctx.settings
    catalog_source.configure(settings.forms_dir / "catalog.yaml")
    db = Database(settings.database_url)
    started = time.monotonic()
    try:
        report = run_rebuild(db, cycle, progress=lambda m: click.echo(f"  {m}", err=True))
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()
    for indicator, why in report.skipped:
        click.echo(f"warning: {indicator} not computed for an older form version: {why}", err=True)
    scope = f"cycle {cycle}" if cycle else "all cycles"
    click.echo(
        f"rebuilt {report.aggregates} aggregates from {report.submissions} submissions "
        f"({scope}) in {time.monotonic() - started:.1f} s"
    )
    if report.recounted:
        click.echo(f"corrected the counted mark of {report.recounted} submissions")
