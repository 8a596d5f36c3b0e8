"""Central's drafts on the services `dmip forms publish` and the admin page use: a draft may
share its version with the published form until it is published under a new one, and opening a
draft (from either side) needs a version of its own and every media file."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.db import Database
from server.domain.roles import Role
from server.models import Form, FormVersion, User
from server.models.forms import VersionState
from server.services.draft_media import put_draft_media
from server.services.form_definitions import Definition, compile_definition
from server.services.form_drafts import create_draft, create_form, publish_draft
from server.services.form_states import MediaMissing, VersionTaken, open_version
from server.services.forms import PublishError, publish_xlsform
from server.services.users import create_user
from server.settings import Settings
from server.storage.blobs import BlobStore
from tests.fixtures.xlsforms.build import logo_form, simple_form


@pytest.fixture
def session(settings: Settings) -> Iterator[Session]:
    database = Database(settings.database_url)
    s = database.sessionmaker()
    yield s
    s.close()
    database.dispose()


@pytest.fixture
def blobs(settings: Settings) -> BlobStore:
    return BlobStore(settings.attachments_dir)


@pytest.fixture
def admin(session: Session, settings: Settings) -> User:
    user = create_user(session, "ada", "ada-password-1", Role.admin, settings.auth_realm)
    session.commit()
    return user


def _states(session: Session) -> list[tuple[str, VersionState]]:
    return [(v.version, v.state) for v in session.scalars(select(FormVersion).order_by("id"))]


def test_a_copied_draft_shares_the_version_until_published_under_a_new_one(
    session: Session, blobs: BlobStore, admin: User
) -> None:
    publish_xlsform(session, blobs, simple_form(version="1"), "school_visit.xlsx")
    form = session.scalars(select(Form)).one()
    draft = create_draft(session, blobs, form, None, admin)
    assert _states(session) == [("1", VersionState.open), ("1", VersionState.draft)]

    with pytest.raises(VersionTaken):
        open_version(session, blobs, draft, admin)
    # The CLI's and the admin page's rules are the published version's, whatever the draft.
    assert publish_xlsform(session, blobs, simple_form(version="1"), "x.xlsx").status == (
        "unchanged"
    )
    changed = simple_form(version="1", title="Changed")
    with pytest.raises(PublishError, match="must carry a new version"):
        publish_xlsform(session, blobs, changed, "school_visit.xlsx", draft=True)

    published = publish_draft(session, blobs, form, "2", admin)
    assert b'version="2"' in published.xform
    assert _states(session) == [("1", VersionState.closing), ("2", VersionState.open)]
    assert form.current_version_id == published.id


def test_a_draft_needs_every_media_file_to_open(
    session: Session, blobs: BlobStore, admin: User
) -> None:
    compiled = compile_definition(Definition(logo_form("with_logo", "1"), "xlsx"))
    with pytest.raises(MediaMissing) as missing:
        create_form(session, blobs, compiled, admin, publish=True)
    assert missing.value.missing == ["logo.png"]
    session.rollback()
    draft = create_form(session, blobs, compiled, admin)
    form = session.scalars(select(Form)).one()
    put_draft_media(session, blobs, form, "logo.png", [b"\x89PNG", b"..."], None, admin)
    open_version(session, blobs, draft, admin)
    assert _states(session) == [("1", VersionState.open)]
    assert [(m.filename, m.content_type, m.size) for m in draft.media] == [
        ("logo.png", "image/png", 7)
    ]
