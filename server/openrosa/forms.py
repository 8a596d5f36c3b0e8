"""Form discovery and download: formList, form.xml, manifest and media files."""

from __future__ import annotations

from flask import Response, request, send_file, url_for
from sqlalchemy import select
from sqlalchemy.orm import defer

from server.app_state import db_session
from server.auth.form_access import can_fill, fillable
from server.auth.http import require_user
from server.domain.problems import forbidden, not_found
from server.models import Form, FormVersion, MediaFile
from server.models.forms import VersionState
from server.openrosa import xml_documents
from server.openrosa.deps import blob_store
from server.openrosa.responses import XML_MIMETYPE, xml_response

# A version string may be empty, which cannot be a URL path segment; this stands in for it.
EMPTY_VERSION = "___"
# Versions Collect may download: open ones, and closing ones phones may still be using.
DOWNLOADABLE = (VersionState.open, VersionState.closing)


def url_version(version: str) -> str:
    return version or EMPTY_VERSION


def _endpoint(name: str) -> str:
    """OpenRosa's endpoint `name` ("form_xml", "manifest", "media") beside the one answering:
    the same handlers serve other prefixes too (Central's /v1/key/<token>/projects/1/...), each
    blueprint naming its endpoints "<prefix kind>_<name>", and the URLs a formList or manifest
    gives out stay under the prefix the phone asked on."""
    blueprint = request.blueprint
    if blueprint == "openrosa" or blueprint is None or request.endpoint is None:
        return f"openrosa.{name}"
    kind = request.endpoint.split(".", 1)[1].split("_", 1)[0]
    return f"{blueprint}.{kind}_{name}"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"true", "1", "yes"}


def form_list() -> Response:
    user = require_user()
    session = db_session()
    query = (
        select(Form)
        .join(FormVersion, Form.current_version_id == FormVersion.id)
        .where(FormVersion.state == VersionState.open)
        .order_by(Form.xml_form_id)
    )
    form_id = request.args.get("formID")
    if form_id:
        query = query.where(Form.xml_form_id == form_id)
    forms = fillable(user, session.scalars(query).all(), session)
    if not forms:
        return xml_response(xml_documents.form_list([]))

    columns = select(
        FormVersion.id,
        FormVersion.form_id,
        FormVersion.version,
        FormVersion.title,
        FormVersion.md5,
    )
    if _truthy(request.args.get("listAllVersions")):
        columns = columns.where(
            FormVersion.form_id.in_([f.id for f in forms]), FormVersion.state.in_(DOWNLOADABLE)
        ).order_by(FormVersion.form_id, FormVersion.id.desc())
    else:
        columns = columns.where(FormVersion.id.in_([f.current_version_id for f in forms]))
    versions = session.execute(columns).all()
    with_media = set(
        session.scalars(
            select(MediaFile.form_version_id)
            .where(MediaFile.form_version_id.in_([v.id for v in versions]))
            .distinct()
        )
    )
    xml_ids = {f.id: f.xml_form_id for f in forms}
    verbose = _truthy(request.args.get("verbose"))
    entries = []
    for version in sorted(versions, key=lambda v: (xml_ids[v.form_id], -v.id)):
        xml_form_id = xml_ids[version.form_id]
        at = {"xml_form_id": xml_form_id, "version": url_version(version.version)}
        entries.append(
            xml_documents.FormListEntry(
                form_id=xml_form_id,
                name=version.title,
                version=version.version,
                md5=version.md5,
                download_url=url_for(_endpoint("form_xml"), _external=True, **at),
                manifest_url=(
                    url_for(_endpoint("manifest"), _external=True, **at)
                    if version.id in with_media
                    else None
                ),
                description=version.title if verbose else None,
            )
        )
    return xml_response(xml_documents.form_list(entries))


def _fillable_version(xml_form_id: str, version: str) -> FormVersion:
    user = require_user()
    session = db_session()
    if version == EMPTY_VERSION:
        version = ""
    found = session.execute(
        select(Form, FormVersion)
        .join(FormVersion, FormVersion.form_id == Form.id)
        .where(Form.xml_form_id == xml_form_id, FormVersion.version == version)
        .options(defer(FormVersion.xlsform))
        # A draft may share its version with a published one; the published one is served.
        .order_by(FormVersion.state == VersionState.draft)
    ).first()
    if found is None or found[1].state not in DOWNLOADABLE:
        raise not_found(
            "form.not_found",
            f"Form {xml_form_id!r} version {version!r} is not available on the server.",
        )
    form, form_version = found
    if not can_fill(user, form, session):
        raise forbidden("form.forbidden", f"You may not fill in form {xml_form_id!r}.")
    return form_version


def form_xml(xml_form_id: str, version: str) -> Response:
    form_version = _fillable_version(xml_form_id, version)
    response = Response(form_version.xform, content_type=XML_MIMETYPE)
    response.set_etag(form_version.md5)
    return response.make_conditional(request)


def manifest(xml_form_id: str, version: str) -> Response:
    form_version = _fillable_version(xml_form_id, version)
    at = {"xml_form_id": xml_form_id, "version": url_version(form_version.version)}
    entries = [
        xml_documents.ManifestEntry(
            filename=media.filename,
            md5=media.md5,
            download_url=url_for(_endpoint("media"), filename=media.filename, _external=True, **at),
        )
        for media in form_version.media
    ]
    return xml_response(xml_documents.manifest(entries))


def media(xml_form_id: str, version: str, filename: str) -> Response:
    form_version = _fillable_version(xml_form_id, version)
    found = next((m for m in form_version.media if m.filename == filename), None)
    if found is None or not blob_store().exists(found.sha256):
        raise not_found("form.media_not_found", f"The form has no media file named {filename!r}.")
    return send_file(
        blob_store().path(found.sha256),
        mimetype=found.content_type,
        download_name=found.filename,
        etag=found.md5,
        conditional=True,
        max_age=0,
    )
