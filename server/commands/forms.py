"""`dmip forms`: publishing XLSForms."""

from __future__ import annotations

from pathlib import Path

import click

from server.cli_support import Context, pass_context
from server.db import Database
from server.domain.xform.xlsform import Issue
from server.services.forms import PublishError
from server.services.shipped_forms import publish_file, shipped_forms
from server.storage.blobs import BlobStore

STATUS_TEXT = {"created": "created", "new_version": "new version", "unchanged": "unchanged"}


@click.group()
def forms() -> None:
    """XLSForms: compile and publish."""


def _expand(paths: tuple[Path, ...], forms_dir: Path) -> list[Path]:
    if not paths:
        return shipped_forms(forms_dir)
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(shipped_forms(path))
        else:
            found.append(path)
    return found


def _echo_issue(name: str, issue: Issue) -> None:
    click.echo(f"{name}: {issue}", err=issue.severity == "error")


@forms.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=True, path_type=Path))
@pass_context
def publish(ctx: Context, paths: tuple[Path, ...]) -> None:
    """Publish XLSForm files, or every .xlsx in the given directories.

    Without PATH, publishes the shipped forms (DMIP_FORMS_DIR). Media a form references are
    taken from the directory beside it; regions.csv, districts.csv, subcounties.csv and
    parishes.csv are generated from the org hierarchy. Each form is published on its own: one
    failing form does not stop the others, and the exit code is 1 if any failed.
    """
    settings = ctx.settings
    files = _expand(paths, settings.forms_dir)
    if not files:
        where = ", ".join(str(p) for p in paths) if paths else str(settings.forms_dir)
        raise click.ClickException(f"no XLSForm (.xlsx) found in {where}")
    database = Database(settings.database_url)
    blobs = BlobStore(settings.attachments_dir)
    failed = 0
    try:
        for path in files:
            try:
                with database.session() as session:
                    result = publish_file(session, blobs, path)
            except PublishError as exc:
                failed += 1
                click.echo(f"{path.name}: not published", err=True)
                for warning in exc.warnings:
                    _echo_issue(path.name, warning)
                for issue in exc.issues:
                    _echo_issue(path.name, issue)
                continue
            version = result.version.version or "(no version)"
            line = f"{path.name}: {STATUS_TEXT[result.status]} {result.form.xml_form_id} {version}"
            if result.media_updated:
                line += f" (media updated: {', '.join(result.media_updated)})"
            click.echo(line)
            for warning in result.warnings:
                _echo_issue(path.name, warning)
    finally:
        database.dispose()
    if failed:
        click.echo(f"{failed} of {len(files)} form(s) failed", err=True)
        raise SystemExit(1)
