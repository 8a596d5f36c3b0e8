"""Central's own unversioned form addresses under an app user's key:

    /v1/key/<token>/projects/1/forms/<xmlFormId>.xml               the current version's XForm
    /v1/key/<token>/projects/1/forms/<xmlFormId>/manifest          its manifest
    /v1/key/<token>/projects/1/forms/<xmlFormId>/attachments/<f>   one of its media files

Central's formList gives these; ours gives the versioned ones (what /formList gives, so a
phone downloads exactly the version whose hash it was shown), and both lead to the same
handlers of server/openrosa/forms.py for the form's current version, with the same answers.
Under /v1/projects/1 the same paths belong to the forms API (server/central/forms.py), so
they are registered under the key prefix only (server/central/key_routes.py).
"""

from __future__ import annotations

from flask import Response
from sqlalchemy import select

from server.app_state import db_session
from server.auth.http import require_user
from server.domain.problems import not_found
from server.models import Form, FormVersion
from server.openrosa import forms


def _current_version(xml_form_id: str) -> str:
    """The URL form of the version a phone gets by default; the caller authenticated first,
    so an unknown form is not told apart from a refused key."""
    require_user()
    version = db_session().scalar(
        select(FormVersion.version)
        .join(Form, Form.current_version_id == FormVersion.id)
        .where(Form.xml_form_id == xml_form_id)
    )
    if version is None:
        raise not_found("form.not_found", f"Form {xml_form_id!r} is not available on the server.")
    return forms.url_version(version)


def form_xml(xml_form_id: str) -> Response:
    return forms.form_xml(xml_form_id, _current_version(xml_form_id))


def manifest(xml_form_id: str) -> Response:
    return forms.manifest(xml_form_id, _current_version(xml_form_id))


def attachment(xml_form_id: str, filename: str) -> Response:
    return forms.media(xml_form_id, _current_version(xml_form_id), filename)
