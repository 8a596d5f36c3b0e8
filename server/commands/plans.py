from __future__ import annotations

from pathlib import Path

import click

from server.cli_support import Context, pass_context
from server.domain.cycles import is_cycle


def _cycle(value: str | None) -> str | None:
    if value is not None and not is_cycle(value):
        raise click.BadParameter(f"{value!r} is not a planning cycle (e.g. 2025/26)")
    return value


@click.group()
def plans() -> None:
    """Draft DMIPs: one per district and planning cycle."""


@plans.command("list")
@click.option("--cycle", callback=lambda _c, _p, v: _cycle(v), help="Only this cycle.")
@pass_context
def list_(ctx: Context, cycle: str | None) -> None:
    """One line per plan: district code, name, cycle, state, and whether new data awaits."""
    from sqlalchemy import select

    from server.db import Database
    from server.models import DmipPlan, OrgUnit

    db = Database(ctx.settings.database_url)
    try:
        with db.session() as session:
            query = select(DmipPlan, OrgUnit).join(OrgUnit, OrgUnit.id == DmipPlan.district_id)
            if cycle is not None:
                query = query.where(DmipPlan.cycle == cycle)
            rows = session.execute(query.order_by(OrgUnit.code, DmipPlan.cycle)).all()
            if not rows:
                click.echo("no plans yet: a district gets one with its first processed data")
            for plan, district in rows:
                fresh = "stale" if plan.stale else "fresh"
                click.echo(
                    f"{district.code}\t{district.name}\t{plan.cycle}\t{plan.state.value}\t{fresh}"
                )
    finally:
        db.dispose()


def _write(output: Path, data: bytes) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".part")
    tmp.write_bytes(data)
    tmp.replace(output)


@plans.command()
@click.argument("district_code")
@click.option("--format", "fmt", type=click.Choice(["docx", "pdf"]), required=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--cycle", callback=lambda _c, _p, v: _cycle(v), help="Default: the latest.")
@pass_context
def export(ctx: Context, district_code: str, fmt: str, output: Path, cycle: str | None) -> None:
    """Write a district's DMIP as DOCX or PDF (redrawn first if new data has come in)."""
    from server.aggregation import catalog_source
    from server.db import Database
    from server.plans.documents import DocumentError, plan_document, plan_for

    catalog_source.configure(ctx.settings.forms_dir / "catalog.yaml")
    db = Database(ctx.settings.database_url)
    try:
        with db.session() as session:
            plan = plan_for(session, district_code, cycle)
            data = plan_document(session, plan, fmt)
    except DocumentError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        db.dispose()
    _write(output, data)
    click.echo(f"wrote {output} ({len(data):,} bytes)")


@plans.command()
@click.option("--format", "fmt", type=click.Choice(["docx", "pdf"]), required=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--cycle", callback=lambda _c, _p, v: _cycle(v), required=True)
@pass_context
def synthesis(ctx: Context, fmt: str, output: Path, cycle: str) -> None:
    """Write the cross-district synthesis report of a cycle as DOCX or PDF."""
    from server.aggregation import catalog_source
    from server.db import Database
    from server.plans.documents import synthesis_document

    catalog_source.configure(ctx.settings.forms_dir / "catalog.yaml")
    db = Database(ctx.settings.database_url)
    try:
        with db.session() as session:
            data = synthesis_document(session, cycle, fmt)
    finally:
        db.dispose()
    _write(output, data)
    click.echo(f"wrote {output} ({len(data):,} bytes)")
