"""Form pages: upload with problems by sheet and row, drafts, opening, versions, media, closing."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.domain.roles import Role
from server.models import Form, FormVersion, MediaFile
from server.models.forms import VersionState
from server.services.users import create_user
from server.settings import Settings
from tests.fixtures.xlsforms.build import logo_form, simple_form, xlsform
from tests.web_client import csrf_token, sign_in

PASSWORD = "password-123"

BROKEN = xlsform(
    [("type", "name", "label"), ("integer", "age", "Age"), ("integer", "age", "Again")],
    settings=[["form_id", "version"], ["school_visit", "1"]],
)


@pytest.fixture
def admin(app: Flask, db: Session, settings: Settings) -> FlaskClient:
    create_user(db, "admin", PASSWORD, Role.admin, settings.auth_realm)
    db.commit()
    client = app.test_client()
    assert sign_in(client, "admin", PASSWORD).status_code == 302
    return client


def upload(client: FlaskClient, data: bytes, name: str = "school.xlsx", **media: bytes):  # type: ignore[no-untyped-def]
    fields: dict[str, object] = {
        "csrf_token": csrf_token(client, "/"),
        "xlsform": (io.BytesIO(data), name),
    }
    if media:
        fields["media"] = [(io.BytesIO(content), filename) for filename, content in media.items()]
    return client.post("/admin/forms/upload", data=fields)


def test_broken_form_shows_problems_by_sheet_and_row_and_stores_nothing(
    admin: FlaskClient, db: Session
) -> None:
    response = upload(admin, BROKEN)
    assert response.status_code == 422
    page = response.text
    assert "school.xlsx was not stored: 1 problem to fix" in page
    assert "<td>survey</td>" in page and "<td>3</td>" in page
    assert "&#39;age&#39; is invalid" in page
    assert db.scalar(select(func.count()).select_from(Form)) == 0


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"not a spreadsheet", "school.xlsx", "could not be read as an XLSForm"),
        (simple_form(), "school.docx", "is not an XLSForm file"),
        (logo_form(), "logo.xlsx", "uses the media file logo.png, which was not supplied"),
    ],
)
def test_unusable_uploads_are_explained(
    admin: FlaskClient, db: Session, data: bytes, name: str, message: str
) -> None:
    response = upload(admin, data, name)
    assert response.status_code == 422 and message in response.text
    assert db.scalar(select(func.count()).select_from(FormVersion)) == 0


def test_missing_file_is_a_400(admin: FlaskClient) -> None:
    response = admin.post("/admin/forms/upload", data={"csrf_token": csrf_token(admin, "/")})
    assert response.status_code == 400 and "Choose an XLSForm file" in response.text


def test_fixed_form_becomes_a_draft_then_opens_then_closes(admin: FlaskClient, db: Session) -> None:
    assert upload(admin, BROKEN).status_code == 422
    stored = upload(admin, simple_form(version="1"))
    assert stored.status_code == 302
    form = db.scalar(select(Form))
    assert form is not None and form.current_version_id is None
    detail = admin.get(stored.location).text
    assert "stored as a draft" in detail and "state-draft" in detail
    # A draft is not offered to Collect.
    assert b"school_visit" not in admin.get("/formList").data
    [version] = form.versions
    opened = admin.post(
        f"/admin/forms/{form.id}/versions/{version.id}/open",
        data={"csrf_token": csrf_token(admin, "/")},
    )
    assert opened.status_code == 302
    db.expire_all()
    version = db.get(FormVersion, version.id)
    assert version is not None and version.state is VersionState.open
    assert version.published_at is not None
    assert b"school_visit" in admin.get("/formList").data
    again = admin.post(
        f"/admin/forms/{form.id}/versions/{version.id}/open",
        data={"csrf_token": csrf_token(admin, "/")},
    )
    assert again.status_code == 409 and "only a draft can be opened" in again.text

    # Version 2 as a draft leaves version 1 open; opening it turns version 1 "closing".
    assert upload(admin, simple_form(version="2")).status_code == 302
    db.expire_all()
    states = {v.version: v.state for v in db.scalars(select(FormVersion))}
    assert states == {"1": VersionState.open, "2": VersionState.draft}
    draft_id = db.scalar(select(FormVersion.id).where(FormVersion.version == "2"))
    admin.post(
        f"/admin/forms/{form.id}/versions/{draft_id}/open",
        data={"csrf_token": csrf_token(admin, "/")},
    )
    db.expire_all()
    states = {v.version: v.state for v in db.scalars(select(FormVersion))}
    assert states == {"1": VersionState.closing, "2": VersionState.open}

    closed = admin.post(
        f"/admin/forms/{form.id}/close", data={"csrf_token": csrf_token(admin, "/")}
    )
    assert closed.status_code == 302
    db.expire_all()
    states = {v.version: v.state for v in db.scalars(select(FormVersion))}
    assert states == {"1": VersionState.closed, "2": VersionState.closed}
    assert b"school_visit" not in admin.get("/formList").data
    twice = admin.post(f"/admin/forms/{form.id}/close", data={"csrf_token": csrf_token(admin, "/")})
    assert twice.status_code == 409 and "no open version" in twice.text


def test_a_draft_can_be_replaced_with_the_same_version(admin: FlaskClient, db: Session) -> None:
    assert upload(admin, logo_form(), "logo.xlsx", **{"logo.png": b"old"}).status_code == 302
    changed = logo_form()  # same version, new image: no phone has the draft yet
    assert upload(admin, changed, "logo.xlsx", **{"logo.png": b"new image"}).status_code == 302
    [media] = db.scalars(select(MediaFile)).all()
    assert media.size == len(b"new image")
    form = db.scalar(select(Form))
    assert form is not None
    version = form.versions[0]
    page = admin.get(f"/admin/forms/{form.id}").text
    assert "logo.png" in page
    download = admin.get(f"/admin/forms/{form.id}/versions/{version.id}/media/logo.png")
    assert download.status_code == 200 and download.data == b"new image"
    download.close()  # the response streams the stored file
    xls = admin.get(f"/admin/forms/{form.id}/versions/{version.id}/xlsform")
    assert xls.data == changed
    assert (
        admin.get(f"/admin/forms/{form.id}/versions/{version.id}/media/nope.png").status_code == 404
    )
    assert admin.get(f"/admin/forms/{form.id}/versions/99999/xlsform").status_code == 404


def test_warnings_are_shown_after_storing(admin: FlaskClient) -> None:
    warned = xlsform(
        [("type", "name", "label"), ("select_one yn", "q", "Q?")],
        choices=[("list_name", "name", "label"), ("yn", "yes", ""), ("yn", "no", "No")],
        settings=[["form_id", "version"], ["warned", "1"]],
    )
    response = upload(admin, warned, "warned.xlsx")
    assert response.status_code == 302
    page = admin.get(response.location).text
    assert "Warning, sheet &#39;choices&#39; row 2" in page


def test_forms_list_shows_open_version_and_drafts(admin: FlaskClient) -> None:
    upload(admin, simple_form(version="1"))
    page = admin.get("/admin/forms").text
    assert "School visit" in page and "1 draft" in page


def test_corrected_media_reaches_an_open_version(admin: FlaskClient, db: Session) -> None:
    """The same XLSForm with a corrected image updates the open version's media in place."""
    assert upload(admin, logo_form(), "logo.xlsx", **{"logo.png": b"old"}).status_code == 302
    form = db.scalar(select(Form))
    assert form is not None
    version_id = form.versions[0].id
    token = csrf_token(admin, "/")
    admin.post(f"/admin/forms/{form.id}/versions/{version_id}/open", data={"csrf_token": token})
    response = upload(admin, logo_form(), "logo.xlsx", **{"logo.png": b"fixed"})
    assert response.status_code == 302
    assert "media files updated: logo.png" in admin.get(response.location).text
    db.expire_all()
    [version] = db.scalars(select(FormVersion)).all()
    assert version.state is VersionState.open
    assert [m.size for m in version.media] == [len(b"fixed")]
