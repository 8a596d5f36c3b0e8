"""Submissions of a form (filled in by the submissions routes)."""

from __future__ import annotations

from flask import Blueprint


def register(bp: Blueprint) -> None:
    pass
