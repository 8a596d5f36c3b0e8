"""The embedded mode runs the same receiver on SQLite: new, resent, split and edited
submissions, and a conflicting resend, end to end through the app."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from server.models import Submission
from tests.fixtures.openrosa import add_user, basic, form_data, instance, new_instance_id, publish


@pytest.fixture
def embedded(sqlite_settings):  # type: ignore[no-untyped-def]
    from server.app import create_app

    app = create_app(sqlite_settings)
    app.config["TESTING"] = True
    session = app.extensions["dmip"].db.sessionmaker()
    publish(session, "school", "2024010101")
    add_user(session, "admin", "admin")
    yield app, session
    session.close()
    app.extensions["dmip"].db.dispose()


def test_receiver_on_sqlite(embedded) -> None:  # type: ignore[no-untyped-def]
    app, session = embedded
    client = app.test_client()

    def post(xml: bytes, files=None, incomplete=False):  # type: ignore[no-untyped-def]
        return client.post(
            "/submission",
            data=form_data(xml, files, incomplete),
            headers=basic("admin"),
            content_type="multipart/form-data",
        ).status_code

    iid = new_instance_id()
    xml = instance(iid, district=None, subcounty=None)
    assert post(xml, {"a.jpg": b"a"}, incomplete=True) == 201
    assert post(xml, {"b.jpg": b"b"}) == 201
    assert post(xml, {"a.jpg": b"a"}, incomplete=True) == 201
    assert post(instance(iid, pupils=1, district=None, subcounty=None)) == 409
    edit_id = new_instance_id()
    edit = instance(edit_id, pupils=3, deprecated_id=iid, district=None, subcounty=None)
    assert post(edit) == 201
    session.expire_all()
    rows = {r.instance_id: r for r in session.scalars(select(Submission))}
    assert set(rows) == {iid, edit_id}
    assert not rows[iid].incomplete and not rows[iid].current
    assert rows[edit_id].supersedes_id == rows[iid].id
    assert sorted(a.name for a in rows[edit_id].attachments) == ["a.jpg", "b.jpg"]
