"""The web session: Flask's signed cookie carrying the user id and credentials version.

A password reset or a deactivation bumps the user's credentials_version, so every session
signed in before it stops counting on its next request, in every process, with no session
store to clean.
"""

from __future__ import annotations

from flask import Flask, Request, Response, g, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin

from server.app_state import db_session
from server.models import User

USER_KEY = "uid"
VERSION_KEY = "cv"


class SessionInterface(SecureCookieSessionInterface):
    """Secure cookies whenever the request came over HTTPS (directly or via a trusted proxy),
    so the same deployment works on a closed network over plain HTTP."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        # No cookie (ODK Collect's submissions, a first visit): an empty session, without
        # building the signing serializer on the receiver's hot path, or parsing a Cookie
        # header there is not.
        if app.secret_key and (
            "HTTP_COOKIE" not in request.environ
            or not request.cookies.get(self.get_cookie_name(app))
        ):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        # A request that never touched its empty session (every request from Collect) has no
        # cookie to set or delete and nothing to vary on: skip working out the cookie's
        # attributes, which Flask does first.
        if not session and not session.modified and not session.accessed:
            return
        super().save_session(app, session, response)


def sign_in(user: User) -> None:
    session.clear()  # a fresh session on sign-in: nothing from before survives
    session[USER_KEY] = user.id
    session[VERSION_KEY] = user.credentials_version
    session.permanent = True
    g.web_user = user


def refresh(user: User) -> None:
    """Keep this session after the user changed their own password (others die)."""
    session[VERSION_KEY] = user.credentials_version


def sign_out() -> None:
    session.clear()
    g.web_user = None


def current_user() -> User | None:
    """The signed-in, active user of this request, loaded once per request."""
    if "web_user" in g:
        return g.web_user
    user = None
    user_id = session.get(USER_KEY)
    if user_id is not None:
        found = db_session().get(User, user_id)
        if (
            found is not None
            and found.active
            and not found.app_user  # a phone's identity, never a browser's
            and found.credentials_version == session.get(VERSION_KEY)
        ):
            user = found
        else:
            session.clear()
    g.web_user = user
    return user
