"""The audit log (filled in by the audits route)."""

from __future__ import annotations

from flask import Blueprint


def register(bp: Blueprint) -> None:
    pass
