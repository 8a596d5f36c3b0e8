"""The JSON API of draft DMIPs, under /api/v1/plans and /api/v1/documents.

    GET    /api/v1/plans[?cycle=&district=]                 plans the user may read
    GET    /api/v1/plans/<id>                               sections (content with references
                                                            to aggregates), comments, versions
    GET    /api/v1/plans/<id>/history                       every change, who and when
    GET    /api/v1/plans/<id>/sections/<key>/changes?since=edit|review
    PUT    /api/v1/plans/<id>/sections/<key>/text           {"text"}: a coordinator's narrative
    DELETE /api/v1/plans/<id>/sections/<key>/text           back to the generated narrative
    POST   /api/v1/plans/<id>/sections/<key>/state          {"state", "note"}
    POST   /api/v1/plans/<id>/state                         {"state", "note"}; approval freezes
    POST   /api/v1/plans/<id>/comments                      {"body", "section"?}
    GET    /api/v1/plans/<id>/versions/<n>                  an approved version, frozen
    (documents: server/api/plan_documents.py, on this blueprint)

Reading follows workflow.can_read, acting workflow.can_act (a coordinator acts only on the
districts in scope). A plan outside the user's area reads as absent (404); a write to it is
refused with 403 naming its district.
Credentials: Basic or Digest on each request, or the web session; a write
made with the session cookie must carry the page's CSRF token in X-CSRFToken, so another site
cannot make a signed-in browser change a plan.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from server.api.blueprint import http_problem, problem_response
from server.app_state import db_session
from server.auth.http import require_user
from server.domain.cycles import is_cycle
from server.domain.problems import Problem, bad_request, forbidden, not_found
from server.domain.roles import Role
from server.models import DmipPlan, OrgUnit, PlanSection, PlanState, PlanVersion, User
from server.plans import workflow
from server.plans.workflow import WorkflowError

bp = Blueprint("plans_api", __name__, url_prefix="/api/v1")


@bp.errorhandler(Problem)
def _problem(problem: Problem) -> Response:
    return problem_response(problem)


@bp.errorhandler(HTTPException)
def _http(exc: HTTPException) -> Response:
    return http_problem(exc)


@bp.errorhandler(WorkflowError)
def _workflow(exc: WorkflowError) -> Response:
    return problem_response(Problem(exc.status, "plans.workflow", exc.message))


# --- Helpers ----------------------------------------------------------------------------------


def reader() -> User:
    user = require_user()
    if user.role == Role.enumerator:
        raise forbidden(
            "plans.role",
            "Enumerators send data from ODK Collect; plans are for "
            "coordinators, sub-county staff and administrators.",
        )
    return user


def writer() -> User:
    user = reader()
    if request.authorization is None:
        # Signed in through the browser session: the request must come from our own page.
        try:
            validate_csrf(request.headers.get("X-CSRFToken"))
        except (CSRFError, Exception) as exc:
            raise forbidden(
                "plans.csrf",
                "This change did not come from a page of this site (missing or expired "
                "X-CSRFToken); reload the page and try again.",
            ) from exc
    return user


def json_body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise bad_request("plans.body", "Send a JSON object as the request body.")
    return data


def readable_plan(plan_id: int, user: User) -> tuple[DmipPlan, OrgUnit]:
    session = db_session()
    plan = session.get(DmipPlan, plan_id)
    district = session.get(OrgUnit, plan.district_id) if plan is not None else None
    if plan is None or district is None or not workflow.can_read(user, district):
        # Out of scope reads as absent: the API does not confirm which plans exist elsewhere.
        raise not_found("plans.not_found", f"There is no plan {plan_id} you may read.")
    return plan, district


def changeable_plan(plan_id: int, user: User) -> tuple[DmipPlan, OrgUnit]:
    """The plan a write names; 404 when there is none, 403 naming its district when it lies
    outside the user's area (the workflow then decides what a reader of it may change)."""
    session = db_session()
    plan = session.get(DmipPlan, plan_id)
    district = session.get(OrgUnit, plan.district_id) if plan is not None else None
    if plan is None or district is None:
        raise not_found("plans.not_found", f"There is no plan {plan_id}.")
    if not workflow.can_read(user, district):
        raise forbidden(
            "plans.out_of_scope",
            f"You may not change plan {plan_id}: its district, {district.name} "
            f"({district.code}), is outside the area you work in.",
            plan_id=plan_id,
            district=district.code,
        )
    return plan, district


def _section(plan: DmipPlan, key: str) -> PlanSection:
    for section in plan.sections:
        if section.key == key:
            return section
    raise not_found("plans.no_section", f"The plan has no section {key!r}.")


def _state(value: Any) -> PlanState:
    try:
        return PlanState(str(value))
    except ValueError:
        names = ", ".join(s.value for s in PlanState)
        raise bad_request("plans.state", f"Unknown state {value!r} (one of {names}).") from None


def _summary(plan: DmipPlan, district: OrgUnit) -> dict[str, Any]:
    return {
        "id": plan.id,
        "district": {"code": district.code, "name": district.name},
        "cycle": plan.cycle,
        "state": plan.state.value,
        "stale": plan.stale,
        "generated_at": plan.generated_at.isoformat() if plan.generated_at else None,
        "updated_at": plan.updated_at.isoformat(),
        "url": url_for("plans_api.plan", plan_id=plan.id),
    }


def _section_json(section: PlanSection) -> dict[str, Any]:
    return {
        "key": section.key,
        "title": section.title,
        "state": section.state.value,
        "text": section.text,
        "generated_text": section.generated_text,
        "edited": section.edited_text is not None,
        "edited_at": section.edited_at.isoformat() if section.edited_at else None,
        "data_changed_since_edit": section.data_changed_since_edit,
        "content": section.generated,
    }


def _commit() -> None:
    db_session().commit()


# --- Reading ----------------------------------------------------------------------------------


@bp.get("/plans")
def plans() -> Response:
    user = reader()
    cycle = request.args.get("cycle")
    if cycle is not None and not is_cycle(cycle):
        raise bad_request("plans.cycle", f"{cycle!r} is not a planning cycle (e.g. 2025/26).")
    district_code = request.args.get("district")
    session = db_session()
    out = []
    for plan in workflow.plans_for(session, user, cycle):
        district = session.get(OrgUnit, plan.district_id)
        assert district is not None
        if district_code is None or district.code == district_code:
            out.append(_summary(plan, district))
    return jsonify({"plans": out})


@bp.get("/plans/<int:plan_id>")
def plan(plan_id: int) -> Response:
    user = reader()
    plan, district = readable_plan(plan_id, user)
    session = db_session()
    versions = session.scalars(
        select(PlanVersion).where(PlanVersion.plan_id == plan.id).order_by(PlanVersion.number)
    )
    keys = {s.id: s.key for s in plan.sections}
    return jsonify(
        {
            **_summary(plan, district),
            "may_act": workflow.can_act(user, district),
            "sections": [_section_json(s) for s in plan.sections],
            "comments": [
                {
                    "id": c.id,
                    "section": keys.get(c.section_id) if c.section_id else None,
                    "author_id": c.author_id,
                    "body": c.body,
                    "created_at": c.created_at.isoformat(),
                }
                for c in workflow.comments(session, plan)
            ],
            "versions": [
                {
                    "number": v.number,
                    "approved_at": v.approved_at.isoformat(),
                    "url": url_for("plans_api.version", plan_id=plan.id, number=v.number),
                }
                for v in versions
            ],
        }
    )


@bp.get("/plans/<int:plan_id>/history")
def history(plan_id: int) -> Response:
    plan, _ = readable_plan(plan_id, reader())
    keys = {s.id: s.key for s in plan.sections}
    return jsonify(
        {
            "events": [
                {
                    "kind": e.kind,
                    "section": keys.get(e.section_id) if e.section_id else None,
                    "actor_id": e.actor_id,
                    "from": e.from_state,
                    "to": e.to_state,
                    "note": e.note,
                    "at": e.created_at.isoformat(),
                }
                for e in workflow.history(db_session(), plan)
            ]
        }
    )


@bp.get("/plans/<int:plan_id>/sections/<key>/changes")
def changes(plan_id: int, key: str) -> Response:
    plan, _ = readable_plan(plan_id, reader())
    section = _section(plan, key)
    since = request.args.get("since", "edit")
    if since == "edit":
        before, after = section.edit_base, section.generated_text
    elif since == "review":
        before, after = section.reviewed_text, section.text
    else:
        raise bad_request("plans.since", "since must be 'edit' or 'review'.")
    lines = workflow.diff_lines(before, after) if before is not None else []
    return jsonify({"since": since, "changed": any(k != "same" for k, _ in lines), "lines": lines})


# A version's number is an INTEGER column: beyond its range is no version at all.
@bp.get("/plans/<int:plan_id>/versions/<int(max=2147483647):number>")
def version(plan_id: int, number: int) -> Response:
    plan, _ = readable_plan(plan_id, reader())
    frozen = db_session().scalar(
        select(PlanVersion).where(PlanVersion.plan_id == plan.id, PlanVersion.number == number)
    )
    if frozen is None:
        raise not_found("plans.no_version", f"The plan has no approved version {number}.")
    return jsonify(
        {
            "number": frozen.number,
            "approved_at": frozen.approved_at.isoformat(),
            "approved_by_id": frozen.approved_by_id,
            **frozen.content,
        }
    )


# --- Changing ---------------------------------------------------------------------------------


@bp.put("/plans/<int:plan_id>/sections/<key>/text")
def edit(plan_id: int, key: str) -> Response:
    user = writer()
    plan, _ = changeable_plan(plan_id, user)
    text = json_body().get("text")
    if not isinstance(text, str):
        raise bad_request("plans.text", 'Send {"text": "..."} with the new narrative.')
    section = _section(plan, key)
    workflow.edit_section(db_session(), section, text, user)
    _commit()
    return jsonify(_section_json(section))


@bp.delete("/plans/<int:plan_id>/sections/<key>/text")
def revert(plan_id: int, key: str) -> Response:
    user = writer()
    plan, _ = changeable_plan(plan_id, user)
    section = _section(plan, key)
    workflow.revert_edit(db_session(), section, user)
    _commit()
    return jsonify(_section_json(section))


@bp.post("/plans/<int:plan_id>/sections/<key>/state")
def section_state(plan_id: int, key: str) -> Response:
    user = writer()
    plan, _ = changeable_plan(plan_id, user)
    body = json_body()
    section = _section(plan, key)
    workflow.change_section_state(
        db_session(), section, _state(body.get("state")), user, body.get("note")
    )
    _commit()
    return jsonify(_section_json(section))


@bp.post("/plans/<int:plan_id>/state")
def plan_state(plan_id: int) -> Response:
    user = writer()
    plan, district = changeable_plan(plan_id, user)
    body = json_body()
    frozen = workflow.change_plan_state(
        db_session(), plan, _state(body.get("state")), user, body.get("note")
    )
    _commit()
    out = _summary(plan, district)
    if frozen is not None:
        out["version"] = frozen.number
    return jsonify(out)


@bp.post("/plans/<int:plan_id>/comments")
def add_comment(plan_id: int) -> Response:
    user = writer()
    plan, _ = changeable_plan(plan_id, user)
    body = json_body()
    section = _section(plan, str(body["section"])) if body.get("section") else None
    note = workflow.comment(db_session(), plan, user, str(body.get("body") or ""), section)
    _commit()
    response = jsonify({"id": note.id, "body": note.body, "section": body.get("section")})
    response.status_code = 201
    return response
