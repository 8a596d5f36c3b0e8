"""App users and form assignments (filled in by the app-user routes)."""

from __future__ import annotations

from flask import Blueprint


def register(bp: Blueprint) -> None:
    pass
