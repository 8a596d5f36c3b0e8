"""`dmip demo`: a realistic synthetic data set, loaded as real submissions are."""

from __future__ import annotations

import datetime as dt

import click

from server.cli_support import Context, pass_context


@click.command()
@click.option(
    "--districts",
    default=3,
    show_default=True,
    type=click.IntRange(1, 50),
    help="How many districts get demo sub-counties and data (the same ones `dmip serve` uses).",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Another seed makes another data set, stored beside the first.",
)
@click.option(
    "--cycle",
    default=None,
    metavar="YYYY/YY",
    help="Planning cycle (financial year) of the data; default: the last one that has ended.",
)
@pass_context
def demo(ctx: Context, districts: int, seed: int, cycle: str | None) -> None:
    """Load demo data: all seven forms for demo districts and their sub-counties.

    The submissions go through the same ingest path as those from ODK Collect and are marked
    as demo data. Running it again adds nothing. The worker (`dmip serve`'s, or the Celery
    workers in production) processes them.
    """
    from server import migrate
    from server.demo.dataset import DemoError, last_complete_cycle
    from server.demo.load import load_demo_data

    settings = ctx.settings
    cycle = cycle or last_complete_cycle(dt.date.today())
    try:
        if settings.database_url.startswith("sqlite"):
            # The embedded database is set up by whichever command runs first, as by serve.
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            migrate.upgrade(settings.database_url)
        report = load_demo_data(settings, districts, seed=seed, cycle=cycle)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from None
    assert report is not None  # only a first-start load may decline
    click.echo(f"Demo data for cycle {report.cycle}, districts {', '.join(report.districts)}:")
    forms = sorted(set(report.created) | set(report.resent) | set(report.conflicts))
    width = max((len(f) for f in forms), default=4)
    click.echo(f"  {'form'.ljust(width)}  new  already there")
    for form in forms:
        click.echo(
            f"  {form.ljust(width)}  {report.created[form]:>3}  {report.resent[form]:>13}"
            + (f"  ({report.conflicts[form]} differ, kept)" if report.conflicts[form] else "")
        )
    new = sum(report.created.values())
    click.echo(
        f"{new} new, {report.total - new} already there; {report.flawed} with deliberate "
        "data-quality problems."
    )
    if report.tasks_failed:
        click.echo(
            f"The queue could not be reached for {report.tasks_failed} submissions; the "
            "sweeper will send them when it is back."
        )
    elif new:
        click.echo(f"The worker was asked to process {report.tasks_sent} submissions.")
