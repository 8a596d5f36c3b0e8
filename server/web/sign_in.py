"""Sign in, sign out, change one's own password."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.security import check_password_hash
from werkzeug.wrappers import Response

from server.app_state import db_session, state
from server.db import utcnow
from server.models import User
from server.services.users import UserError, set_password
from server.web import login_limit, sessions
from server.web.permissions import current_user, login_required, require_user

bp = Blueprint("auth", __name__)

FAILED = "The username or password is not correct, or the account is not active."


def _safe_next(target: str | None) -> str:
    # Only paths on this site: an absolute or scheme-relative URL would make sign-in an open
    # redirect.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("home.index")


def _minutes(seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    next_url = request.values.get("next")
    if request.method == "GET":
        if current_user() is not None:
            return redirect(_safe_next(next_url))
        return render_template("login.html", next=next_url, username="")
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    address = request.remote_addr or "unknown"
    session = db_session()
    now = utcnow()
    wait = login_limit.seconds_locked(session, username, address, now)
    if wait:
        message = (
            "Too many failed sign-ins for this account or from this network. "
            f"Please wait {_minutes(wait)} and try again."
        )
        body = render_template("login.html", next=next_url, username=username, error=message)
        return body, 429, {"Retry-After": str(wait)}
    user = session.scalar(select(User).where(User.username == username)) if username else None
    if user is None or not user.active or not check_password_hash(user.password_hash, password):
        login_limit.record_failure(session, username, address, now)
        session.commit()
        body = render_template("login.html", next=next_url, username=username, error=FAILED)
        return body, 401
    login_limit.clear_failures(session, username)
    session.commit()
    sessions.sign_in(user)
    return redirect(_safe_next(next_url))


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
