"""Central's OData feed of a form, which Excel, Power BI, ruODK and pyodk read:

    GET /v1/projects/1/forms/{id}.svc                       the service document
    GET /v1/projects/1/forms/{id}.svc/$metadata             EDMX 4.0
    GET /v1/projects/1/forms/{id}.svc/Submissions           the top level of each submission
    GET /v1/projects/1/forms/{id}.svc/Submissions.household[.member]       a repeat's rows
    GET /v1/projects/1/forms/{id}.svc/Submissions('{instanceId}')[/household[('{rowId}')/member]]
    GET /v1/projects/1/forms/{id}/draft.svc[...]            the same for the form's draft

Query options: server/domain/odata/options.py; $filter: server/queries/odata_filter.py; what a
row holds: server/services/odata_rows.py; paging, order and indexes: server/queries/odata_feed.py.

Who reads a feed: admins all submissions; coordinators those of their districts; sub-county
staff those of their sub-counties (the submission's org unit under their scope, as the exports
and the submission pages); enumerators nothing (403, as Central's data collectors). A form that
does not exist, or was never published (for draft.svc: has no draft), is 404 for anyone signed
in; a submission outside the caller's scope is 404 (Central does not reveal it), like one that
does not exist.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from flask import Blueprint, Response, request

from server.app_state import db_session
from server.central.auth import require_actor
from server.domain.odata.edmx import metadata_document, service_document
from server.domain.odata.model import ROOT
from server.domain.odata.options import parse_options
from server.domain.problems import Problem
from server.domain.roles import Role
from server.models import User
from server.queries.odata_feed import current_row_of
from server.services.odata_feed import Feed, Page, not_found, open_feed, read_table

READERS = (Role.admin, Role.coordinator, Role.subcounty_staff)
FORM = "/projects/<int:project_id>/forms/<xml_form_id>"
JSON_TYPE = "application/json; charset=utf-8; odata.metadata=minimal"
# One segment of a resource path: a name and, maybe, a key in quotes ('' is a quote).
_SEGMENT = re.compile(r"^([^(')]+)(?:\('((?:[^']|'')*)'\))?$")


def register(bp: Blueprint) -> None:
    for suffix, draft in ((".svc", False), ("/draft.svc", True)):
        kind = "draft" if draft else "published"
        defaults = {"draft": draft}
        bp.add_url_rule(
            f"{FORM}{suffix}", f"odata_{kind}_service", service, methods=["GET"], defaults=defaults
        )
        bp.add_url_rule(
            f"{FORM}{suffix}/$metadata",
            f"odata_{kind}_metadata",
            metadata,
            methods=["GET"],
            defaults=defaults,
        )
        bp.add_url_rule(
            f"{FORM}{suffix}/<path:resource>",
            f"odata_{kind}_resource",
            resource,
            methods=["GET"],
            defaults=defaults,
        )


def _feed(xml_form_id: str, draft: bool) -> tuple[User, Feed]:
    actor = require_actor()
    feed = open_feed(db_session(), xml_form_id, actor.scope.areas, draft=draft)
    if actor.role not in READERS:
        raise Problem(
            403,
            "central.forbidden",
            "The authenticated actor does not have rights to perform that action: "
            "enumerators do not read submissions.",
        )
    return actor, feed


def _service_root(feed: Feed) -> str:
    base = request.host_url.rstrip("/") + request.script_root
    suffix = "/draft.svc" if feed.draft else ".svc"
    return f"{base}/v1/projects/1/forms/{quote(feed.xml_form_id, safe='')}{suffix}"


def _json(body: Any) -> Response:
    # orjson writes a 1,000-row page in a fifth of the json module's time.
    response = Response(orjson.dumps(body), content_type=JSON_TYPE)
    response.headers["OData-Version"] = "4.0"
    return response


def service(xml_form_id: str, draft: bool) -> Response:
    _, feed = _feed(xml_form_id, draft)
    return _json(service_document(feed.model, f"{_service_root(feed)}/$metadata"))


def metadata(xml_form_id: str, draft: bool) -> Response:
    _, feed = _feed(xml_form_id, draft)
    response = Response(metadata_document(feed.model), content_type="application/xml")
    response.headers["OData-Version"] = "4.0"
    return response


def _parse_path(resource: str) -> tuple[str, str | None, str | None]:
    """(table name, the submission's key, the parent row's key) of a resource path."""
    segments = resource.split("/")
    parsed: list[tuple[str, str | None]] = []
    for segment in segments:
        match = _SEGMENT.match(segment)
        if match is None:
            raise not_found()
        key = match.group(2)
        parsed.append((match.group(1), key.replace("''", "'") if key is not None else None))
    first, submission_key = parsed[0]
    if len(parsed) == 1:
        return first, submission_key, None
    if submission_key is None or first != ROOT or parsed[-1][1] is not None:
        raise not_found()
    # The row just above the table narrows it; a key further up adds nothing to that.
    parent_key = parsed[-2][1] if len(parsed) > 2 else None
    return ".".join(name for name, _ in parsed), submission_key, parent_key


def resource(xml_form_id: str, draft: bool, resource: str) -> Response:
    _, feed = _feed(xml_form_id, draft)
    table_name, submission_key, parent_key = _parse_path(resource)
    options = parse_options(request.args.to_dict(flat=True))
    session = db_session()
    submission_id = None
    if submission_key is not None:
        if "\x00" in submission_key or len(submission_key) > 255:
            raise not_found()
        submission_id = current_row_of(session, feed.form_id, submission_key)
        if submission_id is None:
            raise not_found()
    page = read_table(
        session,
        feed,
        table_name,
        options,
        submission_id=submission_id,
        parent_id=parent_key,
    )
    return _json(_page_body(feed, table_name, page))


def _page_body(feed: Feed, table_name: str, page: Page) -> dict[str, Any]:
    body: dict[str, Any] = {
        "value": page.value,
        "@odata.context": f"{_service_root(feed)}/$metadata#{table_name}",
    }
    if page.next_token is not None:
        body["@odata.nextLink"] = _next_link(page.next_token)
    if page.count is not None:
        body["@odata.count"] = page.count
    return body


def _next_link(token: str) -> str:
    """This request's URL with the next page's $skiptoken instead of $skip (Central's)."""
    pairs = [
        (name, value)
        for name, value in request.args.items(multi=True)
        if name not in ("$skip", "$skiptoken")
    ]
    pairs.append(("$skiptoken", token))
    path = quote(request.script_root + request.path, safe="/:@!$&'()*+,;=")
    return f"{request.host_url.rstrip('/')}{path}?{urlencode(pairs)}"
