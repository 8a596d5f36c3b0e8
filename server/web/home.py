"""The page a user lands on after signing in. Other areas add their summaries here."""

from __future__ import annotations

from flask import Blueprint, render_template

from server.app import db_session
from server.models.org import OrgLevel
from server.web.permissions import login_required, require_user, scope

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index() -> str:
    user = require_user()
    visible = scope(user)
    districts = [] if visible.everywhere else visible.units(db_session(), OrgLevel.district)
    return render_template(
        "home.html", areas=[s.org_unit for s in user.scopes], districts=districts
    )
