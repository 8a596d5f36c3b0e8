"""Shared pieces of the `dmip` command groups."""

from __future__ import annotations

import click

from server.settings import Settings, SettingsError


class Context:
    """Lazily built settings, so `dmip --help` works without a valid environment."""

    def __init__(self) -> None:
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = Settings.from_env()
            except SettingsError as exc:
                raise click.ClickException(f"configuration error: {exc}") from None
        return self._settings


pass_context = click.make_pass_decorator(Context, ensure=True)
