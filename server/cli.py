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
    """Every module server/commands/<name>.py defines a click command or group named <name>."""
    import importlib
    import pkgutil

    import server.commands

    for info in sorted(pkgutil.iter_modules(server.commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"server.commands.{info.name}")
        main.add_command(getattr(module, info.name))


_register()


if __name__ == "__main__":
    main()
