"""Sign in, sign out, change one's own password."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.security import check_password_hash
from werkzeug.wrappers import Response

from server.app_state import db_session, state
from server.auth.guessing import guess_limiter
from server.domain.guessing import Attempt, limited_message
from server.models import User
from server.services.users import UserError, set_password
from server.web import sessions
from server.web.permissions import current_user, login_required, require_user

bp = Blueprint("auth", __name__)

FAILED = "The username or password is not correct, or the account is not active."


def _safe_next(target: str | None) -> str:
    # Only paths on this site: an absolute or scheme-relative URL would make sign-in an open
    # redirect.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int] | tuple[str, int, dict[str, str]]:
    next_url = request.values.get("next")
    if request.method == "GET":
        if current_user() is not None:
            return redirect(_safe_next(next_url))
        return render_template("login.html", next=next_url, username="")
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    # The same limit on guessing as Digest and Basic (server/auth/guessing.py).
    limiter = guess_limiter()
    attempt = Attempt.of(username, request.remote_addr, "web")
    check = limiter.check(attempt)
    if check.wait:
        return _limited(next_url, username, check.wait)
    session = db_session()
    user = session.scalar(select(User).where(User.username == username)) if username else None
    if (
        user is None
        or not user.active
        # An app user signs in by its key only (its password is random and never told).
        or user.app_user
        or not check_password_hash(user.password_hash, password)
    ):
        session.rollback()
        wait = limiter.failed(attempt)
        if wait:
            return _limited(next_url, username, wait)
        body = render_template("login.html", next=next_url, username=username, error=FAILED)
        return body, 401
    limiter.succeeded(attempt, check)
    sessions.sign_in(user)
    return redirect(_safe_next(next_url))


def _limited(next_url: str | None, username: str, wait: int) -> tuple[str, int, dict[str, str]]:
    body = render_template(
        "login.html", next=next_url, username=username, error=limited_message(wait)
    )
    return body, 429, {"Retry-After": str(wait)}


@bp.post("/logout")
def logout() -> Response:
    sessions.sign_out()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password() -> str | Response | tuple[str, int]:
    user = require_user()
    if request.method == "GET":
        return render_template("password.html")
    current = request.form.get("current_password", "")
    new = request.form.get("new_password", "")
    confirm = request.form.get("confirm_password", "")
    error = None
    if not check_password_hash(user.password_hash, current):
        error = "Your current password is not correct."
    elif new != confirm:
        error = "The new password and its confirmation differ."
    else:
        try:
            set_password(user, new, state().settings.auth_realm)
        except UserError as exc:
            error = str(exc)
    if error:
        db_session().rollback()
        return render_template("password.html", error=error), 400
    db_session().commit()
    sessions.refresh(user)
    flash("Your password is changed. Other devices signed in as you are signed out.", "success")
    return redirect(url_for("home.index"))
