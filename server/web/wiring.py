"""The web app wired into a Flask app: the session cookie, CSRF, the blueprints, security
headers (server/web/__init__.py tells what each module is for)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import SQLAlchemyError

from server.auth.http import set_session_user_loader

# Its routes are on the plans blueprint, which must have them before it is registered.
from server.web import plan_documents  # noqa: F401
from server.web.admin import bp as admin_bp
from server.web.app_users_admin import bp as app_users_bp
from server.web.exports import bp as exports_bp
from server.web.forms_admin import bp as forms_bp
from server.web.home import bp as home_bp
from server.web.indicators import bp as indicators_bp
from server.web.plans import bp as plans_bp
from server.web.sessions import SessionInterface, current_user
from server.web.sign_in import bp as auth_bp
from server.web.submissions import bp as submissions_bp

csrf = CSRFProtect()

# Blueprints whose routes never take a browser form; /api/ paths are exempt by prefix. The
# Central API's writes need a token or password in the request itself (server/central/auth.py),
# which another site's page cannot send.
CSRF_EXEMPT_BLUEPRINTS = {"openrosa", "health", "central", "central_openrosa"}
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # Every asset is ours (the app must work on a closed network): nothing else may load.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; "
        "base-uri 'self'; form-action 'self'"
    ),
}


def init_web(app: Flask) -> None:
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="dmip_session",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=12),
        # Checked by our own hook below, so exempt paths are decided in one place.
        WTF_CSRF_CHECK_DEFAULT=False,
        # The token lives as long as the session: a coordinator may spend an hour on one page.
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.session_interface = SessionInterface()
    csrf.init_app(app)
    set_session_user_loader(app, current_user)

    for bp in (
        auth_bp,
        home_bp,
        admin_bp,
        app_users_bp,
        forms_bp,
        indicators_bp,
        plans_bp,
        submissions_bp,
        exports_bp,
    ):
        app.register_blueprint(bp)

    @app.before_request
    def _check_csrf() -> None:
        req = request._get_current_object()  # type: ignore[attr-defined]  # one look-up
        if req.method not in UNSAFE_METHODS or req.routing_exception is not None:
            return  # an unknown URL or method gets its own 404/405, not a CSRF refusal
        if req.blueprint in CSRF_EXEMPT_BLUEPRINTS or req.path.startswith("/api/"):
            return
        csrf.protect()

    @app.after_request
    def _security_headers(response: Response) -> Response:
        if request.blueprint in CSRF_EXEMPT_BLUEPRINTS:
            return response
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.context_processor
    def _template_globals() -> dict[str, Any]:
        try:
            user = current_user()
        except SQLAlchemyError:
            user = None  # an error page must render even when the database is away
        return {"web_user": user}
