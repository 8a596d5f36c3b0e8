"""The `dmip` command. Each command group lives in server/commands/<group>.py."""

from __future__ import annotations

import logging
import sys

import click

from server.cli_support import Context


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """DMIP data-collection server: OpenRosa receiver, workers and review app."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.ensure_object(Context)


def _register() -> None:
    from server.commands.db import db

    main.add_command(db)
    main.add_command(_group("forms"))
    main.add_command(_group("users"))
    main.add_command(_group("org"))
    main.add_command(_group("serve"))


def _group(name: str) -> click.Command:
    """The click group named `name` in server/commands/<name>.py."""
    import importlib

    return getattr(importlib.import_module(f"server.commands.{name}"), name)


_register()
