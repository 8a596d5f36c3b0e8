"""The endpoints of /api/v1/. Each parses its query, checks scope, reads, and renders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.aggregation import catalog_source, reading
from server.aggregation.catalog_source import LoadedCatalog
from server.api.params import Query, page
from server.api.readers import api_user, unit_in_scope
from server.app_state import db_session, state
from server.domain.catalog import Indicator
from server.domain.problems import Problem, bad_request, not_found
from server.domain.quality import checks
from server.domain.quality.expectations import Expectations, ExpectationsError, load_expectations
from server.domain.scope import Scope
from server.models import OrgUnit
from server.models.org import OrgLevel, in_scope, under
from server.quality.gap_analysis import gap_analysis
from server.quality.report import completeness_rows, quality_report
from server.queries import json_rows
from server.queries.org_units import scope_tops

GAP_LEVELS = (OrgLevel.district, OrgLevel.subcounty)


def _catalog(session: Session) -> LoadedCatalog:
    return catalog_source.load(session, state().settings.forms_dir / "catalog.yaml")


def _expectations() -> Expectations:
    try:
        return load_expectations(state().settings.forms_dir / "expectations.yaml")
    except ExpectationsError as exc:
        raise Problem(
            503,
            "api.configuration",
            "The data-quality expectations file cannot be used; an administrator must fix it.",
            {"problems": exc.problems},
        ) from None


def _indicator(loaded: LoadedCatalog, indicator_id: str) -> Indicator:
    found = loaded.catalog.indicators.get(indicator_id)
    if found is None:
        raise not_found(
            "api.unknown_indicator",
            f"There is no indicator {indicator_id!r} among those of the published forms.",
        )
    return found


def _key(after: list[Any] | None, *types: type) -> tuple[Any, ...] | None:
    """A cursor's key checked against the shape the endpoint pages by."""
    if after is None:
        return None
    if len(after) != len(types) or not all(
        isinstance(v, t) and not isinstance(v, bool) for v, t in zip(after, types, strict=True)
    ):
        raise bad_request("api.bad_cursor", "The cursor does not fit this endpoint.")
    return tuple(after)


def indicators() -> dict[str, Any]:
    api_user()
    Query(request, ())
    loaded = _catalog(db_session())
    return {"data": [json_rows.indicator(i) for _, i in sorted(loaded.catalog.indicators.items())]}


def indicator(indicator_id: str) -> dict[str, Any]:
    api_user()
    Query(request, ())
    return {"data": json_rows.indicator(_indicator(_catalog(db_session()), indicator_id))}


def values() -> dict[str, Any]:
    user = api_user()
    session = db_session()
    q = Query(request, ("indicator", "org_unit", "within", "level", "cycle"), ("indicator",))
    scope = user.scope
    loaded = _catalog(session)
    wanted = q.texts("indicator")
    for ident in wanted:
        if ident not in loaded.catalog.indicators:
            raise bad_request(
                "api.unknown_indicator",
                f"There is no indicator {ident!r} among those of the published forms.",
                parameter="indicator",
            )
    code, within = q.text("org_unit"), q.text("within")
    where = reading.ValueFilter(
        indicator_ids=wanted or None,
        org_unit_id=unit_in_scope(session, code, scope).id if code else None,
        within=unit_in_scope(session, within, scope).path if within else None,
        level=q.level(),
        cycle=q.cycle(),
        areas=scope.areas,
    )
    limit = q.limit()
    rows, more = page(
        reading.read_values(session, where, _key(q.after(), str, int, str), limit + 1), limit
    )
    indicators_by_id = loaded.catalog.indicators
    return {
        "data": [json_rows.value(r, indicators_by_id) for r in rows],
        "next": q.next_link(rows[-1].key if more else None),
    }


@dataclass(frozen=True)
class OneValue:
    """What /values/<indicator> and its submissions are asked about."""

    session: Session
    query: Query
    loaded: LoadedCatalog
    indicator: Indicator
    place: reading.Unit
    cycle: str


def _one_value(indicator_id: str) -> OneValue:
    user = api_user()
    session = db_session()
    q = Query(request, ("org_unit", "cycle"))
    loaded = _catalog(session)
    ind = _indicator(loaded, indicator_id)
    place = unit_in_scope(session, q.text("org_unit", required=True) or "", user.scope)
    return OneValue(session, q, loaded, ind, place, q.cycle(required=True) or "")


def value(indicator_id: str) -> dict[str, Any]:
    a = _one_value(indicator_id)
    rows = reading.read_values(
        a.session,
        reading.ValueFilter(indicator_ids=[a.indicator.id], org_unit_id=a.place.id, cycle=a.cycle),
        limit=1,
    )
    if not rows:
        raise not_found(
            "api.no_value",
            f"No submission has given {a.indicator.id} a value for {a.place.code} in "
            f"{a.cycle} yet.",
        )
    return {"data": json_rows.value(rows[0], a.loaded.catalog.indicators)}


def value_submissions(indicator_id: str) -> dict[str, Any]:
    a = _one_value(indicator_id)
    after = _key(a.query.after(), int)
    limit = a.query.limit()
    found, more = page(
        reading.submissions_behind(
            a.session,
            a.indicator.id,
            a.place.path,
            a.cycle,
            after[0] if after else 0,
            limit + 1,
            a.loaded,
        ),
        limit,
    )
    details = reading.submission_details(a.session, [c.submission_id for c in found])
    return {
        "indicator": a.indicator.id,
        "org_unit": json_rows.unit(a.place),
        "cycle": a.cycle,
        "data": [json_rows.contribution(c, details[c.submission_id], a.indicator) for c in found],
        "next": a.query.next_link([found[-1].submission_id] if more else None),
    }


def gaps() -> dict[str, Any]:
    user = api_user()
    session = db_session()
    q = Query(request, ("org_unit", "level", "within", "cycle"))
    scope = user.scope
    cycle = q.cycle(required=True) or ""
    level = q.level(GAP_LEVELS)
    code, within = q.text("org_unit"), q.text("within")
    query = select(OrgUnit).order_by(OrgUnit.id)
    if code:
        one = unit_in_scope(session, code, scope)
        if one.level not in {lv.value for lv in GAP_LEVELS}:
            raise bad_request(
                "api.bad_level",
                f"Gap analysis is for districts and sub-counties; {code!r} is a {one.level}.",
                parameter="org_unit",
            )
        query = query.where(OrgUnit.id == one.id)
    elif level is None:
        raise bad_request(
            "api.missing_parameter",
            "Give org_unit (a district or sub-county), or level (district or subcounty).",
            parameter="org_unit",
        )
    else:
        query = query.where(OrgUnit.level == level)
    if within:
        query = query.where(under(OrgUnit.path, [unit_in_scope(session, within, scope).path]))
    query = query.where(in_scope(scope))
    after = _key(q.after(), int)
    if after:
        query = query.where(OrgUnit.id > after[0])
    limit = q.limit(default=20, maximum=200)
    units, more = page([reading.unit_of(u) for u in session.scalars(query.limit(limit + 1))], limit)
    tables = gap_analysis(session, units, cycle, _catalog(session).catalog.indicators)
    return {
        "cycle": cycle,
        "data": [
            {"org_unit": json_rows.unit(u), "gaps": [json_rows.gap_row(r) for r in tables[u.id]]}
            for u in units
        ],
        "next": q.next_link([units[-1].id] if more else None),
    }


def _areas_for(session: Session, q: Query, scope: Scope) -> list[reading.Unit]:
    code = q.text("org_unit")
    if code:
        return [unit_in_scope(session, code, scope)]
    return scope_tops(session, scope)


def _units(session: Session, ids: set[int | None]) -> dict[int, reading.Unit]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {
        u.id: reading.unit_of(u)
        for u in session.scalars(select(OrgUnit).where(OrgUnit.id.in_(wanted)))
    }


def quality_flags() -> dict[str, Any]:
    user = api_user()
    session = db_session()
    q = Query(request, ("org_unit", "cycle", "kind"), ("kind",))
    scope = user.scope
    cycle = q.cycle(required=True) or ""
    kinds = q.texts("kind") or list(checks.KINDS)
    for kind in kinds:
        if kind not in checks.KINDS:
            raise bad_request(
                "api.bad_kind",
                f"Unknown kind of flag {kind!r}; use one of {', '.join(checks.KINDS)}.",
                parameter="kind",
            )
    after = _key(q.after(), str, int, str, str, str, int)
    limit = q.limit()
    expectations = _expectations()
    loaded = _catalog(session)
    found: dict[tuple[Any, ...], checks.Flag] = {}
    for area in _areas_for(session, q, scope):
        for f in quality_report(session, area, cycle, expectations, kinds, loaded).flags:
            found[f.key] = f
    ordered = [found[k] for k in sorted(found) if after is None or k > after]
    flags, more = page(ordered, limit)
    units = _units(session, {f.org_unit_id for f in flags})
    return {
        "cycle": cycle,
        "data": [json_rows.flag(f, units) for f in flags],
        "next": q.next_link(list(flags[-1].key) if more else None),
    }


def completeness() -> dict[str, Any]:
    user = api_user()
    session = db_session()
    q = Query(request, ("org_unit", "cycle", "form"), ("form",))
    scope = user.scope
    cycle = q.cycle(required=True) or ""
    forms = set(q.texts("form"))
    after = _key(q.after(), str, int, str)
    limit = q.limit()
    expectations = _expectations()
    found: dict[tuple[str, int, str], checks.CompletenessRow] = {}
    for area in _areas_for(session, q, scope):
        for row in completeness_rows(session, area, cycle, expectations):
            if not forms or row.form_id in forms:
                found[(row.form_id, row.org_unit_id, row.rule)] = row
    ordered = [found[k] for k in sorted(found) if after is None or k > after]
    rows, more = page(ordered, limit)
    units = _units(session, {r.org_unit_id for r in rows})
    last = rows[-1] if more else None
    return {
        "cycle": cycle,
        "data": [json_rows.completeness(r, units) for r in rows],
        "next": q.next_link([last.form_id, last.org_unit_id, last.rule] if last else None),
    }
