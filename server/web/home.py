"""The page a user lands on after signing in: the dashboard of their areas (server/web/
dashboard.py reads it), or, for an enumerator, where their work happens (ODK Collect)."""

from __future__ import annotations

from flask import Blueprint, render_template

from server.aggregation import catalog_state
from server.app_state import db_session
from server.db import utcnow
from server.domain.roles import READERS
from server.models.org import OrgLevel
from server.queries.org_units import scope_tops, visible_units
from server.web import dashboard, svg
from server.web.indicators import catalog, cycle_arg, expectations, submission_url
from server.web.permissions import login_required, require_user

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index() -> str:
    user = require_user()
    visible = user.scope
    session = db_session()
    districts = [] if visible.everywhere else visible_units(session, visible, OrgLevel.district)
    context = {"areas": [s.org_unit for s in user.scopes], "districts": districts}
    if user.role not in READERS:
        return render_template("home.html", **context)
    today = utcnow().date()
    cycles = dashboard.cycles(session, visible)
    cycle = cycle_arg() or dashboard.default_cycle(cycles, today)
    tops = scope_tops(session, visible)
    weekly = dashboard.submissions_per_week(session, visible, today)
    chart = svg.column_chart(
        [monday.strftime("%d %b") for monday, _ in weekly],
        [n for _, n in weekly],
        title="Submissions received per week",
        x_label="Week starting",
        y_label="Submissions",
    )
    rules, problem = expectations()
    coverage = dashboard.coverage(session, tops, cycle, rules) if rules else []
    flags = dashboard.flag_counts(session, tops, cycle, rules, catalog(session)) if rules else {}
    return render_template(
        "home.html",
        **context,
        dashboard=True,
        cycle=cycle,
        cycles=sorted({*cycles, cycle}, reverse=True),
        weekly_total=sum(n for _, n in weekly),
        chart=chart,
        coverage=coverage,
        failures=dashboard.recent_failures(session, visible),
        flags=flags,
        flag_words=dashboard.FLAG_WORDS,
        configuration_problem=problem,
        rebuilding=catalog_state.REBUILDING if catalog_state.rebuild_due(session) else None,
        submission_url=submission_url,
    )
