"""`dmip org`: the org hierarchy."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from server.cli_support import Context, pass_context
from server.db import Database
from server.models import OrgUnit
from server.models.org import LEVEL_ORDER, OrgLevel, unit_by_code
from server.services.orgunit_media import label, refresh_orgunit_media
from server.services.orgunits import OrgFileError, import_org_units, parse_org_csv
from server.storage.blobs import BlobStore


@click.group()
def org() -> None:
    """Org units: country, regions, districts, sub-counties, parishes."""


@org.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--demo", is_flag=True, help="Mark the imported units as demo data.")
@pass_context
def import_(ctx: Context, file: Path, demo: bool) -> None:
    """Import org units from a CSV with the columns code,name,level,parent_code.

    Rows may come in any order. Valid rows are imported even when others are rejected; every
    rejected row is listed with its line number and the reason, and the exit code is then 1, so
    fix those rows and import the same file again (importing is idempotent). The media files
    generated from the hierarchy (subcounties.csv, ...) are refreshed afterwards.
    """
    settings = ctx.settings
    try:
        rows = parse_org_csv(file.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise click.ClickException(f"{file.name} is not a UTF-8 text file") from None
    except OrgFileError as exc:
        raise click.ClickException(f"{file.name}: {exc}") from None
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            report = import_org_units(session, rows, demo=demo)
            refreshed = refresh_orgunit_media(session, BlobStore(settings.attachments_dir))
    finally:
        database.dispose()
    click.echo(
        f"added {len(report.added)}, changed {len(report.changed)}, "
        f"unchanged {len(report.unchanged)}, rejected {len(report.rejected)}"
    )
    if refreshed:
        click.echo(f"refreshed {refreshed} generated media file(s)")
    for line_no, code, reason in report.rejected:
        click.echo(f"{file.name}: line {line_no}: {code or '(no code)'}: {reason}", err=True)
    if report.rejected:
        raise SystemExit(1)


@org.command("list")
@click.option(
    "--level",
    type=click.Choice([lvl.value for lvl in LEVEL_ORDER]),
    help="Only units of this level.",
)
@click.option("--under", metavar="ORG_CODE", help="Only units inside this one.")
@pass_context
def list_(ctx: Context, level: str | None, under: str | None) -> None:
    """List org units as code, level, name (demo units marked)."""
    database = Database(ctx.settings.database_url)
    try:
        with database.session() as session:
            query = select(OrgUnit).order_by(OrgUnit.path)
            if level:
                query = query.where(OrgUnit.level == OrgLevel(level))
            if under:
                parent = unit_by_code(session, under)
                if parent is None:
                    raise click.ClickException(f"no org unit has the code {under!r}")
                query = query.where(OrgUnit.path.startswith(parent.path, autoescape=True))
            for unit in session.scalars(query):
                click.echo(f"{unit.code}\t{unit.level.value}\t{label(unit)}")
    finally:
        database.dispose()
