"""`GET /healthz`: is this process able to serve? For load balancers and container checks."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from server.app_state import db_session
from server.db import RETRY_AFTER_SECONDS

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]

    try:
        db_session().execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return (
            jsonify(status="unavailable", database=type(exc).__name__),
            503,
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return jsonify(status="ok", database="ok")
