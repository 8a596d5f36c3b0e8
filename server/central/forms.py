"""Forms, drafts, versions and their attachments (filled in by the forms routes)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from server.models import User


def register(bp: Blueprint) -> None:
    pass


def forms_json(actor: User, extended_fields: bool = False) -> list[dict[str, Any]]:
    return []
