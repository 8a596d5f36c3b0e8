"""The per-process form-version cache: fast, and a closed form is refused within its TTL."""

from __future__ import annotations

from server.models.forms import VersionState
from server.openrosa.deps import form_cache
from server.openrosa.form_cache import FormCache
from tests.fixtures.openrosa import add_user, basic, form_data, instance, new_instance_id, publish


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_closing_a_version_is_seen_after_the_ttl(db) -> None:  # type: ignore[no-untyped-def]
    _, version = publish(db, "school", "1")
    clock = Clock()
    cache = FormCache(ttl=5, clock=clock)
    first = cache.get(lambda: db, "school", "1")
    assert first is not None and first.version_state is VersionState.open
    assert first.location_fields == {"district": "/data/district", "subcounty": "/data/subcounty"}
    version.state = VersionState.closed
    db.commit()
    clock.now = 4.9
    # Within the TTL the remembered answer holds.
    assert cache.get(lambda: db, "school", "1") is first
    clock.now = 5.1
    assert cache.get(lambda: db, "school", "1").version_state is VersionState.closed


def test_unknown_versions_are_not_remembered(db) -> None:  # type: ignore[no-untyped-def]
    cache = FormCache(ttl=5, clock=Clock())
    assert cache.get(lambda: db, "school", "1") is None
    publish(db, "school", "1")
    assert cache.get(lambda: db, "school", "1").version_id is not None  # published a moment ago
    assert cache.get(lambda: db, "school", "2").version_id is None
    publish(db, "school", "2")
    assert cache.get(lambda: db, "school", "2").version_id is not None


def test_receiver_refuses_a_closed_version_once_the_cache_forgets(app, client, db) -> None:  # type: ignore[no-untyped-def]
    _, version = publish(db, "school", "2024010101")
    add_user(db, "admin", "admin")

    def send() -> int:
        return client.post(
            "/submission",
            data=form_data(instance(new_instance_id(), district=None, subcounty=None)),
            headers=basic("admin"),
            content_type="multipart/form-data",
        ).status_code

    assert send() == 201
    version.state = VersionState.closed
    db.commit()
    with app.app_context():
        form_cache().clear()  # what the TTL does after 5 seconds
    assert send() == 403
