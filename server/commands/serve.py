"""`dmip serve`: the whole system in one command, with no services to install."""

from __future__ import annotations

import datetime as dt
import signal
import types
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from server.cli_support import Context, pass_context

if TYPE_CHECKING:
    from server.embedded.bootstrap import DemoLogin


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--no-demo", is_flag=True, help="Do not create demo sub-counties, users and demo data."
)
@click.option(
    "--demo-districts",
    default=3,
    show_default=True,
    type=click.IntRange(0, 50),
    help="How many districts get demo sub-counties.",
)
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
@pass_context
def serve(
    ctx: Context, host: str, port: int, no_demo: bool, demo_districts: int, threads: int
) -> None:
    """Run the server, a worker and the sweeper: SQLite and a file queue in DMIP_DATA_DIR.

    For a laptop, a demo or a training workshop. Production runs gunicorn, Celery workers and
    beat against PostgreSQL and Redis (docker-compose.yml).
    """
    from waitress import create_server

    from server.app import create_app, prepare_for_requests
    from server.demo.dataset import last_complete_cycle
    from server.demo.load import load_demo_data
    from server.embedded.bootstrap import bootstrap_embedded
    from server.embedded.http_server import waitress_options
    from server.embedded.supervisor import WorkerSupervisor, worker_command, worker_environment

    settings = ctx.settings
    click.echo(f"Data directory: {settings.data_dir}")
    demo = demo_districts if not no_demo else 0
    try:
        logins = bootstrap_embedded(settings, demo_districts=demo)
        # An empty server gets demo data, so the first visit shows aggregates and drafts; the
        # worker started below processes it.
        loaded = (
            load_demo_data(
                settings, demo, cycle=last_complete_cycle(dt.date.today()), first_start=True
            )
            if demo
            else None
        )
    except Exception as exc:
        raise click.ClickException(f"could not prepare the data directory: {exc}") from exc
    if loaded is not None:
        click.echo(
            f"Loaded {loaded.total} demo submissions (cycle {loaded.cycle}) for "
            f"{', '.join(loaded.districts)}; `dmip demo --help` tells more."
        )

    app = create_app(settings)
    prepare_for_requests(app)
    try:
        # Bound before the worker starts, so a busy port is reported with nothing to clean up.
        server = create_server(
            app, host=host, port=port, **waitress_options(settings, threads=threads)
        )
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); is another server "
            f"running there? Choose another port with --port."
        ) from None

    log_path = settings.data_dir / "logs" / "worker.log"
    supervisor = WorkerSupervisor(
        worker_command(settings),
        worker_environment(settings),
        log_path,
        say=lambda message: click.echo(message, err=True),
    )
    # SIGTERM (a service manager, `kill`) stops the server like Ctrl-C: waitress ends its loop
    # on KeyboardInterrupt, and the worker is stopped below.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        supervisor.start()
        _banner(host, port, logins, str(log_path))
        server.run()
    finally:
        click.echo("Stopping the worker ...")
        supervisor.stop()
        server.close()
        signal.signal(signal.SIGTERM, previous)
        app.extensions["dmip"].db.dispose()
        click.echo("Stopped.")


def _interrupt(_signum: int, _frame: types.FrameType | None) -> None:
    raise KeyboardInterrupt


def _banner(host: str, port: int, logins: Sequence[DemoLogin], worker_log: str) -> None:
    shown = "<this computer's address>" if host in ("0.0.0.0", "::") else host
    click.echo(f"\nServer URL for ODK Collect: http://{shown}:{port}")
    if shown != host:
        click.echo("  (use the address phones reach this computer by, e.g. its Wi-Fi address)")
    if logins:
        click.echo("\nDemo logins:")
        rows = [("username", "password", "role", "scope")] + [
            (x.username, x.password, x.role, ", ".join(x.scope) or "everywhere") for x in logins
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for index, row in enumerate(rows):
            click.echo("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
            if index == 0:
                click.echo("  " + "  ".join("-" * w for w in widths))
    click.echo(f"\nWorker log: {worker_log}\nPress Ctrl-C to stop.\n")
