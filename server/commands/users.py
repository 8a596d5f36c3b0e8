"""`dmip users`: accounts."""

from __future__ import annotations

import sys

import click

from server.cli_support import Context, pass_context
from server.db import Database
from server.domain.roles import Role
from server.services.users import UserError, create_user


@click.group()
def users() -> None:
    """User accounts."""


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    # Piped input: the first line is the password, so scripts need not echo it twice.
    line = sys.stdin.readline()
    if not line:
        raise click.ClickException("no password given on standard input")
    return line.rstrip("\r\n")


@users.command()
@click.argument("username")
@click.option(
    "--role",
    required=True,
    help=f"One of: {', '.join(r.value for r in Role)}.",
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    metavar="ORG_CODE",
    help="An org unit the user works in (repeat for several), e.g. UG-101.",
)
@click.option("--display-name", default="", help="The name shown in the review app.")
@pass_context
def create(
    ctx: Context, username: str, role: str, scopes: tuple[str, ...], display_name: str
) -> None:
    """Create a user.

    The password is asked twice on a terminal, or read from the first line of standard input
    (`echo "$PASSWORD" | dmip users create ...`).
    """
    settings = ctx.settings
    if role not in {r.value for r in Role}:
        raise click.ClickException(
            f"unknown role {role!r}; choose one of: {', '.join(r.value for r in Role)}"
        )
    password = _read_password()
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            user = create_user(
                session,
                username,
                password,
                role,
                settings.auth_realm,
                list(scopes),
                display_name=display_name,
            )
            summary = f"created {user.role.value} {user.username}"
            if scopes:
                summary += f" (scope: {', '.join(scopes)})"
    except UserError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        database.dispose()
    click.echo(summary)
