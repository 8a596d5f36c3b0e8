"""A form version's files as Central serves them: the XForm, the XLSForm it was compiled from
(404 for a form made from XML, or asked with the other spreadsheet suffix), the list of its
media files and each file."""

from __future__ import annotations

import io
from pathlib import PurePath

from flask import Response, request, send_file

from server.app_state import state
from server.central.form_access import FormView, not_found
from server.central.form_json import EXCEL_TYPES, attachments_json
from server.central.render import json_response
from server.models import FormVersion
from server.storage.blobs import BlobStore


def blob_store() -> BlobStore:
    return BlobStore(state().settings.attachments_dir)


def xml_download(version: FormVersion) -> Response:
    response = Response(version.xform, content_type="application/xml; charset=utf-8")
    response.set_etag(version.md5)
    return response.make_conditional(request)


def xls_download(view: FormView, version: FormVersion, suffix: str) -> Response:
    filename = version.xlsform_filename
    if filename is None or PurePath(filename).suffix.lower() != suffix or version.xlsform is None:
        raise not_found()
    return send_file(
        io.BytesIO(version.xlsform),
        mimetype=EXCEL_TYPES[suffix],
        as_attachment=True,
        download_name=f"{view.form.xml_form_id}{suffix}",
    )


def attachments_response(version: FormVersion) -> Response:
    return json_response(attachments_json(version))


def attachment_download(version: FormVersion, name: str, blobs: BlobStore) -> Response:
    media = next((m for m in version.media if m.filename == name), None)
    if media is None or not blobs.exists(media.sha256):
        raise not_found()
    return send_file(
        blobs.path(media.sha256),
        mimetype=media.content_type,
        as_attachment=True,
        download_name=media.filename,
        etag=media.md5,
        conditional=True,
        max_age=0,
    )
