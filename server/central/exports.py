"""Central's export URLs: a form's submissions as a CSV zip or the top-level CSV, streamed.

    GET|POST /v1/projects/1/forms/{xmlFormId}/submissions.csv.zip
        [?attachments=false&groupPaths=false&deletedFields=true&splitSelectMultiples=true]
    GET|POST /v1/projects/1/forms/{xmlFormId}/submissions.csv   (the same options but attachments)
    GET      /v1/projects/1/forms/{xmlFormId}/submissions/keys  (encryption keys: none here)

The files are Central's (server/exports/central_csv.py says how they are laid out and made).
POST is Central's way to send passphrases of encrypted forms in the body; no form is encrypted
here, so the body is not read and POST answers as GET (ruODK's submission_export posts). The
options are read from the query string either way, as Central reads them; an option that is
not true or false is a 400 (Central quietly takes its default, which hides a typo in a script
behind a file with other columns). `$filter` is answered 501: the OData feed is where to filter.

GET works from a script, curl or Excel's "From Web" with Basic auth: a request without
credentials gets Central's 401 with a Basic challenge (server/central/errors.py), which is what
makes Excel and curl's --anyauth ask for the password.

Who may export: admins all submissions; coordinators those of their districts; sub-county staff
those of their sub-counties (as the web export); enumerators nothing (403, as Central's data
collectors). An unknown form, or one never published, is 404 for anyone signed in.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, request
from sqlalchemy import select

from server.app_state import db_session, state
from server.central.auth import require_actor
from server.central.render import json_response
from server.domain.problems import Problem
from server.domain.roles import Role
from server.exports import central_csv
from server.exports.csv_xlsx import safe_name
from server.models import AuditEvent, Form, User
from server.queries.submission_filters import SubmissionFilter
from server.storage.blobs import BlobStore

EXPORTERS = (Role.admin, Role.coordinator, Role.subcounty_staff)
FORM = "/projects/<int:project_id>/forms/<xml_form_id>/submissions"


def register(bp: Blueprint) -> None:
    bp.add_url_rule(f"{FORM}.csv.zip", "export_zip", export_zip, methods=["GET", "POST"])
    bp.add_url_rule(f"{FORM}.csv", "export_csv", export_csv, methods=["GET", "POST"])
    bp.add_url_rule(f"{FORM}/keys", "submission_keys", submission_keys, methods=["GET"])


def _flag(name: str, default: bool) -> bool:
    raw = request.args.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value in ("true", "false"):
        return value == "true"
    raise Problem(
        400,
        "central.unexpected_value",
        f"Unexpected {name} value {raw!r}; expected true or false.",
        {"field": name, "value": raw, "reason": "expected true or false"},
    )


def _exportable_form(xml_form_id: str) -> tuple[User, Form]:
    """The caller and the form, if it exists, was published and the caller may export."""
    actor = require_actor()
    session = db_session()
    form = session.scalar(select(Form).where(Form.xml_form_id == xml_form_id))
    if form is None or not central_csv.published_versions(session, form.id):
        raise Problem(404, "central.not_found", "Could not find the resource you were looking for.")
    if actor.role not in EXPORTERS:
        raise Problem(
            403,
            "central.forbidden",
            "The authenticated actor does not have rights to perform that action: "
            "enumerators do not export submissions.",
        )
    return actor, form


def _request(xml_form_id: str, zipped: bool) -> tuple[Form, central_csv.CentralExport]:
    actor, form = _exportable_form(xml_form_id)
    export = central_csv.CentralExport(
        form_id=form.id,
        filters=SubmissionFilter(form_id=form.id, scope_paths=actor.scope.areas),
        attachments=zipped and _flag("attachments", True),
        group_paths=_flag("groupPaths", True),
        deleted_fields=_flag("deletedFields", False),
        split_select_multiples=_flag("splitSelectMultiples", False),
    )
    if "$filter" in request.args:
        raise Problem(
            501,
            "central.filter_unsupported",
            "The requested feature $filter on export URLs is not supported by this server; "
            "filter through the OData feed, or export everything and filter the file.",
            {"feature": "$filter"},
        )
    if request.method != "HEAD":
        # Central audits every export; a person asking what left the server finds it here.
        session = db_session()
        session.add(
            AuditEvent(
                actor_id=actor.id,
                action="form.submission.export",
                target_type="form",
                target_id=form.xml_form_id,
                details={
                    "format": "csv.zip" if zipped else "csv",
                    "attachments": export.attachments,
                    "scope": list(actor.scope.areas) if actor.scope.areas is not None else None,
                },
            )
        )
        session.commit()
    return form, export


def _download(body: object, content_type: str, filename: str) -> Response:
    response = Response(body, content_type=content_type, direct_passthrough=True)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}"
    )
    # The file is made as it is sent: a proxy that buffered it would hold the client back.
    response.headers["X-Accel-Buffering"] = "no"
    response.headers["Cache-Control"] = "no-store"
    return response


def export_zip(xml_form_id: str) -> Response:
    form, export = _request(xml_form_id, zipped=True)
    app = state()
    blobs = BlobStore(app.settings.attachments_dir)
    stem = safe_name(form.xml_form_id)
    name = f"{stem}.zip" if export.attachments else f"{stem}.csv.zip"
    return _download(central_csv.stream_zip(app.db, export, blobs), "application/zip", name)


def export_csv(xml_form_id: str) -> Response:
    form, export = _request(xml_form_id, zipped=False)
    stream = central_csv.stream_csv(state().db, export)
    return _download(stream, "text/csv; charset=utf-8", f"{safe_name(form.xml_form_id)}.csv")


def submission_keys(xml_form_id: str) -> Response:
    """Central's encryption keys of a form's submissions: none, as no form is encrypted here
    (ruODK asks before every export)."""
    _exportable_form(xml_form_id)
    return json_response([])
