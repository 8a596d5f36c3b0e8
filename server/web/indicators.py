"""Indicator pages: a district's (or sub-county's) indicators against their national standards,
the district's sub-counties side by side, and one value with the submissions behind it.

    /indicators                          the districts the user may read
    /indicators/<code>?cycle=            gap table of a district or sub-county
    /indicators/<code>/<indicator>?cycle=  one value, its sub-counties, its submissions

The reads are the API's (server/aggregation/reading.py, server/quality/gap_analysis.py); these
handlers check role and scope, parse the query and render.
"""

from __future__ import annotations

from typing import NoReturn

from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.routing import BuildError

from server.aggregation import catalog_source, reading
from server.aggregation.catalog_source import LoadedCatalog
from server.app_state import db_session, state
from server.db import utcnow
from server.domain.cycles import is_cycle
from server.domain.gaps import GapRow
from server.domain.quality.expectations import Expectations, ExpectationsError, load_expectations
from server.domain.roles import READERS
from server.domain.scope import Scope
from server.http_guards import BIGINT_MAX
from server.models import Aggregate, OrgUnit
from server.models.org import OrgLevel, unit_by_code
from server.quality.gap_analysis import gap_analysis
from server.queries import json_rows
from server.queries.org_units import visible_units
from server.web import dashboard, svg
from server.web.errors import render_error
from server.web.permissions import require_in_scope, require_user, roles_required

bp = Blueprint("indicators", __name__, url_prefix="/indicators")

PAGE = 50
GAP_LEVELS = {OrgLevel.district, OrgLevel.subcounty}


# --- Shared by the dashboard and plan pages ---------------------------------------------------


def refuse(status: int, message: str) -> NoReturn:
    """Stop with the HTML error page for `status`, saying `message` (what went wrong, in
    words) rather than the status's generic sentence."""
    abort(make_response(render_error(status, message)))


def cycle_arg() -> str | None:
    """The ?cycle= of the request, checked: a 400 in words for anything but a cycle."""
    value = request.args.get("cycle", "").strip()
    if not value:
        return None
    if not is_cycle(value):
        refuse(400, f"{value!r} is not a planning cycle; write the financial year, e.g. 2025/26.")
    return value


def catalog(session: Session) -> LoadedCatalog:
    return catalog_source.load(session, state().settings.forms_dir / "catalog.yaml")


def expectations() -> tuple[Expectations | None, str | None]:
    """The data-quality expectations, or a sentence saying they cannot be used."""
    try:
        return load_expectations(state().settings.forms_dir / "expectations.yaml"), None
    except ExpectationsError:
        return None, (
            "The data-quality expectations file cannot be used, so coverage and flags are not "
            "shown; an administrator must fix forms/expectations.yaml."
        )


def submission_url(submission_id: int) -> str | None:
    """The submission's own page when the submissions pages are installed, else None (the
    pages then list the submission's instance id, place and date in line)."""
    if "submissions.detail" not in current_app.view_functions:
        return None
    try:
        return url_for("submissions.detail", submission_id=submission_id)
    except BuildError:
        return None


def unit_or_404(session: Session, code: str) -> OrgUnit:
    unit = unit_by_code(session, code)
    if unit is None:
        refuse(404, f"There is no district or sub-county with the code {code!r}.")
    require_in_scope(unit)
    if unit.level not in GAP_LEVELS:
        refuse(
            404,
            f"{unit.name} is a {unit.level}; indicators are shown by district and sub-county.",
        )
    return unit


# --- Pages ------------------------------------------------------------------------------------


def _cycle(session: Session, scope: Scope) -> tuple[str, list[str]]:
    found = dashboard.cycles(session, scope)
    cycle = cycle_arg() or dashboard.default_cycle(found, utcnow().date())
    return cycle, sorted({*found, cycle}, reverse=True)


@bp.get("")
@roles_required(*READERS)
def index() -> str:
    session = db_session()
    scope = require_user().scope
    cycle, cycles = _cycle(session, scope)
    with_values = set(
        session.scalars(select(Aggregate.org_unit_id).where(Aggregate.cycle == cycle).distinct())
    )
    units = [
        u
        for u in visible_units(session, scope)
        if u.level in GAP_LEVELS and (u.id in with_values or not scope.everywhere)
    ]
    districts = [u for u in units if u.level == OrgLevel.district]
    if not districts:  # a sub-county officer: their sub-counties
        districts = [u for u in units if u.level == OrgLevel.subcounty]
    return render_template(
        "indicators/index.html",
        cycle=cycle,
        cycles=cycles,
        units=districts,
        with_values=with_values,
    )


def _unit_value(row: GapRow) -> Markup:
    return svg.value_bar(row.value, row.standard, row.direction)


def _subcounties(session: Session, place: OrgUnit) -> list[reading.Unit]:
    """The sub-counties of a district, by name (none for a sub-county)."""
    return [
        reading.unit_of(u)
        for u in session.scalars(
            select(OrgUnit)
            .where(OrgUnit.parent_id == place.id, OrgUnit.level == OrgLevel.subcounty)
            .order_by(OrgUnit.name)
        )
    ]


@bp.get("/<code>")
@roles_required(*READERS)
def unit(code: str) -> str:
    session = db_session()
    place = unit_or_404(session, code)
    cycle, cycles = _cycle(session, require_user().scope)
    loaded = catalog(session)
    here = reading.unit_of(place)
    children = _subcounties(session, place)
    tables = gap_analysis(session, [here, *children], cycle, loaded.catalog.indicators)
    rows = tables[here.id]
    by_child = {c.id: {r.indicator_id: r for r in tables[c.id]} for c in children}
    parent = session.get(OrgUnit, place.parent_id) if place.level == OrgLevel.subcounty else None
    return render_template(
        "indicators/unit.html",
        place=place,
        parent=parent if parent is not None and require_user().scope.covers(parent.path) else None,
        cycle=cycle,
        cycles=cycles,
        rows=rows,
        bars={r.indicator_id: _unit_value(r) for r in rows},
        children=children,
        by_child=by_child,
    )


@bp.get("/<code>/<indicator_id>")
@roles_required(*READERS)
def value(code: str, indicator_id: str) -> str:
    session = db_session()
    place = unit_or_404(session, code)
    cycle, cycles = _cycle(session, require_user().scope)
    loaded = catalog(session)
    indicator = loaded.catalog.indicators.get(indicator_id)
    if indicator is None:
        refuse(404, f"There is no indicator {indicator_id!r} among those of the published forms.")
    here = reading.unit_of(place)
    children = _subcounties(session, place)
    only = {indicator.id: indicator}
    tables = gap_analysis(session, [here, *children], cycle, only)
    row = next(iter(tables[here.id]), None)
    child_rows = [(c, next(iter(tables[c.id]), None)) for c in children]
    measured = [(c, r) for c, r in child_rows if r is not None and r.value is not None]
    chart = (
        svg.bar_chart(
            f"{indicator.name}, by sub-county",
            [c.name for c, _ in measured],
            [svg.Series(indicator.name, [r.value for _, r in measured])],
            unit=indicator.unit,
            reference=indicator.standard.value,
            reference_label="National standard",
        )
        if measured
        else None
    )
    try:
        after = max(int(request.args.get("after", "0")), 0)
    except ValueError:
        refuse(400, "The page position (after) must be a whole number.")
    if after > BIGINT_MAX:
        refuse(400, "The page position (after) is larger than any on this page.")
    found = reading.submissions_behind(
        session, indicator.id, place.path, cycle, after, PAGE + 1, loaded
    )
    more = len(found) > PAGE
    found = found[:PAGE]
    details = reading.submission_details(session, [c.submission_id for c in found])
    return render_template(
        "indicators/value.html",
        place=place,
        indicator=indicator,
        cycle=cycle,
        cycles=cycles,
        row=row,
        bar=_unit_value(row) if row is not None else None,
        child_rows=child_rows,
        chart=chart,
        contributions=[
            (
                json_rows.contribution(c, details[c.submission_id], indicator),
                submission_url(c.submission_id),
            )
            for c in found
        ],
        next_after=found[-1].submission_id if more else None,
        after=after,
    )
